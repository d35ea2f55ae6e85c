"""Rules of pruning (callbacks/memory.py) and the rolling digest (callbacks/digest.py) that the
mutation run (scripts/mutation.sh pruning) found unpinned: sentence ends, item heads, the digest's
lines and their order, "(as step N)" repeats, the fold horizon's boundary, what is kept and what
leaves the prompt. Real smolagents step objects, a real RunContext on SQLite; every expectation is
built from the inputs."""

from __future__ import annotations

import json

import pytest
from smolagents.memory import ActionStep, TaskStep, ToolCall
from smolagents.models import MessageRole
from smolagents.utils import AgentToolExecutionError

from agents.base import quiet_logger
from callbacks import memory as memory_module
from callbacks.digest import (
    MARK as DIGEST_MARK,
    NO_CALL,
    DigestStep,
    FoldedStep,
    digest_span,
    digest_text,
    fold,
    fold_view,
    headline_facts,
    parse_digest,
    unfolded_tokens,
)
from callbacks.memory import (
    MARK,
    MIN_SENTENCE,
    PLACEHOLDER,
    MemoryPruningCallback,
    PlaceholderPruningCallback,
    PruningState,
    _head,
    first_sentence,
    is_pruned,
    plans_with_steps,
    summarize,
    summarize_plan,
)
from callbacks.tokens import count_tokens, message_text, render_messages
from tests.unit.test_callbacks import action, agent_ctx, group, planning  # noqa: F401 - fixtures


# --- first_sentence and item heads -------------------------------------------------------------


def test_a_sentence_end_counts_from_min_sentence_characters_on():
    # A "." whose sentence is exactly MIN_SENTENCE characters long ends it; one character earlier
    # it does not.
    at_min = "a" * (MIN_SENTENCE - 1) + "."
    assert first_sentence(at_min + " Rest of it.") == at_min
    too_early = "a" * (MIN_SENTENCE - 2) + "."
    rest = " The sentence goes on here. Then more."
    assert first_sentence(too_early + rest) == too_early + " The sentence goes on here."
    # "!" and "?" end a sentence too, and an end at the very end of the text counts.
    assert first_sentence("Is this the twenty first char? yes") == "Is this the twenty first char?"
    assert first_sentence("Twenty characters and more!") == "Twenty characters and more!"
    # Surrounding whitespace goes.
    assert first_sentence("   padded text without an end   ") == "padded text without an end"


def test_a_long_sentence_is_cut_to_the_limit_with_an_ellipsis():
    text = "x" * 40
    assert first_sentence(text, limit=40) == text  # at the limit: whole
    cut = first_sentence(text + "y", limit=40)
    assert cut == "x" * 39 + "…" and len(cut) == 40
    spaced = "word " * 20  # the cut drops trailing spaces before the ellipsis
    cut = first_sentence(spaced, limit=12)
    assert cut == spaced.strip()[:11].rstrip() + "…"
    assert first_sentence("z" * (memory_module.SENTENCE_CHARS + 5)) == "z" * (memory_module.SENTENCE_CHARS - 1) + "…"


def test_an_item_head_keeps_its_marker_and_cuts_at_a_word():
    marker = "2. (0.82) "
    short = "Postmortems work when blameless."
    assert _head(marker + short + " Then more text here.", 40) == marker + short
    body = "Postmortems work when they name the systems, not the people who were on call"
    limit = 30
    expected = body[:limit].rsplit(" ", 1)[0].rstrip(" ,;:") + "…"
    assert _head(marker + body, limit) == marker + expected
    assert _head("- " + body, limit) == "- " + expected
    # A comma before the cut goes with it; a body with no space in the limit is cut mid-word.
    comma = "alpha, beta, gamma, delta, epsilon, zeta, eta, theta"
    assert _head(comma, 13) == comma[:13].rsplit(" ", 1)[0].rstrip(" ,;:") + "…" == "alpha, beta…"
    word = "y" * 60
    assert _head(word, 10) == "y" * 10 + "…"
    # No marker: no prefix.
    assert _head("plain line that is short.", 40) == "plain line that is short."


def test_more_items_in_a_summary_add_their_heads(monkeypatch):
    lines = [
        "Recall 'q': 4 of 9 memories; basins: a. Found quickly.",
        "1. (0.90) The top item is kept to its first sentence. Not this.",
        "2. (0.80) The second item becomes a short head of at most forty characters",
        "3. (0.70) The third one is left out.",
        "4. (0.60) So is the fourth.",
    ]
    monkeypatch.setattr(memory_module, "MAX_ITEMS", 2)
    summary = summarize("\n".join(lines))
    assert summary.split("\n") == [
        f"{MARK} " + first_sentence(lines[0]),
        "1. (0.90) " + first_sentence(lines[1][len("1. (0.90) "):]),
        _head(lines[2], memory_module.ITEM_HEAD_CHARS),
        f"… {len(lines) - 1 - 2} more",
    ]
    assert _head(lines[2], memory_module.ITEM_HEAD_CHARS).endswith("…")


# --- summaries ---------------------------------------------------------------------------------


def test_a_summary_of_an_unmarked_item_and_of_nothing_but_wrappers():
    headline = "Environment: 12 basins, 72 memories, 7 principles. Healthy."
    item = "Top basin code-review is the most active one today. Others follow."
    summary = summarize(f"{headline}\n{item}")
    assert summary == f"{MARK} {first_sentence(headline)}\n{first_sentence(item)}"  # one item: no "more"
    assert summarize(headline) == f"{MARK} {first_sentence(headline)}"
    assert summarize("Execution logs:\n   indented only") == f"{MARK} Execution logs:"
    blank = "\n   \n"
    assert summarize(blank) == f"{MARK} ({len(blank)} characters)"


def test_a_summary_no_shorter_than_its_text_is_not_used():
    pruning = MemoryPruningCallback(window=1, min_length=10)
    text = "x" * 50  # no sentence end: summary = MARK + text, longer than text
    assert pruning.summary_of(text) is None
    assert pruning.summary_of(None) is None and pruning.summary_of("") is None
    pruned = summarize("Headline sentence that is long enough. Rest.\n" + "\n".join(f"- item {i}" for i in range(12)))
    assert pruning.summary_of(pruned) is None  # already pruned
    assert is_pruned(pruned) and not is_pruned(None) and not is_pruned("") and not is_pruned("x" + MARK)


def test_a_plan_stub_keeps_only_the_callback_lines():
    plan = "\n".join(
        ["1. Recall.", "  [IWMT] Coherence: 41.0% (ok)", "[IWMT] Advice: use the tools", "[RIVER] calm, budget 6", "2. Answer."]
    )
    assert summarize_plan(plan, 7) == f"{MARK} Superseded plan (step 7).\n[IWMT] Coherence: 41.0% (ok)\n[RIVER] calm, budget 6"


def test_a_plan_with_no_action_after_it_is_made_before_the_next_step():
    first, last = planning("p1"), planning("p2")
    assert [(p.plan, n) for p, n in plans_with_steps([action(4), action(5), first, last])] == [("p1", 6), ("p2", 6)]


def test_a_plan_whose_stub_is_no_shorter_stays(agent_ctx):
    agent, ctx = agent_ctx
    plan = "[RIVER] calm"  # the stub adds a line: longer
    old = planning(plan)
    agent.memory.steps = [old, action(1)]
    assert MemoryPruningCallback(window=3).prune_plan(old, 1, ctx) is None
    assert old.plan == plan and ctx.state(PruningState).pruned_plans == {}
    assert MemoryPruningCallback(window=3).prune_plan(planning(""), 1, ctx) is None


# --- the horizons ------------------------------------------------------------------------------


def test_fold_after_is_at_least_the_window():
    assert MemoryPruningCallback(window=3, fold_after=3).fold_after == 3
    assert MemoryPruningCallback(window=3, fold_after=None).fold_after is None
    with pytest.raises(ValueError, match=r"^fold_after must be at least the window \(3\), got 2$"):
        MemoryPruningCallback(window=3, fold_after=2)
    assert PlaceholderPruningCallback().fold_after is None  # clearing results is the whole policy
    assert PlaceholderPruningCallback(fold_after=5).fold_after == 5


def long_observation(n: int) -> str:
    return "\n".join(
        [
            f"Recall 'q{n}': 3 of 40 memories; basins: b{n}. Found in {n} ms.",
            f"1. (0.9{n % 10}) Fact number {n} is the top item of its step. More text after it.",
            f"2. (0.50) A second item for step {n}, left out of every summary.",
            f"3. (0.40) A third item for step {n}: long enough that the whole text is over MIN_LENGTH.",
        ]
    )


@pytest.mark.parametrize("fold_after", [3, 4, 6])
def test_steps_fold_exactly_at_the_horizon_and_once(agent_ctx, fold_after):
    agent, ctx = agent_ctx
    steps = [action(n, args={"query": f"q{n}"}, observations=long_observation(n)) for n in range(1, 11)]
    originals = {s.step_number: s.observations for s in steps}
    agent.memory.steps = list(steps)
    pruning = MemoryPruningCallback(window=3, fold_after=fold_after)
    for step in steps:
        pruning(step, agent, ctx)
        horizon = step.step_number - fold_after
        assert sorted(ctx.state(PruningState).folded) == list(range(1, horizon + 1))  # N − fold_after and older
        assert sorted(ctx.state(PruningState).pruned) == list(range(1, step.step_number - 3 + 1))
    pruning(steps[-1], agent, ctx)  # again: nothing folds twice
    folded_events = [e for e in ctx.events if e.kind == "folded"]
    assert [e.step_number for e in folded_events] == list(range(1, 10 - fold_after + 1))
    for event in folded_events:
        n = event.step_number
        entry = ctx.state(PruningState).folded[n]
        # Folded from the ORIGINAL observation, though it had been pruned first.
        assert entry.facts == headline_facts(originals[n]) and len(entry.facts) == 2
        assert entry.calls == [("semantic_recall", {"query": f"q{n}"})]
        whole = action(n, args={"query": f"q{n}"}, observations=originals[n])
        assert entry.original_tokens == count_tokens(render_messages(whole.to_messages())) > 0
        assert event.detail == {"facts": 2, "tokens": entry.original_tokens}
    # Memory is untouched by folding: the pruned steps hold their summaries, the rest are whole.
    assert all(isinstance(s, ActionStep) for s in agent.memory.steps) and len(agent.memory.steps) == 10
    for s in steps:
        expected = summarize(originals[s.step_number]) if s.step_number <= 7 else originals[s.step_number]
        assert s.observations == expected


def test_unfolded_tokens_count_the_original_not_the_summary():
    original = long_observation(3)
    step = action(3, observations=summarize(original))
    whole = action(3, observations=original)
    assert unfolded_tokens(step, original) == count_tokens(render_messages(whole.to_messages()))
    assert step.observations == summarize(original)  # the step itself is not changed


# --- headline facts and folding one step -------------------------------------------------------


def test_headline_facts_skip_wrappers_and_keep_the_top_items_rank():
    text = "\n".join(
        [
            "Execution logs:",
            "### 1. Task outcome (short version):",
            "Observed five memories in two basins today. And more.",
            "  an indented detail",
            "* (0.75) Starred items count as items too, yes indeed. Not this part.",
            "- a later item",
        ]
    )
    assert headline_facts(text) == [
        first_sentence("Observed five memories in two basins today. And more."),
        "* (0.75) " + first_sentence("Starred items count as items too, yes indeed. Not this part."),
    ]
    assert headline_facts("Only a headline without items at all") == ["Only a headline without items at all"]
    assert headline_facts("Execution logs:\n\n") == [] and headline_facts(None) == [] and headline_facts("") == []
    assert headline_facts("Headline here.\nnot an item line\n12. the twelfth item") == ["Headline here.", "12. the twelfth item"]


def test_an_error_fold_is_one_line_and_a_step_without_calls_has_none():
    error = AgentToolExecutionError("Unknown   basin\n'x'   here today. Second sentence.", quiet_logger())
    step = action(2, error=error, observations=long_observation(2))
    entry = fold(step, long_observation(2))
    assert entry.facts == ["Error: Unknown basin 'x' here today."]  # the error wins over the output
    bare = ActionStep(step_number=5, timing=action(5).timing, tool_calls=None, observations=None)
    entry = fold(bare, None)
    assert (entry.step_number, entry.calls, entry.facts) == (5, [], [])


# --- the digest text ---------------------------------------------------------------------------


def test_the_digest_lists_each_step_once_in_order_with_repeats_by_place():
    steps = [
        FoldedStep(3, [("list_basins", {"limit": 10, "b": "é"})], ["Basins: 4 of 4.", "- code-review: top."]),
        FoldedStep(4, [("a", {}), ("b", {"k": 1})], ["Basins: 4 of 4.", "- other: top."]),
        FoldedStep(5, [], ["- code-review: top."]),  # the same text at another place: not a repeat
        FoldedStep(7, [("c", {"x": [1, 2]})], []),
        FoldedStep(8, [("d", {})], ["New headline.", "- other: top."]),
    ]
    text = digest_text(steps)
    lines = text.split("\n")
    first, last = steps[0].step_number, steps[-1].step_number
    assert lines[0] == f"{DIGEST_MARK} Steps {first}–{last}, folded: each step's tool call and the headline facts of its result."
    assert digest_span(text) == (3, 8) and digest_span("no digest here") is None
    call = lambda name, args: f"{name} {json.dumps(args, ensure_ascii=False, separators=(',', ':'), sort_keys=True)}"
    assert call("list_basins", {"limit": 10, "b": "é"}) == 'list_basins {"b":"é","limit":10}'
    assert lines[1:] == [
        f"3. {call('list_basins', {'limit': 10, 'b': 'é'})}: Basins: 4 of 4.",
        "   - code-review: top.",
        f"4. {call('a', {})} + {call('b', {'k': 1})}: (as step 3)",
        "   - other: top.",
        f"5. {NO_CALL}: - code-review: top.",
        f"7. {call('c', {'x': [1, 2]})}",  # no facts: no trailing ": "
        f"8. {call('d', {})}: New headline.",
        "   (as step 4)",
    ]
    # Read back: one entry per call, repeats resolved to the earlier step's fact at that place.
    assert parse_digest(text) == [
        (3, "list_basins", {"limit": 10, "b": "é"}, "Basins: 4 of 4.\n- code-review: top."),
        (4, "a", {}, "Basins: 4 of 4.\n- other: top."),
        (4, "b", {"k": 1}, "Basins: 4 of 4.\n- other: top."),
        (5, "", None, "- code-review: top."),
        (7, "c", {"x": [1, 2]}, ""),
        (8, "d", {}, "New headline.\n- other: top."),
    ]


def test_reading_a_digest_skips_what_it_cannot_parse():
    assert parse_digest("not a digest\n1. a {}: fact") == []
    text = "\n".join(
        [f"{DIGEST_MARK} Steps 1–3, folded: …", "   stray detail before any step", "1. broken {not json: fact",
         "2. ok {\"a\":1}: Fact two.", "3. later {}: (as step 9)", "4. unknown {}: x", "   (as step 2)", "   (as step 2)"]
    )
    assert parse_digest(text) == [
        (2, "ok", {"a": 1}, "Fact two."),
        (3, "later", {}, "(as step 9)"),  # no step 9 written: the text stays
        # Step 2 wrote no fact at place 1 or 2: the text stays.
        (4, "unknown", {}, "x\n(as step 2)\n(as step 2)"),
    ]


def test_a_digest_step_is_one_user_message():
    step = DigestStep("digest text", [1, 2])
    for mode in (False, True):
        (message,) = step.to_messages(summary_mode=mode)
        assert message.role == MessageRole.USER and message_text(message) == "digest text"


# --- the prompt view ---------------------------------------------------------------------------


def test_the_view_puts_the_digest_where_the_first_folded_step_was_and_drops_only_old_stubs():
    a1, a2, a3, a4 = (action(n, observations=f"Result {n}.") for n in (1, 2, 3, 4))
    stub_early = planning(summarize_plan("plan zero", 1))
    live_early = planning("A plan that is not superseded.")
    stub_late = planning(summarize_plan("plan two", 3))
    stub_after = planning(summarize_plan("plan three", 4))
    task = TaskStep(task="t")
    steps = [task, stub_early, live_early, a1, a2, stub_late, a3, stub_after, a4]
    folded = {n: fold(s, s.observations) for n, s in ((1, a1), (2, a2))}
    view = fold_view(steps, folded)
    assert [type(s).__name__ for s in view][:3] == ["TaskStep", "PlanningStep", "DigestStep"]
    assert view[1] is live_early and view[2].step_numbers == [1, 2]
    assert view[2].text == digest_text([folded[1], folded[2]])
    # Stubs made before the last folded step (2) go; the ones after it stay; steps 3, 4 stay.
    assert view[3:] == [stub_late, a3, stub_after, a4]
    assert steps == [task, stub_early, live_early, a1, a2, stub_late, a3, stub_after, a4]  # memory unchanged
    empty = fold_view(steps, {})
    assert empty == steps and empty is not steps


def test_the_prompt_view_folds_and_summarises_for_a_planning_call(agent_ctx):
    agent, ctx = agent_ctx
    steps = [action(n, args={"query": f"q{n}"}, observations=long_observation(n)) for n in range(1, 9)]
    originals = {s.step_number: s.observations for s in steps}
    agent.memory.steps = [TaskStep(task="t"), *steps]
    pruning = MemoryPruningCallback(window=2, fold_after=5)
    for step in steps:
        pruning(step, agent, ctx)
    assert sorted(ctx.state(PruningState).folded) == [1, 2, 3] and sorted(ctx.state(PruningState).pruned) == [1, 2, 3, 4, 5, 6]
    action_view = pruning.prompt_view(agent.memory.steps, ctx)
    assert isinstance(action_view[1], DigestStep) and action_view[2:] == steps[3:]
    assert [s.observations for s in action_view[2:]] == [summarize(originals[n]) for n in (4, 5, 6)] + [originals[7], originals[8]]
    plan_view = pruning.prompt_view(agent.memory.steps, ctx, summary_mode=True)
    # Planning: the whole observations of steps 7 (not the latest) are summarised too, in a copy.
    assert [s.observations for s in plan_view[2:]] == [summarize(originals[n]) for n in (4, 5, 6, 7)] + [originals[8]]
    assert steps[6].observations == originals[7] and list(ctx.state(PruningState).planning_view) == [7]
    # Without a context: no digest.
    assert pruning.prompt_view(agent.memory.steps, None) == agent.memory.steps


def test_pairing_stays_intact_in_every_prompt_of_a_run(agent_ctx):
    agent, ctx = agent_ctx
    steps = []
    pruning = MemoryPruningCallback(window=3, fold_after=4)
    agent.memory.steps = [TaskStep(task="t")]
    for n in range(1, 13):
        step = action(n, args={"query": f"q{n}"}, observations=long_observation(n))
        step.tool_calls.append(ToolCall(name="observe_environment", arguments={}, id=f"call_{n}b"))
        steps.append(step)
        agent.memory.steps.append(step)
        pruning(step, agent, ctx)
        messages = [m for s in pruning.prompt_view(agent.memory.steps, ctx) for m in s.to_messages()]
        roles = [m.role.value for m in messages]
        assert roles.count("tool-call") == roles.count("tool-response") == min(n, 4)
        for i, role in enumerate(roles):
            if role == "tool-call":
                assert roles[i + 1] == "tool-response"
        listed = [entry for m in messages for entry in parse_digest(message_text(m))]
        expected = [(k, name, args) for k in range(1, n - 4 + 1) for name, args in (("semantic_recall", {"query": f"q{k}"}), ("observe_environment", {}))]
        assert [entry[:3] for entry in listed] == expected


def test_the_placeholder_policy_clears_and_never_folds(agent_ctx):
    agent, ctx = agent_ctx
    steps = [action(n, observations=long_observation(n)) for n in range(1, 9)]
    agent.memory.steps = list(steps)
    pruning = PlaceholderPruningCallback(window=2)
    for step in steps:
        pruning(step, agent, ctx)
    assert ctx.state(PruningState).folded == {} and [s.observations == PLACEHOLDER for s in steps] == [True] * 6 + [False] * 2


# --- boundaries the first mutation run left open ------------------------------------------------


def test_cut_edges_of_sentences_heads_and_fact_lines():
    spaced = "word " * 20
    assert first_sentence(spaced, limit=11) == "word word…"  # the space before the cut goes
    exact = "Exactly twenty chars"  # no sentence end: the whole body, which fits the limit exactly
    assert _head("- " + exact, len(exact)) == "- " + exact
    ends_in_x = "ABCDEFGHIJKLMNOPQRSX tail words"
    assert _head(ends_in_x, 25) == "ABCDEFGHIJKLMNOPQRSX…"
    # A fact line ending in letters is written whole.
    text = digest_text([FoldedStep(1, [("a", {})], ["Top basin is X"])])
    assert text.split("\n")[1] == "1. a {}: Top basin is X"
    # A step without calls but with several facts reads back whole.
    text = digest_text([FoldedStep(2, [], ["Headline fact.", "- top item."])])
    assert parse_digest(text) == [(2, "", None, "Headline fact.\n- top item.")]
    # A hand-written entry with details but no first fact: just the details.
    assert parse_digest(f"{DIGEST_MARK} Steps 5–5, folded\n5. e {{}}\n   detail") == [(5, "e", {}, "detail")]


def test_summary_lines_wrappers_and_single_space_details():
    assert summarize("Execution logs:   ") == f"{MARK} Execution logs:"
    assert summarize("Execution logs:\n### 1. Task outcome (short version):") == (
        f"{MARK} Execution logs:\n### 1. Task outcome (short version):"
    )
    headline = "Recall 'q': 2 of 5 memories in basin a."
    assert summarize(f"{headline}\n one-space indented detail line") == f"{MARK} {headline}"
    # The top item's sentence is counted from after its marker, not from the line start.
    item = "1. (0.90) Short one here. Then the rest of it."
    assert summarize(f"{headline}\n{item}") == f"{MARK} {headline}\n1. (0.90) " + first_sentence(item[len("1. (0.90) "):])
    assert "1. (0.90) Short one here. Then the rest of it." in summarize(f"{headline}\n{item}")


def test_a_plan_is_numbered_by_the_action_that_follows_it_not_the_one_before():
    first = planning("p1")
    assert [n for _, n in plans_with_steps([action(2), first, action(7)])] == [7]


def test_defaults_and_options_reach_the_policy():
    assert MemoryPruningCallback().window == 3
    placeholder = PlaceholderPruningCallback(min_length=50)
    assert (placeholder.window, placeholder.min_length) == (3, 50)


def test_plans_off_leaves_every_plan_whole_whatever_the_step(agent_ctx):
    agent, ctx = agent_ctx
    old = planning("1. Recall what is known about focus and afternoons.\n2. Decide.")
    agent.memory.steps = [old, action(1)]
    pruning = MemoryPruningCallback(window=3, plans=False)
    pruning(planning("newer"), agent, ctx)
    pruning(TaskStep(task="t"), agent, ctx)
    assert old.plan.startswith("1. Recall") and ctx.state(PruningState).pruned_plans == {}
    MemoryPruningCallback(window=3)(TaskStep(task="t"), agent, ctx)  # a task step prunes no plan
    assert ctx.state(PruningState).pruned_plans == {}


def test_equal_length_is_not_shorter_and_pruned_text_is_never_summarised_again(agent_ctx):
    agent, ctx = agent_ctx
    pruning = MemoryPruningCallback(window=1, min_length=10)
    tie = "a" * 25 + ". 12345678"  # the summary drops " 12345678" and adds "[PRUNED] "
    assert len(summarize(tie)) == len(tie) and pruning.summary_of(tie) is None
    pruned = MARK + " Headline sentence that is long enough. Rest of the headline goes on and on.\n- a\n- b\n- c"
    assert len(summarize(pruned)) < len(pruned) and pruning.summary_of(pruned) is None
    plan = "p" * len(summarize_plan("", 1))  # a stub as long as the plan: left whole
    step = planning(plan)
    assert pruning.prune_plan(step, 1, ctx) is None and step.plan == plan
    assert pruning.planning_view([], ctx) == [] and pruning.planning_view([TaskStep(task="t")], ctx)[0].task == "t"


def test_a_short_step_folds_with_its_own_facts(agent_ctx):
    agent, ctx = agent_ctx
    short = "Coherence 41.0% (ok): moderately coherent today.\n- integration 0.5"
    steps = [action(n, observations=short) for n in range(1, 6)]
    agent.memory.steps = list(steps)
    pruning = MemoryPruningCallback(window=1, fold_after=1)
    for step in steps:
        pruning(step, agent, ctx)
    assert ctx.state(PruningState).pruned == {} and sorted(ctx.state(PruningState).folded) == [1, 2, 3, 4]
    assert all(ctx.state(PruningState).folded[n].facts == headline_facts(short) for n in ctx.state(PruningState).folded)


def test_a_stub_right_before_the_last_folded_step_leaves_the_prompt():
    stub = planning(summarize_plan("plan zero", 1))
    a1, a2 = action(1, observations="One."), action(2, observations="Two.")
    view = fold_view([stub, a1, a2], {1: fold(a1, "One.")})
    assert isinstance(view[0], DigestStep) and view[1:] == [a2]

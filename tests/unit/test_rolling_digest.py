"""The rolling digest (callbacks/rolling_digest.py): steps past the second horizon fold into one message
that keeps every folded step's call and headline facts, in order, and leaves the remaining calls
paired with their results; and its rules that a mutation run (scripts/mutation.sh pruning) once
found unpinned — the fold horizon's boundary, the digest's lines and their order, "(as step N)"
repeats, reading a digest back, where the view puts it."""

from __future__ import annotations

import json

import pytest
from smolagents.memory import ActionStep, TaskStep, ToolCall
from smolagents.models import MessageRole
from smolagents.utils import AgentToolExecutionError

from agents.base import quiet_logger
from agents.transcript import Transcript
from callbacks.pruning import (
    PLACEHOLDER,
    MemoryPruningCallback,
    PlaceholderPruningCallback,
    PruningState,
    first_sentence,
    summarize,
    summarize_plan,
)
from callbacks.rolling_digest import (
    MARK,
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
from callbacks.tokens import count_tokens, message_role, message_text, render_messages
from tests.unit.test_callbacks import action, agent_ctx, group, planning  # noqa: F401 - fixtures


def recall(n: int, top: str) -> str:
    return "\n".join(
        [
            f"Recall 'query {n}': 3 of 40 memories; basins: b{n % 4}, rest. Found in {n} ms.",
            f"1. (0.90) {top} More about it follows here. [episodic; basins: b{n % 4}; mem-{n:04d}]",
            f"2. (0.50) Second item of step {n}. [semantic; basins: rest; mem-x{n:03d}]",
        ]
    )


def run_steps(agent, ctx, count: int, fold_after: int = 4):
    tops = ["Alpha fact stays the same across recalls.", "Beta fact is another memory entirely."]
    steps = [
        action(n, args={"query": f"query {n}", "k": 8, "note": 'quote " and ": inside ✓'}, observations=recall(n, tops[n % 2]))
        for n in range(1, count + 1)
    ]
    pruning = MemoryPruningCallback(window=3, fold_after=fold_after)
    originals = {s.step_number: s.observations for s in steps}
    superseded = planning("[PRUNED] Superseded plan (step 1).")
    agent.memory.steps = [TaskStep(task="t"), superseded, *steps[:3], planning("The current plan."), *steps[3:]]
    for step in steps:
        pruning(step, agent, ctx)
    return pruning, steps, originals


def test_folded_steps_leave_with_their_calls_and_the_digest_keeps_their_facts_in_order(agent_ctx):
    agent, ctx = agent_ctx
    pruning, steps, originals = run_steps(agent, ctx, 20)
    assert sorted(ctx.state(PruningState).folded) == list(range(1, 17))  # older than 4 steps after step 20
    view = pruning.prompt_view(agent.memory.steps, ctx)
    messages = [m for s in view for m in s.to_messages()]
    roles = [message_role(m) for m in messages]
    for i, role in enumerate(roles):
        if role == "tool-call":
            assert roles[i + 1] == "tool-response" and message_text(messages[i + 1]).strip()
        if role == "tool-response":
            assert roles[i - 1] == "tool-call"
    digests = [message_text(m) for m in messages if message_text(m).startswith(MARK)]
    assert len(digests) == 1 and roles.count("tool-call") == 4  # 16 folded + 4 paired = 20
    digest = digests[0]
    for n in range(1, 17):
        for fact in headline_facts(originals[n]):
            assert fact in digest  # every headline fact of every folded step, once at least
    listed = parse_digest(digest)
    assert [n for n, *_ in listed] == list(range(1, 17))
    assert [args for _, _, args, _ in listed] == [s.tool_calls[0].arguments for s in steps[:16]]
    # Facts shared with an earlier step are written once and read back whole.
    assert digest.count("Alpha fact stays the same across recalls.") == 1 and "(as step 2)" in digest
    assert [facts for *_, facts in listed] == ["\n".join(headline_facts(originals[n])) for n in range(1, 17)]
    # A superseded plan before the last folded step left too, the current plan stays; memory
    # keeps everything.
    assert sum(isinstance(s, ActionStep) for s in agent.memory.steps) == 20
    assert message_text(messages[0]) == "New task:\nt" and message_text(messages[1]) == digest
    assert message_text(messages[2]) == "The current plan." and not any("Superseded" in message_text(m) for m in messages)


def test_the_transcript_reads_folded_steps_back_as_exchanges(agent_ctx):
    agent, ctx = agent_ctx
    pruning, steps, _ = run_steps(agent, ctx, 12)
    messages = [m for s in pruning.prompt_view(agent.memory.steps, ctx) for m in s.to_messages()]
    t = Transcript.from_messages(messages)
    assert t.task == "t" and len(t.exchanges) == 12
    assert [e.arguments for e in t.exchanges] == [s.tool_calls[0].arguments for s in steps]
    assert t.exchanges[0].observation.splitlines()[1].startswith("1. (0.90) Beta fact")


def test_an_error_folds_as_its_first_sentence(agent_ctx):
    agent, ctx = agent_ctx
    failed = action(1, error=AgentToolExecutionError("Unknown basin 'planning-x' here. Create it first.\nmore", quiet_logger()))
    entry = fold(failed, None)
    assert entry.facts == ["Error: Unknown basin 'planning-x' here."]
    (listed,) = parse_digest(digest_text([entry]))
    assert listed[:2] == (1, "semantic_recall") and listed[3] == "Error: Unknown basin 'planning-x' here."


def test_no_folding_inside_the_horizon_or_when_switched_off(agent_ctx):
    agent, ctx = agent_ctx
    run_steps(agent, ctx, 4)
    assert ctx.state(PruningState).folded == {}
    ctx.state(PruningState).folded.clear()
    pruning, _, _ = run_steps(agent, ctx, 12, fold_after=None)
    assert ctx.state(PruningState).folded == {} and pruning.prompt_view(agent.memory.steps, ctx) == agent.memory.steps


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
    assert lines[0] == f"{MARK} Steps {first}–{last}, folded: each step's tool call and the headline facts of its result."
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
        [f"{MARK} Steps 1–3, folded: …", "   stray detail before any step", "1. broken {not json: fact",
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

"""Which observations and plans the pruning callback shortens, and what it records, on real
smolagents step objects; and the rules of the summaries and plan stubs themselves — sentence ends,
item heads, what a summary keeps, the boundaries — that a mutation run (scripts/mutation.sh
pruning) once found unpinned (more of the summary's wording: test_callbacks.py)."""

from __future__ import annotations

import pytest
from smolagents.memory import TaskStep

from callbacks import pruning as memory_module
from callbacks.pruning import (
    MARK,
    MIN_LENGTH,
    MIN_SENTENCE,
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
from callbacks.rolling_digest import MARK as DIGEST_MARK
from callbacks.rolling_digest import FoldedStep, digest_text, parse_digest
from tests.unit.test_callbacks import RECALL_OBSERVATION, action, agent_ctx, group, planning  # noqa: F401


def test_the_window_is_at_least_one_step():
    assert MemoryPruningCallback(window=1).window == 1
    with pytest.raises(ValueError, match="^window must be at least 1, got 0$"):
        MemoryPruningCallback(window=0)


def test_an_observation_at_the_minimum_length_stays_and_one_longer_is_pruned(agent_ctx):
    agent, ctx = agent_ctx
    at_min = ("Recall: edge case headline. " + "x" * MIN_LENGTH)[:MIN_LENGTH]
    longer = at_min + "y"
    steps = [action(1, observations=at_min), action(2, observations=longer), action(3, observations="short")]
    agent.memory.steps = steps
    MemoryPruningCallback(window=1)(steps[-1], agent, ctx)
    assert steps[0].observations == at_min and steps[1].observations.startswith(MARK)
    entry = ctx.state(PruningState).pruned[2]
    assert (entry.step_number, entry.original, entry.summary) == (2, longer, steps[1].observations)
    assert entry.original_tokens > entry.summary_tokens > 0
    [event] = [e for e in ctx.events if e.kind == "pruned"]
    assert event.step_number == 2
    assert event.detail == {"chars": len(longer), "summary_chars": len(steps[1].observations),
                            "tokens_saved": entry.original_tokens - entry.summary_tokens}


def test_plans_are_numbered_by_the_step_they_were_made_before():
    first, second, last = planning("p1"), planning("p2"), planning("p3")
    steps = [first, action(1), action(2), second, action(3), last]
    assert [(p.plan, n) for p, n in plans_with_steps(steps)] == [("p1", 1), ("p2", 3), ("p3", 4)]
    assert [(p.plan, n) for p, n in plans_with_steps([planning("only")])] == [("only", 1)]


def test_superseded_plans_become_stubs_and_the_record_says_so(agent_ctx):
    agent, ctx = agent_ctx
    old_plan = "1. Recall what is known about focus and afternoons.\n2. Decide.\n[IWMT] Coherence: 41.0% (ok)"
    old, new = planning(old_plan), planning("fresh plan")
    agent.memory.steps = [old, action(1), action(2)]
    MemoryPruningCallback(window=3)(new, agent, ctx)
    assert old.plan == f"{MARK} Superseded plan (step 1).\n[IWMT] Coherence: 41.0% (ok)"
    entry = ctx.state(PruningState).pruned_plans[1]
    assert (entry.step_number, entry.original, entry.summary) == (1, old_plan, old.plan)
    assert entry.original_tokens > entry.summary_tokens > 0
    [event] = [e for e in ctx.events if e.kind == "pruned_plan"]
    assert event.step_number == 1
    assert event.detail == {"chars": len(old_plan), "summary_chars": len(old.plan),
                            "tokens_saved": entry.original_tokens - entry.summary_tokens}
    MemoryPruningCallback(window=3)(planning("again"), agent, ctx)  # already a stub: left alone
    assert len(ctx.state(PruningState).pruned_plans) == 1 and old.plan == entry.summary
    MemoryPruningCallback(window=3, plans=False)(planning("newer"), agent, ctx)  # plans off: untouched
    assert len(ctx.state(PruningState).pruned_plans) == 1
    # An action step never prunes plans, and a short plan is left whole.
    short = planning("go")
    agent.memory.steps = [short, action(1)]
    MemoryPruningCallback(window=3)(planning("next"), agent, ctx)
    assert short.plan == "go"


def test_the_planning_view_summarises_all_but_the_latest_and_records_each_once(agent_ctx):
    agent, ctx = agent_ctx
    steps = [action(1, observations=RECALL_OBSERVATION), action(2, observations=RECALL_OBSERVATION)]
    pruning = MemoryPruningCallback(window=3)
    view = pruning.planning_view(steps, ctx)
    assert view[0].observations.startswith(MARK) and view[1] is steps[1]
    assert steps[0].observations == RECALL_OBSERVATION  # a view: memory unchanged
    entry = ctx.state(PruningState).planning_view[1]
    assert (entry.step_number, entry.original, entry.summary) == (1, RECALL_OBSERVATION, view[0].observations)
    assert entry.original_tokens > entry.summary_tokens > 0
    pruning.planning_view(steps, ctx)
    assert list(ctx.state(PruningState).planning_view) == [1]
    assert pruning.planning_view(steps, None)[0].observations == view[0].observations  # no context: no record
    assert MemoryPruningCallback(window=3, planning_inputs=False).planning_view(steps, ctx) == steps


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

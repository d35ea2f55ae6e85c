"""Which observations and plans the pruning callback shortens, and what it records, on real
smolagents step objects (the summary's wording is tested in test_callbacks.py)."""

from __future__ import annotations

import pytest

from callbacks.memory import MARK, MIN_LENGTH, MemoryPruningCallback, PruningState, plans_with_steps
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

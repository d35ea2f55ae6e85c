"""The pruning window's boundary, on a real heartbeat run (scripted model, real smolagents loop).

After the last action step N, the observations of steps N − window and older are pruned; step
N − window + 1 and newer stay whole. Both steps at the boundary carry long observations here,
so pruning one step too many or one too few fails.
"""

from __future__ import annotations


import anyio.to_thread
from smolagents.memory import ActionStep

from agents.heartbeat import TASK as HEARTBEAT_TASK
from agents.heartbeat import build_heartbeat
from agents.scripted import ScriptedModel
from callbacks import default_registry
from callbacks.context import RunGroup
from callbacks.pruning import MARK, MIN_LENGTH, PruningState

WINDOW = 5  # with the seeded demo store, the heartbeat's steps 5 and 6 both answer at length


async def test_exactly_the_steps_older_than_the_window_are_pruned(rt):
    rt.settings = rt.settings.replace(memory_window=WINDOW)
    group = RunGroup(rt, "scripted")
    agent = build_heartbeat(rt, ScriptedModel("heartbeat"), group, default_registry(rt.settings))
    await anyio.to_thread.run_sync(agent.run, HEARTBEAT_TASK)
    ctx = group.root

    actions = [s for s in agent.memory.steps if isinstance(s, ActionStep)]
    last = actions[-1].step_number
    boundary = last - WINDOW  # the newest step that is pruned
    original = {s.step_number: ctx.state(PruningState).original_observation(s.step_number, s.observations) or "" for s in actions}
    by_number = {s.step_number: s for s in actions}

    # The boundary is exercised with long observations on both sides of it.
    assert len(original[boundary]) > MIN_LENGTH and len(original[boundary + 1]) > MIN_LENGTH, original
    assert by_number[boundary].observations.startswith(MARK)
    assert by_number[boundary + 1].observations == original[boundary + 1]

    # Nothing inside the window is pruned; nothing short is pruned; what is pruned is shorter.
    for n, step in by_number.items():
        if n > boundary or len(original[n]) <= MIN_LENGTH:
            assert step.observations == original[n], n
        elif step.observations.startswith(MARK):
            assert len(step.observations) < len(original[n]) and ctx.state(PruningState).pruned[n].original == original[n]
    assert max(ctx.state(PruningState).pruned) == boundary

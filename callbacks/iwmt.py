"""IWMT coherence in every plan.

On each PlanningStep the coherence of the active world model is computed fresh and appended to
the plan as `[IWMT] Coherence: NN.N%` (with a warning line below 50%). smolagents rebuilds every
prompt from memory and a PlanningStep renders its `plan`, so the next model call sees the line.
"""

from __future__ import annotations

import logging
from typing import Any

from smolagents.memory import PlanningStep

from callbacks.context import RunContext

log = logging.getLogger(__name__)

LOW = 0.5


def coherence_lines(level: float, status: str) -> list[str]:
    lines = [f"[IWMT] Coherence: {level * 100:.1f}%"]
    if status == "insufficient_data":
        lines.append("[IWMT] Warning: no basin is active; ground the next steps by recalling or activating what matters.")
    elif level < LOW:
        lines.append("[IWMT] Warning: coherence is below 50%; prefer steps that connect the active basins and ground them in memories.")
    return lines


class IwmtCoherenceCallback:
    name = "iwmt"

    def __call__(self, step: Any, agent: Any, ctx: RunContext) -> None:
        if not isinstance(step, PlanningStep):
            return
        runtime = ctx.runtime
        assessment = runtime.call(runtime.coherence.assess_coherence)
        level = assessment.consciousness_level
        lines = coherence_lines(level, assessment.status)
        step.plan = step.plan.rstrip() + "\n\n" + "\n".join(lines)
        ctx.coherence = level
        ctx.record("iwmt", agent.step_number, coherence=level, status=assessment.status, snapshot_id=assessment.snapshot_id)
        log.info("[IWMT] %s before step %d: coherence %.1f%% (%s)", ctx.agent_name, agent.step_number, level * 100, assessment.status)

"""IWMT coherence in every plan.

On each PlanningStep the coherence of the active world model is computed fresh and appended to
the plan as `[IWMT] Coherence: NN.N%` (with a warning line below 50%). smolagents rebuilds every
prompt from memory and a PlanningStep renders its `plan`, so the next model call sees the line.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from smolagents.memory import PlanningStep

from callbacks.context import RunContext

log = logging.getLogger(__name__)

LOW = 0.5


@dataclass
class IwmtState:
    """Owned by the iwmt callback, one per run."""

    coherence: float | None = None  # the latest consciousness_level assessed for a plan of this run


def _remedy(tools: Any) -> str:
    """What the agent can do about low coherence with the tools it HAS: advice to call a tool it
    lacks sends a real model after a call that cannot succeed."""
    names = set(tools) if tools is not None else {"semantic_recall", "activate_basin"}
    can = [verb for tool, verb in (("semantic_recall", "recalling"), ("activate_basin", "activating")) if tool in names]
    return f"ground the next steps by {' or '.join(can)} what matters." if can else "say so in your answer."


def coherence_lines(level: float, status: str, tools: Any = None) -> list[str]:
    """`tools`: the names of the agent's tools (None: assume both remedies are available)."""
    lines = [f"[IWMT] Coherence: {level * 100:.1f}%"]
    if status == "insufficient_data":
        lines.append("[IWMT] Warning: no basin is active; " + _remedy(tools))
    elif level < LOW:
        lines.append("[IWMT] Warning: coherence is below 50%; " + _remedy(tools))
    return lines


class IwmtCoherenceCallback:
    name = "iwmt"
    owns = IwmtState

    def __call__(self, step: Any, agent: Any, ctx: RunContext) -> None:
        if not isinstance(step, PlanningStep):
            return
        runtime = ctx.runtime
        assessment = ctx.call(runtime.coherence.assess_coherence)
        level = assessment.consciousness_level
        lines = coherence_lines(level, assessment.status, getattr(agent, "tools", None))
        step.plan = step.plan.rstrip() + "\n\n" + "\n".join(lines)
        ctx.state(IwmtState).coherence = level
        ctx.record("iwmt", agent.step_number, coherence=level, status=assessment.status, snapshot_id=assessment.snapshot_id)
        log.info("[IWMT] %s before step %d: coherence %.1f%% (%s)", ctx.agent_name, agent.step_number, level * 100, assessment.status)

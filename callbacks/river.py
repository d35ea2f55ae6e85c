"""River flow: how the run is going — calm, flowing or turbulent — and what that changes.

After each ActionStep the flow is read from the errors of the last few steps and the latest IWMT
coherence of the run (the iwmt callback's state: river reads it, so it runs after iwmt on a plan).
Entering turbulence halves the remaining step budget (the agent's `max_steps`, and
`RiverState.step_budget`, which the agents enforce: past it only final_answer is accepted), and
the next plan gets guidance on how to proceed. The callback works on whatever agent it is
attached to, so sub-agents under the manager each have their own flow.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Literal

from smolagents.memory import ActionStep, PlanningStep
from smolagents.utils import AgentMaxStepsError

from callbacks.context import RunContext
from callbacks.iwmt import IwmtState

log = logging.getLogger(__name__)

WINDOW = 3  # recent action steps considered
LOW_COHERENCE = 0.3
GOOD_COHERENCE = 0.5

FlowState = Literal["calm", "flowing", "turbulent"]


@dataclass
class RiverState:
    """Owned by the river callback, one per run; the agents read the step budget."""

    flow: FlowState = "calm"
    reason: str = ""  # why the flow last changed
    step_budget: int | None = None  # lowered when the flow turns turbulent

    def budget_spent(self, step_number: int) -> bool:
        return self.step_budget is not None and step_number > self.step_budget


def flow_state(errors: int, coherence: float | None) -> tuple[FlowState, str]:
    """Pure rule, so it can be tested alone."""
    if errors >= 2:
        return "turbulent", f"{errors} of the last {WINDOW} steps failed"
    if errors >= 1 and coherence is not None and coherence < LOW_COHERENCE:
        return "turbulent", f"a step failed while coherence is low ({coherence * 100:.1f}%)"
    if errors == 0 and coherence is not None and coherence >= GOOD_COHERENCE:
        return "flowing", f"no recent errors, coherence {coherence * 100:.1f}%"
    if errors:
        return "calm", "one recent error"
    return "calm", "no recent errors" + ("" if coherence is None else f", coherence {coherence * 100:.1f}%")


def recent_errors(agent: Any, step: ActionStep, window: int = WINDOW) -> int:
    # smolagents appends a step to memory only after its callbacks ran: add the current one.
    earlier = [s for s in agent.memory.steps if isinstance(s, ActionStep) and s is not step]
    actions = [*earlier[-(window - 1):], step] if window > 1 else [step]
    return sum(1 for s in actions if s.error is not None and not isinstance(s.error, AgentMaxStepsError))


def guidance(reason: str, budget: int | None) -> str:
    finish = f" Finish with final_answer by step {budget}." if budget is not None else ""
    return (
        f"[RIVER] Flow: turbulent ({reason}). Guidance: do not repeat what failed; take one tool call "
        f"per step with arguments checked against the tool description; prefer what already worked.{finish}"
    )


class RiverFlowCallback:
    name = "river"
    owns = RiverState
    reads = (IwmtState,)  # the coherence of the latest plan

    def __call__(self, step: Any, agent: Any, ctx: RunContext) -> None:
        river = ctx.state(RiverState)
        if isinstance(step, ActionStep):
            self._after_action(step, agent, ctx, river)
        elif isinstance(step, PlanningStep) and river.flow == "turbulent":
            step.plan = step.plan.rstrip() + "\n" + guidance(river.reason or "recent errors", river.step_budget)

    def _after_action(self, step: ActionStep, agent: Any, ctx: RunContext, river: RiverState) -> None:
        state, reason = flow_state(recent_errors(agent, step), ctx.state(IwmtState).coherence)
        previous, river.flow = river.flow, state
        if state == previous:
            return
        river.reason = reason
        ctx.record("river", step.step_number, state=state, previous=previous, reason=reason)
        log.info("%s step %d: flow %s → %s (%s)", ctx.agent_name, step.step_number, previous, state, reason)
        if state == "turbulent":
            remaining = max(0, agent.max_steps - step.step_number)
            budget = step.step_number + max(1, remaining // 2)
            if river.step_budget is None or budget < river.step_budget:
                river.step_budget = budget
                agent.max_steps = min(agent.max_steps, budget)
                ctx.record("river_budget", step.step_number, budget=budget)

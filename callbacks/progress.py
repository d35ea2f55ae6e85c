"""Progress per step, and the cancellation check that makes an interrupt stick.

Both run on every planning and action step of every agent in a run group.
"""

from __future__ import annotations

from typing import Any

from smolagents.memory import ActionStep, FinalAnswerStep, PlanningStep

from callbacks.context import RunContext


def describe_step(step: Any, agent: Any, ctx: RunContext) -> str:
    if isinstance(step, FinalAnswerStep):
        return f"{ctx.agent_name}: final answer"
    if isinstance(step, PlanningStep):
        return f"{ctx.agent_name}: plan before step {agent.step_number}"
    tools = ", ".join(call.name for call in (step.tool_calls or [])) or "no tool"
    status = " (error)" if step.error is not None else ""
    return f"{ctx.agent_name} step {step.step_number}: {tools}{status}"


class ProgressCallback:
    name = "progress"

    def __call__(self, step: Any, agent: Any, ctx: RunContext) -> None:
        if isinstance(step, (PlanningStep, ActionStep, FinalAnswerStep)):
            if isinstance(step, FinalAnswerStep):
                ctx.record("final_answer", agent.step_number, output=str(step.output)[:500])
            ctx.group.report(ctx, describe_step(step, agent, ctx))


class CancellationCheck:
    """smolagents' `run()` clears the interrupt switch when it starts; re-interrupting at every
    step boundary closes the window in which a cancel could be lost."""

    name = "cancellation"

    def __call__(self, step: Any, agent: Any, ctx: RunContext) -> None:
        if ctx.group.cancelled.is_set():
            agent.interrupt()

"""The two smolagents agent classes, bound to a `RunGroup`.

The only behaviour added to smolagents' own classes:
  - compact prompt templates (agents/prompts.py) instead of smolagents' long defaults;
  - prompts show memory through the registry's prompt view (`CallbackRegistry.prompt_view`,
    handed over by the memory-pruning callback): steps past its second horizon folded into one
    digest, and planning calls see older observations as their summaries (without a view,
    prompts are smolagents' own);
  - `run()` opens a `RunContext` for each run (including a managed agent's run under the
    manager) and closes it with the outcome, so callbacks and observers see whole runs;
  - a run refuses to start once its group is cancelled, or once the delegating parent has spent
    the step budget the river callback set (its `RiverState`);
  - a ToolCallingAgent past that budget accepts only `final_answer`.
smolagents' console output is off (stdout belongs to the MCP stdio transport).
"""

from __future__ import annotations

from typing import Any

from rich.console import Console
from smolagents import CodeAgent, ToolCallingAgent
from smolagents.memory import ActionStep
from smolagents.monitoring import AgentLogger, LogLevel
from smolagents.utils import AgentError, AgentMaxStepsError, AgentToolExecutionError

from agents.prompts import code_templates, tool_calling_templates
from agents.provider import provider_failure
from callbacks.context import RunGroup, RunStatus
from callbacks.registry import CallbackRegistry
from callbacks.river import RiverState

BUDGET_SPENT = "call final_answer now"  # the scripted policy answers when it reads this
BUDGET_SPENT_MESSAGE = (
    "River flow is turbulent: the step budget of {budget} steps is spent; " + BUDGET_SPENT + " with what you have."
)


FAILED_REPORT = (
    "Here is the final answer from your managed agent '{name}':\n"
    "### 1. Task outcome (short version):\nFAILED: {name} could not run: {failure}.\n"
    "### 2. Task outcome (extremely detailed version):\nNo findings: its model calls failed. Decide with what the other team members reported.\n"
    "### 3. Additional context (if relevant):\nThe run is stored as an error trace."
)


def quiet_logger() -> AgentLogger:
    return AgentLogger(level=LogLevel.OFF, console=Console(stderr=True))


def reached_max_steps(agent: Any) -> bool:
    steps = agent.memory.steps
    return bool(steps) and isinstance(steps[-1], ActionStep) and isinstance(steps[-1].error, AgentMaxStepsError)


class GroupAgent:
    """Mixin for a smolagents agent class; must come first in the bases."""

    run_group: RunGroup
    default_templates: Any = None  # () -> prompt_templates, per agent class

    def __init__(self, *args: Any, run_group: RunGroup, registry: CallbackRegistry, **kwargs: Any):
        kwargs.setdefault("logger", quiet_logger())
        if kwargs.get("prompt_templates") is None and self.default_templates is not None:
            kwargs["prompt_templates"] = type(self).default_templates()
        name = kwargs.get("name") or type(self).__name__
        super().__init__(*args, step_callbacks=registry.get_registry(name), **kwargs)
        self.run_group = run_group
        self.prompt_view = registry.prompt_view
        # River may lower max_steps during a run; each new run starts from the configured budget.
        self.configured_max_steps = self.max_steps
        run_group.register_agent(self)

    def write_memory_to_messages(self, summary_mode: bool = False) -> list[Any]:
        if self.prompt_view is None:
            return super().write_memory_to_messages(summary_mode=summary_mode)
        # The pruning callback's view: old steps folded into the digest, and in summary_mode
        # (how smolagents writes a plan update's history) older observations summarised.
        messages = self.memory.system_prompt.to_messages(summary_mode=summary_mode)
        for step in self.prompt_view.prompt_view(self.memory.steps, self.run_group.current(self), summary_mode):
            messages.extend(step.to_messages(summary_mode=summary_mode))
        return messages

    def run(self, task: str, *args: Any, **kwargs: Any) -> Any:
        if kwargs.get("stream"):
            raise ValueError("streaming runs are not supported: run contexts close when run() returns")
        group = self.run_group
        if group.cancelled.is_set():
            raise AgentError("Run cancelled before it started.", self.logger)
        parent = group.innermost()
        flow = parent.state(RiverState) if parent is not None and parent.agent is not None else None
        if flow is not None and flow.budget_spent(parent.agent.step_number):
            raise AgentError(BUDGET_SPENT_MESSAGE.format(budget=flow.step_budget), self.logger)
        self.max_steps = self.configured_max_steps
        ctx = group.open_run(self, task)
        try:
            output = super().run(task, *args, **kwargs)
        except BaseException as exc:
            status: RunStatus = "cancelled" if group.cancelled.is_set() else "error"
            failure = provider_failure(exc)  # the endpoint's one line, not smolagents' wrapper
            group.close_run(ctx, status, error=str(failure) if failure else f"{type(exc).__name__}: {exc}")
            raise
        group.close_run(ctx, "max_steps" if reached_max_steps(self) else "success", output=output)
        return output

    def __call__(self, task: str, **kwargs: Any) -> Any:
        # Failure isolation: a team member whose model endpoint fails reports that to its
        # manager as its result (its run is closed as `error`), so the cycle goes on.
        try:
            return super().__call__(task, **kwargs)
        except Exception as exc:
            failure = provider_failure(exc)
            if failure is None or self.run_group.cancelled.is_set():
                raise
            return FAILED_REPORT.format(name=self.name, failure=failure)


class GroupToolCallingAgent(GroupAgent, ToolCallingAgent):
    default_templates = staticmethod(tool_calling_templates)

    def execute_tool_call(self, tool_name: str, arguments: dict[str, str] | str) -> Any:
        ctx = self.run_group.current(self)
        flow = ctx.state(RiverState) if ctx is not None else None
        if tool_name != "final_answer" and flow is not None and flow.budget_spent(self.step_number):
            raise AgentToolExecutionError(BUDGET_SPENT_MESSAGE.format(budget=flow.step_budget), self.logger)
        return super().execute_tool_call(tool_name, arguments)


class GroupCodeAgent(GroupAgent, CodeAgent):
    default_templates = staticmethod(code_templates)

    def interrupt(self) -> None:
        # The run group cancels every agent this way: a code step in progress ends at once
        # (agents/safe_executor.py ends its child process), not at the next step boundary.
        super().interrupt()
        stop = getattr(self.python_executor, "interrupt", None)
        if stop is not None:
            stop()

    def run(self, task: str, *args: Any, **kwargs: Any) -> Any:
        # A run's variables live in its executor's child process: it ends with the run, so no
        # run ever sees another's and no process outlives its run.
        try:
            return super().run(task, *args, **kwargs)
        finally:
            self.cleanup()


def build_tool_agent(
    runtime: Any,
    model: Any,
    group: RunGroup,
    registry: CallbackRegistry,
    *,
    name: str,
    description: str,
    tools: list[str],
    max_steps: int,
    planning_interval: int,
    instructions: str | None = None,
) -> GroupToolCallingAgent:
    from agents.tools import make_tools

    return GroupToolCallingAgent(
        tools=make_tools(runtime, tools, group.cancelled),
        model=model,
        name=name,
        description=description,
        instructions=instructions,
        max_steps=max_steps,
        planning_interval=planning_interval,
        run_group=group,
        registry=registry,
    )

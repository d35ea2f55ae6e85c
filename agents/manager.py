"""ConsciousnessManager — runs one OODA cycle by delegating to its team.

Delegation is smolagents' own: the three phase agents are `managed_agents`; each call is a full
run of that agent, with its own callbacks and run context. Two kinds (`DIONYSUS_MANAGER`):

- `code` (the default, the CodeAgent the design names): the model writes Python that calls
  `perception(task=...)` like a function. That code is untrusted (a real model may have read a
  prompt-injected memory): it runs in a child process of its own through `SafeExecutor`
  (agents/safe_executor.py), where the team members are plain functions returning text,
  nothing is importable, and every step is bounded from outside;
- `tool-calling`: a ToolCallingAgent with the same team, which calls them as tools and writes no
  code at all.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from agents.base import GroupCodeAgent, GroupToolCallingAgent
from agents.metacognition import build_metacognition
from agents.perception import build_perception
from agents.reasoning import build_reasoning
from callbacks.context import RunGroup
from callbacks.registry import CallbackRegistry

if TYPE_CHECKING:
    from smolagents.models import Model

    from dionysus_mcp.runtime import Runtime

NAME = "ConsciousnessManager"
MAX_STEPS = 15
PLANNING_INTERVAL = 3
KINDS = ("code", "tool-calling")
DESCRIPTION = "Runs one OODA cycle by delegating to perception, reasoning and metacognition."
INSTRUCTIONS = """\
You run one OODA cycle (Observe, Orient, Decide) on the context you are given, by delegating:
1. Observe: call perception(task=...) with the instruction and a line 'Context: <the context>'.
2. Orient: call reasoning(task=...) with the context and everything perception reported.
3. Decide: call metacognition(task=...) with the context and everything reasoning reported.
Call one team member per step and print its report. Then finish with
final_answer({"decision": "<one or two sentences>", "actions": ["<concrete next step>", ...], "confidence": <0..1>})
built only from what the team reported."""
TOOL_INSTRUCTIONS = """\
You run one OODA cycle (Observe, Orient, Decide) on the context you are given, by delegating:
1. Observe: call perception with a task holding the instruction and a line 'Context: <the context>'.
2. Orient: call reasoning with the context and everything perception reported.
3. Decide: call metacognition with the context and everything reasoning reported.
Call one team member per step. Then call final_answer with a JSON object
{"decision": "<one or two sentences>", "actions": ["<concrete next step>", ...], "confidence": <0..1>}
built only from what the team reported."""


def build_manager(
    runtime: "Runtime",
    model_for: Callable[[str], "Model"],
    group: RunGroup,
    registry: CallbackRegistry,
    max_steps: int = MAX_STEPS,
) -> GroupCodeAgent | GroupToolCallingAgent:
    """`model_for(role)` gives each agent its own model (the scripted policy is per role)."""
    team = [
        build_perception(runtime, model_for("perception"), group, registry),
        build_reasoning(runtime, model_for("reasoning"), group, registry),
        build_metacognition(runtime, model_for("metacognition"), group, registry),
    ]
    common = dict(
        tools=[],
        model=model_for("manager"),
        managed_agents=team,
        name=NAME,
        description=DESCRIPTION,
        max_steps=max_steps,
        planning_interval=PLANNING_INTERVAL,
        run_group=group,
        registry=registry,
    )
    if getattr(runtime.settings, "manager", "code") == "tool-calling":
        return GroupToolCallingAgent(instructions=TOOL_INSTRUCTIONS, **common)
    from agents.safe_executor import SafeExecutor

    # Started here, in the run's worker thread: the child boots while the model plans.
    executor = SafeExecutor(runtime.settings.code_step_timeout_s, group.cancelled, max_steps=max_steps)
    try:
        manager = GroupCodeAgent(instructions=INSTRUCTIONS, executor_type="local", executor=executor, **common)
    except BaseException:
        executor.close()
        raise
    # What the system prompt lists as importable: nothing, as the sandbox enforces (smolagents
    # would list its base modules).
    manager.authorized_imports = []
    return manager

"""ConsciousnessManager — a CodeAgent that runs one OODA cycle by delegating to its team.

Delegation is smolagents' own: the three phase agents are `managed_agents`, which the manager's
code calls like functions (`perception(task=...)`); each call is a full run of that agent, with
its own callbacks and run context. The code is untrusted (a real model may have read a
prompt-injected memory): it runs in `SafeExecutor` (agents/safe_executor.py), where the team
members are plain functions returning text, nothing is importable, and each step is bounded.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from agents.base import GroupCodeAgent
from agents.metacognition import build_metacognition
from agents.perception import build_perception
from agents.reasoning import build_reasoning
from agents.safe_executor import SafeExecutor
from callbacks.context import RunGroup
from callbacks.registry import CallbackRegistry

if TYPE_CHECKING:
    from smolagents.models import Model

    from dionysus_mcp.runtime import Runtime

NAME = "ConsciousnessManager"
MAX_STEPS = 15
PLANNING_INTERVAL = 3
INSTRUCTIONS = """\
You run one OODA cycle (Observe, Orient, Decide) on the context you are given, by delegating:
1. Observe: call perception(task=...) with the instruction and a line 'Context: <the context>'.
2. Orient: call reasoning(task=...) with the context and everything perception reported.
3. Decide: call metacognition(task=...) with the context and everything reasoning reported.
Call one team member per step and print its report. Then finish with
final_answer({"decision": "<one or two sentences>", "actions": ["<concrete next step>", ...], "confidence": <0..1>})
built only from what the team reported."""


def build_manager(
    runtime: "Runtime",
    model_for: Callable[[str], "Model"],
    group: RunGroup,
    registry: CallbackRegistry,
    max_steps: int = MAX_STEPS,
) -> GroupCodeAgent:
    """`model_for(role)` gives each agent its own model (the scripted policy is per role)."""
    team = [
        build_perception(runtime, model_for("perception"), group, registry),
        build_reasoning(runtime, model_for("reasoning"), group, registry),
        build_metacognition(runtime, model_for("metacognition"), group, registry),
    ]
    manager = GroupCodeAgent(
        tools=[],
        model=model_for("manager"),
        managed_agents=team,
        name=NAME,
        description="Runs one OODA cycle by delegating to perception, reasoning and metacognition.",
        instructions=INSTRUCTIONS,
        max_steps=max_steps,
        planning_interval=PLANNING_INTERVAL,
        executor_type="local",
        executor=SafeExecutor(runtime.settings.code_step_timeout_s, group.cancelled),
        run_group=group,
        registry=registry,
    )
    # What the system prompt lists as importable: nothing, as SafeExecutor enforces (smolagents
    # would list its base modules).
    manager.authorized_imports = []
    return manager

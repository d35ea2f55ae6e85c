"""HeartbeatAgent — a periodic self-check: observe, survey basins, recall, check coherence, note it.

The task states the step budget ("Step budget: N steps."), as an operator would tell an LLM; the
agent is built with the same `max_steps`. The scripted policy spends the whole budget looking
around (survey → recall → coherence → recall, repeated) and still ends with its note and answer;
a real model is told to answer once its note is written, not to fill the budget.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from agents.base import GroupToolCallingAgent, build_tool_agent
from callbacks.context import RunGroup
from callbacks.registry import CallbackRegistry

if TYPE_CHECKING:
    from smolagents.models import Model

    from dionysus_mcp.runtime import Runtime

NAME = "HeartbeatAgent"
DESCRIPTION = "Periodic self-check of the cognitive layer: environment, basins, recall, coherence; ends with a note."
TOOLS = ["observe_environment", "semantic_recall", "assess_coherence", "list_basins", "remember"]
MAX_STEPS = 10
PLANNING_INTERVAL = 3  # smolagents plans before steps 1, 4, 7, 10
# No "use the whole budget": a real model told so runs into its step limit instead of answering.
INSTRUCTIONS = "One tool call per step; once the note is written, answer with final_answer."


def heartbeat_task(max_steps: int = MAX_STEPS) -> str:
    return (
        "Heartbeat: review the state of the cognitive layer. Observe the environment, survey the basins, "
        "recall what the most active basins hold, check coherence as you go, write a short heartbeat note "
        f"with remember, and answer with a summary of what you found. Step budget: {max_steps} steps."
    )


TASK = heartbeat_task(MAX_STEPS)


def build_heartbeat(
    runtime: "Runtime",
    model: "Model",
    group: RunGroup,
    registry: CallbackRegistry,
    max_steps: int = MAX_STEPS,
) -> GroupToolCallingAgent:
    """Run it with `heartbeat_task(max_steps)` (TASK for the default budget)."""
    if max_steps < 1:
        raise ValueError(f"max_steps must be at least 1, got {max_steps}")
    return build_tool_agent(
        runtime,
        model,
        group,
        registry,
        name=NAME,
        description=DESCRIPTION,
        tools=TOOLS,
        max_steps=max_steps,
        planning_interval=PLANNING_INTERVAL,
        instructions=INSTRUCTIONS,
    )

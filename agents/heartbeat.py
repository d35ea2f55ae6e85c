"""HeartbeatAgent — a periodic self-check: observe, survey basins, recall, check coherence, note it."""

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
TASK = (
    "Heartbeat: review the state of the cognitive layer. Observe the environment, survey the basins, "
    "recall what the most active basins hold, check coherence as you go, write a short heartbeat note "
    "with remember, and answer with a summary of what you found."
)
INSTRUCTIONS = "Use the whole step budget to look around before answering; one tool call per step."


def build_heartbeat(runtime: "Runtime", model: "Model", group: RunGroup, registry: CallbackRegistry) -> GroupToolCallingAgent:
    return build_tool_agent(
        runtime,
        model,
        group,
        registry,
        name=NAME,
        description=DESCRIPTION,
        tools=TOOLS,
        max_steps=MAX_STEPS,
        planning_interval=PLANNING_INTERVAL,
        instructions=INSTRUCTIONS,
    )

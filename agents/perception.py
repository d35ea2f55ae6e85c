"""perception — the Observe phase: what the cognitive layer holds that bears on the situation."""

from __future__ import annotations

from typing import TYPE_CHECKING

from agents.base import GroupToolCallingAgent, build_tool_agent
from callbacks.context import RunGroup
from callbacks.registry import CallbackRegistry

if TYPE_CHECKING:
    from smolagents.models import Model

    from dionysus_mcp.runtime import Runtime

NAME = "perception"
DESCRIPTION = (
    "OODA Observe phase. Give it the situation (a line 'Context: ...'); it observes the environment, "
    "recalls related memories, looks up principles, captures the moment as a MOSAEIC experience and "
    "reports what it found, including 'Recalled basins: ...'."
)
TOOLS = ["observe_environment", "semantic_recall", "mosaeic_capture", "query_wisdom"]


def build_perception(runtime: "Runtime", model: "Model", group: RunGroup, registry: CallbackRegistry) -> GroupToolCallingAgent:
    return build_tool_agent(
        runtime, model, group, registry, name=NAME, description=DESCRIPTION, tools=TOOLS, max_steps=5, planning_interval=2
    )

"""reasoning — the Orient phase: which basins, memories and principles matter most."""

from __future__ import annotations

from typing import TYPE_CHECKING

from agents.base import GroupToolCallingAgent, build_tool_agent
from callbacks.context import RunGroup
from callbacks.registry import CallbackRegistry

if TYPE_CHECKING:
    from smolagents.models import Model

    from dionysus_mcp.runtime import Runtime

NAME = "reasoning"
DESCRIPTION = (
    "OODA Orient phase. Give it the situation ('Context: ...') and what perception reported; it "
    "recalls and weighs memories, principles and the active basins and reports 'Relevant basins: ...', "
    "'Top memory: ...' and 'Principle: ...'."
)
TOOLS = ["semantic_recall", "query_wisdom", "list_basins"]


def build_reasoning(runtime: "Runtime", model: "Model", group: RunGroup, registry: CallbackRegistry) -> GroupToolCallingAgent:
    return build_tool_agent(
        runtime, model, group, registry, name=NAME, description=DESCRIPTION, tools=TOOLS, max_steps=5, planning_interval=2
    )

"""metacognition — the Decide phase: check coherence, commit focus, record the decision."""

from __future__ import annotations

from typing import TYPE_CHECKING

from agents.base import GroupToolCallingAgent, build_tool_agent
from callbacks.context import RunGroup
from callbacks.registry import CallbackRegistry

if TYPE_CHECKING:
    from smolagents.models import Model

    from dionysus_mcp.runtime import Runtime

NAME = "metacognition"
DESCRIPTION = (
    "OODA Decide phase. Give it the situation ('Context: ...') and what reasoning reported; it "
    "assesses coherence, activates the basin to focus on, records the decision as a memory and "
    "reports 'Recommended focus: ...' and 'Coherence after: ...'."
)
TOOLS = ["assess_coherence", "activate_basin", "remember"]


def build_metacognition(runtime: "Runtime", model: "Model", group: RunGroup, registry: CallbackRegistry) -> GroupToolCallingAgent:
    return build_tool_agent(
        runtime, model, group, registry, name=NAME, description=DESCRIPTION, tools=TOOLS, max_steps=5, planning_interval=2
    )

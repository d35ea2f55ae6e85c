"""MCP tools that correct and forget: update_memory, forget_memory, delete_basin, delete_wisdom
and delete_traces. The deleting ones are annotated destructive; each says what it removed, and a
target that does not exist is an error saying so (nothing is deleted then)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from mcp.server import MCPServer
from pydantic import Field

from dionysus_mcp.cognition.basins import BasinRemoval
from dionysus_mcp.cognition.memory import ForgetResult, MemoryView
from dionysus_mcp.cognition.wisdom import WisdomRemoval
from dionysus_mcp.runtime import Runtime
from dionysus_mcp.surface.common import DESTRUCTIVE, UPSERT, Moment, number, tool
from dionysus_mcp.traces.retention import TraceDeletion

MemoryId = Annotated[str, Field(min_length=1, max_length=200, description="A memory id (remember and semantic_recall return them).")]
Text = Annotated[str, Field(min_length=1, max_length=200)]


def register(server: MCPServer, rt: Callable[[], Runtime]) -> None:
    @tool(server, "Update a memory", UPSERT)
    async def update_memory(
        memory_id: MemoryId,
        content: Annotated[str | None, Field(min_length=1, max_length=20000)] = None,
        kind: Annotated[str | None, Field(min_length=1, max_length=50)] = None,
        tags: Annotated[list[Annotated[str, Field(min_length=1, max_length=100)]] | None, Field(max_length=30)] = None,
        importance: number(optional=True, ge=0.0, le=1.0) = None,
        basins: Annotated[
            list[Text] | None,
            Field(max_length=20, description="Replace the basins it is attached to ([] detaches it from all)."),
        ] = None,
    ) -> MemoryView:
        """Change a memory: only the fields given change, the rest keep their values. Recall
        sees the new content at once."""
        return await rt().memory.update_memory(memory_id, content, kind, tags, importance, basins)

    @tool(server, "Forget a memory", DESTRUCTIVE)
    async def forget_memory(memory_id: MemoryId) -> ForgetResult:
        """Delete a memory and its basin attachments for good."""
        return await rt().memory.forget_memory(memory_id)

    @tool(server, "Delete a basin", DESTRUCTIVE)
    async def delete_basin(name: Annotated[str, Field(min_length=1, max_length=200, description="Basin name (or id).")]) -> BasinRemoval:
        """Delete a basin with its links to other basins and its activations in agent runs. Its
        memories are kept, detached from it. Says how many links, attachments and activations
        went with it."""
        return await rt().basins.delete_basin(name)

    @tool(server, "Delete a principle", DESTRUCTIVE)
    async def delete_wisdom(wisdom_id: Annotated[str, Field(min_length=1, max_length=200, description="A principle id (add_wisdom and query_wisdom return them).")]) -> WisdomRemoval:
        """Delete a stored principle."""
        return await rt().wisdom.delete_wisdom(wisdom_id)

    @tool(server, "Delete agent runs", DESTRUCTIVE)
    async def delete_traces(
        trace_ids: Annotated[list[Text] | None, Field(max_length=1000, description="Runs to delete by id.")] = None,
        before: Annotated[Moment | None, Field(description="Delete runs started before this time.")] = None,
        agent_name: Annotated[str | None, Field(min_length=1, max_length=200, description="Delete runs of this agent.")] = None,
    ) -> TraceDeletion:
        """Delete agent runs with their steps and delegated sub-runs: by id, or every run started
        before a time and/or of one agent. Give ids or filters, not both."""
        return await rt().retention.delete_traces(trace_ids, before, agent_name)

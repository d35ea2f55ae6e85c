"""MCP tools that correct and forget: update_memory, forget_memory, delete_basin, delete_wisdom
and delete_traces. The deleting ones are annotated destructive; each says what it removed, and a
target that does not exist is an error saying so (nothing is deleted then). Parameters, titles
and descriptions are the operations' input models (cognition/inputs.py, traces/inputs.py)."""

from __future__ import annotations

from collections.abc import Callable

from mcp.server import MCPServer

from dionysus_mcp.cognition import inputs as op
from dionysus_mcp.cognition.basins import BasinRemoval
from dionysus_mcp.cognition.memory import ForgetResult, MemoryView
from dionysus_mcp.cognition.wisdom import WisdomRemoval
from dionysus_mcp.runtime import Runtime
from dionysus_mcp.surface.common import DESTRUCTIVE, UPSERT, operation_tool
from dionysus_mcp.traces.inputs import DeleteTraces
from dionysus_mcp.traces.retention import TraceDeletion


def register(server: MCPServer, rt: Callable[[], Runtime]) -> None:
    @operation_tool(server, op.UpdateMemory, UPSERT)
    async def update_memory(args: op.UpdateMemory) -> MemoryView:
        return await rt().memory.update_memory(args.memory_id, args.content, args.kind, args.tags, args.importance, args.basins)

    @operation_tool(server, op.ForgetMemory, DESTRUCTIVE)
    async def forget_memory(args: op.ForgetMemory) -> ForgetResult:
        return await rt().memory.forget_memory(args.memory_id)

    @operation_tool(server, op.DeleteBasin, DESTRUCTIVE)
    async def delete_basin(args: op.DeleteBasin) -> BasinRemoval:
        return await rt().basins.delete_basin(args.name)

    @operation_tool(server, op.DeleteWisdom, DESTRUCTIVE)
    async def delete_wisdom(args: op.DeleteWisdom) -> WisdomRemoval:
        return await rt().wisdom.delete_wisdom(args.wisdom_id)

    @operation_tool(server, DeleteTraces, DESTRUCTIVE)
    async def delete_traces(args: DeleteTraces) -> TraceDeletion:
        return await rt().retention.delete_traces(args.trace_ids, args.before, args.agent_name)

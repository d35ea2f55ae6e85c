"""MCP tools and resources over the execution traces (read-only). Parameters, titles and
descriptions are the operations' input models (dionysus_mcp/traces/inputs.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mcp.server import MCPServer
from pydantic import BaseModel

from dionysus_mcp.runtime import Runtime
from dionysus_mcp.surface.common import READ_ONLY, explained_resource, operation_tool
from dionysus_mcp.traces import TokenUsageReport, TraceDetail, TracePage
from dionysus_mcp.traces import inputs as op
from dionysus_mcp.traces.diff import TraceDiff
from dionysus_mcp.traces.digest import TraceDigest


class Replay(BaseModel):
    trace_id: str
    markdown: str


def register(server: MCPServer, rt: Callable[[], Runtime], meta: dict[str, Any] | None = None) -> None:
    """`meta` goes on list_traces, get_trace and diff_traces (the trace viewer's MCP App)."""

    @operation_tool(server, op.ListTraces, READ_ONLY, meta)
    async def list_traces(args: op.ListTraces) -> TracePage:
        return await rt().traces.list_traces(
            args.agent_name, args.status, args.since, args.until, args.limit, args.cursor, args.roots_only
        )

    @operation_tool(server, op.GetTrace, READ_ONLY, meta)
    async def get_trace(args: op.GetTrace) -> dict[str, Any]:
        # A plain object, not a union of the two models: mcp would wrap a union in {"result": …}.
        read: TraceDigest | TraceDetail = await rt().traces.read_trace(args.trace_id, args.detail, args.steps_from, args.steps_limit)
        return read.model_dump(mode="json", exclude_none=isinstance(read, TraceDigest))

    @operation_tool(server, op.DiffTraces, READ_ONLY, meta)
    async def diff_traces(args: op.DiffTraces) -> TraceDiff:
        return await rt().traces.diff(args.a, args.b)

    @operation_tool(server, op.ReplayTrace, READ_ONLY)
    async def replay_trace(args: op.ReplayTrace) -> Replay:
        return Replay(trace_id=args.trace_id, markdown=await rt().traces.replay(args.trace_id))

    @operation_tool(server, op.GetTokenUsage, READ_ONLY)
    async def get_token_usage(args: op.GetTokenUsage) -> TokenUsageReport:
        return await rt().traces.token_usage(args.agent_name, args.since)

    @server.resource("trace://{trace_id}", mime_type="application/json", description="A run as JSON (get_trace).")
    @explained_resource
    async def trace_resource(trace_id: str) -> str:
        return (await rt().traces.get_trace(trace_id)).model_dump_json(indent=2)

    @server.resource("trace://{trace_id}/replay", mime_type="text/markdown", description="A run as a markdown narrative.")
    @explained_resource
    async def trace_replay_resource(trace_id: str) -> str:
        return await rt().traces.replay(trace_id)

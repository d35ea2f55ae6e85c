"""MCP tools and resources over the execution traces (read-only)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal

from mcp.server import MCPServer
from pydantic import BaseModel, Field

from dionysus_mcp.runtime import Runtime
from dionysus_mcp.surface.common import READ_ONLY, Moment, explained_resource, tool, whole
from dionysus_mcp.traces import TokenUsageReport, TraceDetail, TracePage
from dionysus_mcp.traces.diff import TraceDiff
from dionysus_mcp.traces.digest import TraceDigest

TraceId = Annotated[str, Field(min_length=1, max_length=200, description="A trace id from list_traces.")]
Status = Literal["running", "success", "max_steps", "error", "cancelled", "interrupted"]


class Replay(BaseModel):
    trace_id: str
    markdown: str


def register(server: MCPServer, rt: Callable[[], Runtime], meta: dict[str, Any] | None = None) -> None:
    """`meta` goes on list_traces, get_trace and diff_traces (the trace viewer's MCP App)."""

    @tool(server, "List agent runs", READ_ONLY, meta)
    async def list_traces(
        agent_name: Annotated[str | None, Field(max_length=200)] = None,
        status: Status | None = None,
        since: Moment | None = None,
        until: Moment | None = None,
        limit: whole(ge=1, le=500) = 20,
        cursor: Annotated[str | None, Field(max_length=500, description="next_cursor of the previous page.")] = None,
        roots_only: Annotated[bool, Field(description="Only top-level runs, not delegated sub-runs.")] = False,
    ) -> TracePage:
        """List agent runs, newest first, with filters and a pagination cursor."""
        return await rt().traces.list_traces(agent_name, status, since, until, limit, cursor, roots_only)

    @tool(server, "Get an agent run", READ_ONLY, meta)
    async def get_trace(
        trace_id: TraceId,
        detail: Annotated[Literal["summary", "full"], Field(description="summary (default, a few KB) or full.")] = "summary",
        steps_from: whole(optional=True, ge=0, description="full only: first step (its index) of the page.") = None,
        steps_limit: whole(optional=True, ge=1, le=500, description="full only: steps in the page.") = None,
    ) -> dict[str, Any]:
        """One run. detail="summary": outcome, each phase's result, tokens, basins, errors and
        an index of the steps with previews of long texts. detail="full": the ordered steps
        (tool calls, whole observations, plans, errors, tokens, timing), sub-runs and basins;
        steps_from / steps_limit page the run's own steps (next_steps_from gives the next page)."""
        # A plain object, not a union of the two models: mcp would wrap a union in {"result": …}.
        read: TraceDigest | TraceDetail = await rt().traces.read_trace(trace_id, detail, steps_from, steps_limit)
        return read.model_dump(mode="json", exclude_none=isinstance(read, TraceDigest))

    @tool(server, "Compare two agent runs", READ_ONLY, meta)
    async def diff_traces(a: TraceId, b: TraceId) -> TraceDiff:
        """Compare two runs: steps aligned (sub-runs by agent and order), the tool calls and
        outcomes that differ, token and duration deltas (B minus A)."""
        return await rt().traces.diff(a, b)

    @tool(server, "Replay an agent run", READ_ONLY)
    async def replay_trace(trace_id: TraceId) -> Replay:
        """A readable step-by-step markdown narrative of a run and its sub-runs."""
        return Replay(trace_id=trace_id, markdown=await rt().traces.replay(trace_id))

    @tool(server, "Token usage", READ_ONLY)
    async def get_token_usage(
        agent_name: Annotated[str | None, Field(max_length=200)] = None, since: Moment | None = None
    ) -> TokenUsageReport:
        """Token totals with per-agent and per-model breakdown, including what pruning saved."""
        return await rt().traces.token_usage(agent_name, since)

    @server.resource("trace://{trace_id}", mime_type="application/json", description="A run as JSON (get_trace).")
    @explained_resource
    async def trace_resource(trace_id: str) -> str:
        return (await rt().traces.get_trace(trace_id)).model_dump_json(indent=2)

    @server.resource("trace://{trace_id}/replay", mime_type="text/markdown", description="A run as a markdown narrative.")
    @explained_resource
    async def trace_replay_resource(trace_id: str) -> str:
        return await rt().traces.replay(trace_id)

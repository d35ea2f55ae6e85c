"""The inputs of every trace operation, one model each (the contract: dionysus_mcp/inputs.py).

The trace service and retention read their limits from these models; the MCP tools
(surface/trace_tools.py, surface/manage_tools.py), the REST routes' status values and the
command line's choices come from them.
"""

from typing import Annotated, ClassVar, Literal

from pydantic import Field

from dionysus_mcp.inputs import Moment, Operation, whole
from schema.models import TraceStatus

TraceId = Annotated[
    str, Field(min_length=1, max_length=200, description="A trace id from list_traces.", examples=["run-5d1c0f7a9b2e"])
]
AgentName = Annotated[str | None, Field(max_length=200, description="Only runs of this agent.", examples=["ConsciousnessManager"])]
Detail = Literal["summary", "full"]


class ListTraces(Operation):
    """List agent runs, newest first, with filters and a pagination cursor."""

    tool: ClassVar[str] = "list_traces"
    title: ClassVar[str] = "List agent runs"
    agent_name: AgentName = None
    status: Annotated[TraceStatus | None, Field(description="Only runs that ended so (or are running).")] = None
    since: Annotated[Moment | None, Field(description="Only runs started at or after this time.")] = None
    until: Annotated[Moment | None, Field(description="Only runs started before this time.")] = None
    limit: whole(ge=1, le=500, description="Runs in the page.") = 20
    cursor: Annotated[str | None, Field(max_length=500, description="next_cursor of the previous page.")] = None
    roots_only: Annotated[bool, Field(description="Only top-level runs, not delegated sub-runs.")] = False


class GetTrace(Operation):
    """One run. detail="summary": outcome, each phase's result, tokens, basins, errors and
    an index of the steps with previews of long texts. detail="full": the ordered steps
    (tool calls, whole observations, plans, errors, tokens, timing), sub-runs and basins;
    steps_from / steps_limit page the run's own steps (next_steps_from gives the next page)."""

    tool: ClassVar[str] = "get_trace"
    title: ClassVar[str] = "Get an agent run"
    trace_id: TraceId
    detail: Annotated[Detail, Field(description="summary (default, a few KB) or full.")] = "summary"
    steps_from: whole(optional=True, ge=0, description="full only: first step (its index) of the page.") = None
    steps_limit: whole(optional=True, ge=1, le=500, description="full only: steps in the page.") = None


class DiffTraces(Operation):
    """Compare two runs: steps aligned (sub-runs by agent and order), the tool calls and
    outcomes that differ, token and duration deltas (B minus A)."""

    tool: ClassVar[str] = "diff_traces"
    title: ClassVar[str] = "Compare two agent runs"
    a: TraceId
    b: TraceId


class ReplayTrace(Operation):
    """A readable step-by-step markdown narrative of a run and its sub-runs."""

    tool: ClassVar[str] = "replay_trace"
    title: ClassVar[str] = "Replay an agent run"
    trace_id: TraceId


class GetTokenUsage(Operation):
    """Token totals with per-agent and per-model breakdown, including what pruning saved."""

    tool: ClassVar[str] = "get_token_usage"
    title: ClassVar[str] = "Token usage"
    agent_name: AgentName = None
    since: Annotated[Moment | None, Field(description="Only runs started at or after this time.")] = None


class DeleteTraces(Operation):
    """Delete agent runs with their steps and delegated sub-runs: by id, or every run started
    before a time and/or of one agent. Give ids or filters, not both."""

    tool: ClassVar[str] = "delete_traces"
    title: ClassVar[str] = "Delete agent runs"
    trace_ids: Annotated[
        list[Annotated[str, Field(min_length=1, max_length=200)]] | None,
        Field(max_length=1000, description="Runs to delete by id."),
    ] = None
    before: Annotated[Moment | None, Field(description="Delete runs started before this time.")] = None
    agent_name: Annotated[str | None, Field(min_length=1, max_length=200, description="Delete runs of this agent.")] = None

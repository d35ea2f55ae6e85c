"""Trace writes on Neo4j as Cypher statements: one builder per kind of
`schema.trace_writes.TraceWrite`, chosen by `statements` with one `match`; a batch of writes is
one transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from schema.models import StepRecord, TraceBasinLink, TraceOwner, TraceRecord, TraceStatus, to_iso

from schema.trace_writes import AddStep, CompleteTrace, CreateTrace, LinkTraceBasin, SetTraceOwner, TraceWrite

from ..base import StoreError
from ..records import dumps_sorted, encode_tool_calls, given_totals

Statement = tuple[str, dict[str, Any]]

_CREATE_TRACE = """
MERGE (t:AgentExecutionTrace {id: $id})
ON CREATE SET t += $props
"""

# The parent may arrive after the child (replays): link whichever pair exists now.
_LINK_PARENT = """
MATCH (p:AgentExecutionTrace {id: $parent_id})
MATCH (t:AgentExecutionTrace {id: $id})
MERGE (p)-[d:DELEGATED_TO]->(t)
ON CREATE SET d.at_step = t.parent_step
"""

_ADOPT_CHILDREN = """
MATCH (t:AgentExecutionTrace {id: $id})
MATCH (c:AgentExecutionTrace {parent_id: $id})
MERGE (t)-[d:DELEGATED_TO]->(c)
ON CREATE SET d.at_step = c.parent_step
"""

_ADOPT_STEPS = """
MATCH (t:AgentExecutionTrace {id: $id})
MATCH (s:AgentExecutionStep {trace_id: $id})
MERGE (t)-[h:HAS_STEP]->(s)
SET h.order = s.step_number
"""

_UPSERT_STEP = """
MERGE (s:AgentExecutionStep {id: $id})
SET s = $props
"""

_LINK_STEP = """
MATCH (t:AgentExecutionTrace {id: $trace_id})
MATCH (s:AgentExecutionStep {id: $id})
MERGE (t)-[h:HAS_STEP]->(s)
SET h.order = $step_number
"""

_COMPLETE_TRACE = """
MATCH (t:AgentExecutionTrace {id: $id})
SET t.status = $status, t.completed_at = $completed_at, t.summary = $summary, t.error = $error
SET t += $totals
"""

_LINK_TRACE_BASIN = """
MATCH (t:AgentExecutionTrace {id: $trace_id})
MATCH (b:AttractorBasin {id: $basin_id})
MERGE (t)-[r:ACTIVATED_BASIN {at_step: $at_step}]->(b)
SET r.strength = $strength
"""


def _drop_none(props: dict[str, Any]) -> dict[str, Any]:
    # Neo4j does not store nulls (setting one removes the property); leave them out explicitly.
    return {k: v for k, v in props.items() if v is not None}


def _trace_props(trace: TraceRecord) -> dict[str, Any]:
    props = trace.model_dump(exclude={"metadata", "started_at", "completed_at"})
    props["started_at"] = to_iso(trace.started_at)
    props["completed_at"] = to_iso(trace.completed_at)
    props["metadata"] = dumps_sorted(trace.metadata)
    return _drop_none(props)


def _step_props(step: StepRecord) -> dict[str, Any]:
    props = step.model_dump(exclude={"tool_calls", "started_at", "completed_at"})
    props["started_at"] = to_iso(step.started_at)
    props["completed_at"] = to_iso(step.completed_at)
    props["tool_calls"] = encode_tool_calls(step.tool_calls)
    return _drop_none(props)


def create_trace_statements(trace: TraceRecord) -> list[Statement]:
    out: list[Statement] = [(_CREATE_TRACE, {"id": trace.id, "props": _trace_props(trace)})]
    if trace.parent_id is not None:
        out.append((_LINK_PARENT, {"id": trace.id, "parent_id": trace.parent_id}))
    out.append((_ADOPT_CHILDREN, {"id": trace.id}))
    out.append((_ADOPT_STEPS, {"id": trace.id}))
    return out


def add_step_statements(step: StepRecord) -> list[Statement]:
    return [
        (_UPSERT_STEP, {"id": step.id, "props": _step_props(step)}),
        (_LINK_STEP, {"id": step.id, "trace_id": step.trace_id, "step_number": step.step_number}),
    ]


def complete_trace_statements(
    trace_id: str, status: TraceStatus, completed_at: datetime, summary: str | None, error: str | None, totals: dict[str, int]
) -> list[Statement]:
    params = {
        "id": trace_id,
        "status": status,
        "completed_at": to_iso(completed_at),
        "summary": summary,
        "error": error,
        "totals": given_totals(totals),
    }
    return [(_COMPLETE_TRACE, params)]


def link_trace_basin_statements(link: TraceBasinLink) -> list[Statement]:
    params = {"trace_id": link.trace_id, "basin_id": link.basin_id, "at_step": int(link.at_step), "strength": float(link.strength)}
    return [(_LINK_TRACE_BASIN, params)]


_SET_OWNER = """
MATCH (t:AgentExecutionTrace {id: $id})
SET t.owner_host = $host, t.owner_pid = $pid, t.owner_token = $token, t.lease_until = $lease_until
"""


def set_trace_owner_statements(trace_id: str, owner: TraceOwner) -> list[Statement]:
    params = {"id": trace_id, "host": owner.host, "pid": owner.pid, "token": owner.token,
              "lease_until": to_iso(owner.lease_until)}
    return [(_SET_OWNER, params)]


def statements(write: TraceWrite) -> list[Statement]:
    """The statements of one trace write (a batch of them is one transaction)."""
    match write:
        case CreateTrace(trace=trace):
            return create_trace_statements(trace)
        case AddStep(step=step):
            return add_step_statements(step)
        case CompleteTrace():
            return complete_trace_statements(write.trace_id, write.status, write.completed_at, write.summary, write.error, write.totals)
        case LinkTraceBasin(link=link):
            return link_trace_basin_statements(link)
        case SetTraceOwner(trace_id=trace_id, owner=owner):
            return set_trace_owner_statements(trace_id, owner)
        case _:
            raise StoreError(f"not a trace write: {write!r}")

"""Agent execution traces and steps on Neo4j: tolerant writes, reads, filters, paging, totals.

    (:AgentExecutionTrace {...})-[:HAS_STEP {order}]->(:AgentExecutionStep {...})
    (parent:AgentExecutionTrace)-[:DELEGATED_TO {at_step}]->(child:AgentExecutionTrace)
    (:AgentExecutionTrace)-[:ACTIVATED_BASIN {strength, at_step}]->(:AttractorBasin)

Steps and children are also found through their `trace_id` / `parent_id` properties (indexed),
so a write that arrives before the node it refers to (replays) is still found; create_trace
attaches such early arrivals with the relationships as soon as the trace exists. Trace metadata
and a step's tool calls are JSON strings, decoded on read.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from schema.models import StepRecord, TraceBasinLink, TraceFilter, TraceRecord, from_iso, to_iso

from schema.trace_writes import TraceWrite

from ..base import Traces
from ..records import decode_tool_calls, json_or_none, step_sort_key
from .connection import Neo4jPart, _run_consume
from .trace_removal import delete_traces
from .trace_writes import statements as statements_of

_GET_TRACE = "MATCH (t:AgentExecutionTrace {id: $id}) RETURN properties(t) AS props"
_GET_STEPS = "MATCH (s:AgentExecutionStep {trace_id: $id}) RETURN properties(s) AS props"

_GET_CHILDREN = """
MATCH (c:AgentExecutionTrace {parent_id: $id})
RETURN properties(c) AS props, c.started_at AS started_at, c.id AS id
ORDER BY started_at, id
"""

_GET_TRACE_BASINS = """
MATCH (t:AgentExecutionTrace {id: $id})-[r:ACTIVATED_BASIN]->(b:AttractorBasin)
RETURN b.id AS basin_id, b.name AS basin_name, r.strength AS strength, r.at_step AS at_step
ORDER BY at_step, basin_name
"""

_COUNT_TRACES = "MATCH (t:AgentExecutionTrace) RETURN count(t) AS n"
# list_traces and token_totals put a WHERE clause from `_trace_where` between these fixed parts.
_MATCH_TRACES = "MATCH (t:AgentExecutionTrace) "
_LIST_TRACES_TAIL = (
    " RETURN properties(t) AS props, t.started_at AS started_at, t.id AS id"
    " ORDER BY started_at DESC, id DESC LIMIT $limit"
)
_TOKEN_TOTALS_TAIL = (
    " WITH t.agent_name AS agent_name, coalesce(t.model, '') AS model,"
    " count(t) AS runs, sum(coalesce(t.input_tokens, 0)) AS input_tokens,"
    " sum(coalesce(t.output_tokens, 0)) AS output_tokens,"
    " sum(coalesce(t.pruned_tokens_saved, 0)) AS pruned_tokens_saved"
    " RETURN agent_name, model, runs, input_tokens, output_tokens, pruned_tokens_saved"
    " ORDER BY agent_name, model"
)
_TOTALS_FIELDS = ("runs", "input_tokens", "output_tokens", "pruned_tokens_saved")


def _trace_where(flt: TraceFilter, params: dict[str, Any], after: tuple[datetime, str] | None = None) -> str:
    """A WHERE clause from fixed fragments; the values go into `params`."""
    clauses: list[str] = []
    if flt.agent_name is not None:
        clauses.append("t.agent_name = $agent_name")
        params["agent_name"] = flt.agent_name
    if flt.status is not None:
        clauses.append("t.status = $status")
        params["status"] = flt.status
    if flt.since is not None:
        clauses.append("t.started_at >= $since")
        params["since"] = to_iso(flt.since)
    if flt.until is not None:
        clauses.append("t.started_at <= $until")
        params["until"] = to_iso(flt.until)
    if flt.parent_id is not None:
        clauses.append("t.parent_id = $parent_id")
        params["parent_id"] = flt.parent_id
    if flt.roots_only:
        clauses.append("t.parent_id IS NULL")
    if after is not None:
        clauses.append("(t.started_at < $after_started OR (t.started_at = $after_started AND t.id < $after_id))")
        params["after_started"] = to_iso(after[0])
        params["after_id"] = after[1]
    return ("WHERE " + " AND ".join(clauses)) if clauses else ""


def _trace(p: dict[str, Any]) -> TraceRecord:
    return TraceRecord(
        id=p["id"],
        run_id=p["run_id"],
        agent_name=p["agent_name"],
        parent_id=p.get("parent_id"),
        parent_step=p.get("parent_step"),
        model=p.get("model") or "",
        task=p.get("task") or "",
        status=p.get("status") or "running",
        summary=p.get("summary"),
        error=p.get("error"),
        started_at=from_iso(p["started_at"]),
        completed_at=from_iso(p.get("completed_at")),
        input_tokens=int(p.get("input_tokens") or 0),
        output_tokens=int(p.get("output_tokens") or 0),
        pruned_tokens_saved=int(p.get("pruned_tokens_saved") or 0),
        step_count=int(p.get("step_count") or 0),
        metadata=json_or_none(p.get("metadata")) or {},
    )


def _step(p: dict[str, Any]) -> StepRecord:
    return StepRecord(
        id=p["id"],
        trace_id=p["trace_id"],
        step_number=int(p["step_number"]),
        step_type=p["step_type"],
        started_at=from_iso(p.get("started_at")),
        completed_at=from_iso(p.get("completed_at")),
        duration_ms=None if p.get("duration_ms") is None else float(p["duration_ms"]),
        model_output=p.get("model_output"),
        code_action=p.get("code_action"),
        tool_calls=decode_tool_calls(p.get("tool_calls")),
        observations=p.get("observations"),
        plan=p.get("plan"),
        error=p.get("error"),
        final_answer=p.get("final_answer"),
        input_tokens=int(p.get("input_tokens") or 0),
        output_tokens=int(p.get("output_tokens") or 0),
        unpruned_input_tokens=int(p.get("unpruned_input_tokens") or 0),
    )


class Neo4jTraces(Neo4jPart, Traces):
    # --- writes ------------------------------------------------------------------------------
    async def write(self, writes: list[TraceWrite]) -> None:
        """The writes in ONE transaction: a drain of an agent's steps is one round of commits."""
        statements = [s for write in writes for s in statements_of(write)]

        async def work(tx: Any) -> None:
            for query, params in statements:
                await _run_consume(tx, query, params)

        if statements:
            # Every trace write is an idempotent MERGE/SET: retried on a MERGE race like one.
            await self._write_fn(work, retry_on_constraint_error=True)

    async def delete(self, trace_ids: list[str]) -> dict[str, int]:
        return await delete_traces(self.db, trace_ids)

    # --- reads -------------------------------------------------------------------------------
    async def get(self, trace_id: str) -> TraceRecord | None:
        rows = await self._read(_GET_TRACE, {"id": trace_id})
        return _trace(rows[0]["props"]) if rows else None

    async def steps(self, trace_id: str) -> list[StepRecord]:
        steps = [_step(r["props"]) for r in await self._read(_GET_STEPS, {"id": trace_id})]
        steps.sort(key=step_sort_key)
        return steps

    async def children(self, trace_id: str) -> list[TraceRecord]:
        return [_trace(r["props"]) for r in await self._read(_GET_CHILDREN, {"id": trace_id})]

    async def basins(self, trace_id: str) -> list[TraceBasinLink]:
        return [
            TraceBasinLink(
                trace_id=trace_id,
                basin_id=r["basin_id"],
                basin_name=r["basin_name"] or "",
                strength=float(r["strength"]),
                at_step=int(r["at_step"]),
            )
            for r in await self._read(_GET_TRACE_BASINS, {"id": trace_id})
        ]

    async def list(
        self, filter: TraceFilter, limit: int, after: tuple[datetime, str] | None = None
    ) -> list[TraceRecord]:
        if limit <= 0:
            return []
        params: dict[str, Any] = {"limit": int(limit)}
        query = _MATCH_TRACES + _trace_where(filter, params, after) + _LIST_TRACES_TAIL
        return [_trace(r["props"]) for r in await self._read(query, params)]

    async def token_totals(self, filter: TraceFilter) -> list[dict]:
        params: dict[str, Any] = {}
        query = _MATCH_TRACES + _trace_where(filter, params) + _TOKEN_TOTALS_TAIL
        return [
            {"agent_name": r["agent_name"], "model": r["model"], **{k: int(r[k]) for k in _TOTALS_FIELDS}}
            for r in await self._read(query, params)
        ]

    async def count(self) -> int:
        rows = await self._read(_COUNT_TRACES)
        return int(rows[0]["n"]) if rows else 0

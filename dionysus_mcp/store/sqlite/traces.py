"""Execution traces and their steps, basin links, filters, pages and token totals, in SQLite.

Trace writes are tolerant, because the outbox replays them: `create_trace` of an existing id is
a no-op; steps and child traces are tied to their trace by id columns without foreign keys, so a
write delivered early is found once its trace exists; `link_trace_basin` to a trace or basin
that does not exist is ignored; `complete_trace` of an unknown id is a no-op.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime
from typing import Any

from schema.models import StepRecord, TraceBasinLink, TraceFilter, TraceRecord, from_iso, to_iso

from schema.trace_writes import TraceWrite

from dionysus_mcp.store.base import Traces
from dionysus_mcp.store.records import STEP_TYPE_ORDER, UNKNOWN_STEP_TYPE_RANK, decode_tool_calls

from .connection import SQLitePart
from .trace_removal import delete_traces
from .trace_writes import STEP_COLS, TRACE_COLS
from .trace_writes import statements as statements_of

# `records.STEP_TYPE_ORDER` as an ORDER BY expression (built from constants, never from input).
_STEP_TYPE_ORDER_SQL = (
    "CASE step_type "
    + " ".join(f"WHEN '{name}' THEN {rank}" for name, rank in STEP_TYPE_ORDER.items())
    + f" ELSE {UNKNOWN_STEP_TYPE_RANK} END"
)


def _trace(row: sqlite3.Row) -> TraceRecord:
    return TraceRecord(
        id=row["id"],
        run_id=row["run_id"],
        agent_name=row["agent_name"],
        parent_id=row["parent_id"],
        parent_step=row["parent_step"],
        model=row["model"],
        task=row["task"],
        status=row["status"],
        summary=row["summary"],
        error=row["error"],
        started_at=from_iso(row["started_at"]),
        completed_at=from_iso(row["completed_at"]),
        input_tokens=row["input_tokens"],
        output_tokens=row["output_tokens"],
        pruned_tokens_saved=row["pruned_tokens_saved"],
        step_count=row["step_count"],
        metadata=json.loads(row["metadata"]),
    )


def _step(row: sqlite3.Row) -> StepRecord:
    return StepRecord(
        id=row["id"],
        trace_id=row["trace_id"],
        step_number=row["step_number"],
        step_type=row["step_type"],
        started_at=from_iso(row["started_at"]),
        completed_at=from_iso(row["completed_at"]),
        duration_ms=row["duration_ms"],
        model_output=row["model_output"],
        code_action=row["code_action"],
        tool_calls=decode_tool_calls(row["tool_calls"]),
        observations=row["observations"],
        plan=row["plan"],
        error=row["error"],
        final_answer=row["final_answer"],
        input_tokens=row["input_tokens"],
        output_tokens=row["output_tokens"],
        unpruned_input_tokens=row["unpruned_input_tokens"],
    )


def _trace_where(flt: TraceFilter, params: list[Any], after: tuple[datetime, str] | None = None) -> str:
    """A WHERE clause joined from fixed fragments; the values go into `params`."""
    clauses: list[str] = []
    if flt.agent_name is not None:
        clauses.append("agent_name = ?")
        params.append(flt.agent_name)
    if flt.status is not None:
        clauses.append("status = ?")
        params.append(flt.status)
    if flt.since is not None:
        clauses.append("started_at >= ?")
        params.append(to_iso(flt.since))
    if flt.until is not None:
        clauses.append("started_at <= ?")
        params.append(to_iso(flt.until))
    if flt.parent_id is not None:
        clauses.append("parent_id = ?")
        params.append(flt.parent_id)
    if flt.roots_only:
        clauses.append("parent_id IS NULL")
    if after is not None:
        clauses.append("(started_at < ? OR (started_at = ? AND id < ?))")
        params.extend([to_iso(after[0]), to_iso(after[0]), after[1]])
    return (" WHERE " + " AND ".join(clauses)) if clauses else ""


class SQLiteTraces(SQLitePart, Traces):
    async def write(self, writes: list[TraceWrite]) -> None:
        """The writes in ONE transaction: a drain of an agent's steps costs one commit."""
        statements = [s for write in writes for s in statements_of(write)]
        if not statements:
            return
        # Consecutive statements with the same SQL (a drain is mostly step upserts) go through
        # one executemany: same order, less per-statement overhead while holding the GIL.
        runs: list[tuple[str, list[tuple[Any, ...]]]] = []
        for sql, params in statements:
            if runs and runs[-1][0] == sql:
                runs[-1][1].append(params)
            else:
                runs.append((sql, [params]))
        await self._write(lambda conn: [conn.executemany(sql, rows) for sql, rows in runs])

    async def delete(self, trace_ids: list[str]) -> dict[str, int]:
        return await delete_traces(self.db, trace_ids)

    async def get(self, trace_id: str) -> TraceRecord | None:
        def work(conn: sqlite3.Connection) -> TraceRecord | None:
            row = conn.execute(f"SELECT {TRACE_COLS} FROM traces WHERE id = ?", (trace_id,)).fetchone()
            return None if row is None else _trace(row)

        return await self._read(work)

    async def steps(self, trace_id: str) -> list[StepRecord]:
        return await self._read(
            lambda conn: [
                _step(r)
                for r in conn.execute(
                    f"SELECT {STEP_COLS} FROM trace_steps WHERE trace_id = ?"
                    f" ORDER BY step_number, {_STEP_TYPE_ORDER_SQL}, id",
                    (trace_id,),
                )
            ]
        )

    async def children(self, trace_id: str) -> list[TraceRecord]:
        return await self._read(
            lambda conn: [
                _trace(r)
                for r in conn.execute(
                    f"SELECT {TRACE_COLS} FROM traces WHERE parent_id = ? ORDER BY started_at, id", (trace_id,)
                )
            ]
        )

    async def basins(self, trace_id: str) -> list[TraceBasinLink]:
        return await self._read(
            lambda conn: [
                TraceBasinLink(
                    trace_id=r["trace_id"],
                    basin_id=r["basin_id"],
                    basin_name=r["basin_name"],
                    strength=r["strength"],
                    at_step=r["at_step"],
                )
                for r in conn.execute(
                    "SELECT tb.trace_id, tb.basin_id, b.name AS basin_name, tb.strength, tb.at_step"
                    " FROM trace_basins tb JOIN basins b ON b.id = tb.basin_id"
                    " WHERE tb.trace_id = ? ORDER BY tb.at_step, b.name",
                    (trace_id,),
                )
            ]
        )

    async def list(
        self, filter: TraceFilter, limit: int, after: tuple[datetime, str] | None = None
    ) -> list[TraceRecord]:
        if limit <= 0:
            return []
        params: list[Any] = []
        query = (
            f"SELECT {TRACE_COLS} FROM traces"
            + _trace_where(filter, params, after)
            + " ORDER BY started_at DESC, id DESC LIMIT ?"
        )
        params.append(int(limit))
        return await self._read(lambda conn: [_trace(r) for r in conn.execute(query, params)])

    async def token_totals(self, filter: TraceFilter) -> list[dict]:
        params: list[Any] = []
        query = (
            "SELECT agent_name, model, count(*) AS runs, sum(input_tokens) AS input_tokens,"
            " sum(output_tokens) AS output_tokens, sum(pruned_tokens_saved) AS pruned_tokens_saved"
            " FROM traces"
            + _trace_where(filter, params)
            + " GROUP BY agent_name, model ORDER BY agent_name, model"
        )
        return await self._read(
            lambda conn: [
                {
                    "agent_name": r["agent_name"],
                    "model": r["model"],
                    "runs": int(r["runs"]),
                    "input_tokens": int(r["input_tokens"]),
                    "output_tokens": int(r["output_tokens"]),
                    "pruned_tokens_saved": int(r["pruned_tokens_saved"]),
                }
                for r in conn.execute(query, params)
            ]
        )

    async def count(self) -> int:
        return await self._read(lambda conn: conn.execute("SELECT count(*) FROM traces").fetchone()[0])

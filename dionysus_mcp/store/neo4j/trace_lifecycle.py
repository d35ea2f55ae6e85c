"""Trace lifecycle on Neo4j: who runs a trace, its lease, marking orphaned runs `interrupted`,
and requests to cancel a run from any process.

The owner lives on the trace node (`owner_host`, `owner_pid`, `owner_token`, `lease_until`, the
lease as a fixed-width ISO string like every timestamp), and so does a cancel request
(`cancel_requested_at`). Kept apart from traces.py: these are
the only writes to a trace after its creation other than complete_trace, and the service
decides liveness (dionysus_mcp/traces/lifecycle.py); the store only applies it conditionally.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from schema.models import RunningTrace, TraceOwner, from_iso, to_iso

from ..base import TraceLifecycle
from ..records import given_totals
from .connection import Neo4jPart, _fetch, _run_consume

_RENEW = """
MATCH (t:AgentExecutionTrace {owner_token: $token})
WHERE t.status = 'running'
SET t.lease_until = $lease_until
RETURN count(t) AS n
"""

_RUNNING_TAIL = (
    " RETURN t.id AS id, t.started_at AS started_at, t.owner_host AS host, t.owner_pid AS pid,"
    " t.owner_token AS token, t.lease_until AS lease_until ORDER BY id"
)
_RUNNING_ALL = "MATCH (t:AgentExecutionTrace) WHERE t.status = 'running'" + _RUNNING_TAIL
_RUNNING_OF = "MATCH (t:AgentExecutionTrace) WHERE t.status = 'running' AND t.id IN $ids" + _RUNNING_TAIL

# The interrupt is decided on the status read after this lock (Neo4j's reads are
# read-committed): an owner's completion committed meanwhile is seen, never overwritten.
_LOCK_TRACE = "MATCH (t:AgentExecutionTrace {id: $id}) SET t.rev = coalesce(t.rev, 0) + 1"

# `coalesce(owner_token, '')` = '' stands for "no owner recorded".
_INTERRUPT = """
MATCH (t:AgentExecutionTrace {id: $id})
WHERE t.status = 'running' AND coalesce(t.owner_token, '') = $token
SET t.status = 'interrupted', t.completed_at = $completed_at, t.error = $error
SET t += $totals
RETURN t.id AS id
"""


_REQUEST_CANCEL = """
MATCH (t:AgentExecutionTrace {id: $id})
WHERE t.status = 'running' OR t.cancel_requested_at IS NOT NULL
SET t.cancel_requested_at = coalesce(t.cancel_requested_at, $at)
RETURN t.id AS id
"""
_CANCEL_REQUESTED = """
MATCH (t:AgentExecutionTrace) WHERE t.id IN $ids AND t.cancel_requested_at IS NOT NULL
RETURN t.id AS id ORDER BY id
"""
# A run's progress, by index: the traces by id, steps by trace_id, sub-runs by parent_id.
_PROGRESS_TRACES = "MATCH (t:AgentExecutionTrace) WHERE t.id IN $ids RETURN t.id AS id, t.status AS status"
_PROGRESS_STEPS = "MATCH (s:AgentExecutionStep) WHERE s.trace_id IN $ids RETURN s.trace_id AS id, count(s) AS n"
_PROGRESS_CHILDREN = """
MATCH (c:AgentExecutionTrace) WHERE c.parent_id IN $ids
RETURN c.parent_id AS parent, c.id AS id, c.status AS status
"""


def _running(row: dict[str, Any]) -> RunningTrace:
    owner = None
    if row.get("token") and row.get("lease_until"):
        owner = TraceOwner(host=row["host"] or "", pid=int(row["pid"] or 0), token=row["token"], lease_until=from_iso(row["lease_until"]))
    return RunningTrace(id=row["id"], started_at=from_iso(row["started_at"]), owner=owner)


class Neo4jTraceLifecycle(Neo4jPart, TraceLifecycle):
    async def renew_leases(self, token: str, lease_until: datetime) -> int:
        rows = await self._write_fn(lambda tx: _fetch(tx, _RENEW, {"token": token, "lease_until": to_iso(lease_until)}))
        return int(rows[0]["n"]) if rows else 0

    async def running(self, trace_ids: list[str] | None = None) -> list[RunningTrace]:
        if trace_ids is not None and not trace_ids:
            return []
        rows = await self._read(_RUNNING_ALL) if trace_ids is None else await self._read(_RUNNING_OF, {"ids": list(trace_ids)})
        return [_running(r) for r in rows]

    async def interrupt(
        self, trace_id: str, owner_token: str | None, completed_at: datetime, error: str, totals: dict[str, int]
    ) -> bool:
        params = {"id": trace_id, "token": owner_token or "", "completed_at": to_iso(completed_at), "error": error,
                  "totals": given_totals(totals)}
        async def work(tx: Any) -> bool:
            await _run_consume(tx, _LOCK_TRACE, {"id": trace_id})
            return bool(await _fetch(tx, _INTERRUPT, params))

        return await self._locking_fn(work)

    async def request_cancel(self, trace_id: str, requested_at: datetime) -> bool:
        rows = await self._write_fn(lambda tx: _fetch(tx, _REQUEST_CANCEL, {"id": trace_id, "at": to_iso(requested_at)}))
        return bool(rows)

    async def cancel_requested(self, trace_ids: list[str]) -> list[str]:
        if not trace_ids:
            return []
        return [r["id"] for r in await self._read(_CANCEL_REQUESTED, {"ids": list(trace_ids)})]

    async def progress(self, trace_ids: list[str]) -> dict[str, str]:
        if not trace_ids:
            return {}

        async def work(tx: Any) -> dict[str, str]:
            traces = {r["id"]: r["status"] for r in await _fetch(tx, _PROGRESS_TRACES, {"ids": list(trace_ids)})}
            children = await _fetch(tx, _PROGRESS_CHILDREN, {"ids": list(traces)})
            ids = list(traces) + [c["id"] for c in children]
            steps = {r["id"]: int(r["n"]) for r in await _fetch(tx, _PROGRESS_STEPS, {"ids": ids})} if ids else {}
            out = {}
            for tid, status in traces.items():
                mine = [c for c in children if c["parent"] == tid]
                done = sum(1 for c in mine if c["status"] != "running")
                out[tid] = f"{status}:{steps.get(tid, 0)}:{len(mine)}:{done}:{sum(steps.get(c['id'], 0) for c in mine)}"
            return out

        return await self._read_fn(work)

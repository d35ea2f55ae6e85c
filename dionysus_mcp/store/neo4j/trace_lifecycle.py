"""Trace lifecycle on Neo4j: who runs a trace, its lease, and marking orphaned runs `interrupted`.

The owner lives on the trace node (`owner_host`, `owner_pid`, `owner_token`, `lease_until`, the
lease as a fixed-width ISO string like every timestamp). Kept apart from traces.py: these are
the only writes to a trace after its creation other than complete_trace, and the service
decides liveness (dionysus_mcp/traces/lifecycle.py); the store only applies it conditionally.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from schema.models import RunningTrace, TraceOwner, from_iso, to_iso

from ..base import TraceLifecycle
from ..records import given_totals
from .connection import Neo4jPart, _fetch

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

# `coalesce(owner_token, '')` = '' stands for "no owner recorded".
_INTERRUPT = """
MATCH (t:AgentExecutionTrace {id: $id})
WHERE t.status = 'running' AND coalesce(t.owner_token, '') = $token
SET t.status = 'interrupted', t.completed_at = $completed_at, t.error = $error
SET t += $totals
RETURN t.id AS id
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
        rows = await self._write_fn(lambda tx: _fetch(tx, _INTERRUPT, params))
        return bool(rows)

"""Trace lifecycle on SQLite: who runs a trace, its lease, marking orphaned runs `interrupted`,
and requests to cancel a run from any process.

Owners live in their own table `trace_owners`, cancel requests in `trace_cancels`
(schema/sqlite/schema.sql), so a database written before they existed needs no migration. The service decides liveness
(dionysus_mcp/traces/lifecycle.py); the store only applies it, conditionally, in one
transaction.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime

from schema.models import RunningTrace, TraceOwner, from_iso, to_iso

from ..records import given_totals
from ..base import TraceLifecycle
from .connection import SQLitePart

_RUNNING = (
    "SELECT t.id, t.started_at, o.host, o.pid, o.token, o.lease_until"
    " FROM traces t LEFT JOIN trace_owners o ON o.trace_id = t.id WHERE t.status = 'running'"
)


def _running(row: sqlite3.Row) -> RunningTrace:
    owner = None
    if row["token"] is not None:
        owner = TraceOwner(host=row["host"], pid=row["pid"], token=row["token"], lease_until=from_iso(row["lease_until"]))
    return RunningTrace(id=row["id"], started_at=from_iso(row["started_at"]), owner=owner)


class SQLiteTraceLifecycle(SQLitePart, TraceLifecycle):
    async def renew_leases(self, token: str, lease_until: datetime) -> int:
        return await self._write(
            lambda conn: conn.execute(
                "UPDATE trace_owners SET lease_until = ? WHERE token = ?"
                " AND trace_id IN (SELECT id FROM traces WHERE status = 'running')",
                (to_iso(lease_until), token),
            ).rowcount
        )

    async def running(self, trace_ids: list[str] | None = None) -> list[RunningTrace]:
        if trace_ids is None:
            return await self._read(lambda conn: [_running(r) for r in conn.execute(_RUNNING + " ORDER BY t.id")])
        ids = list(trace_ids)
        if not ids:
            return []
        marks = ", ".join("?" for _ in ids)
        return await self._read(
            lambda conn: [_running(r) for r in conn.execute(_RUNNING + f" AND t.id IN ({marks}) ORDER BY t.id", ids)]
        )

    async def interrupt(
        self, trace_id: str, owner_token: str | None, completed_at: datetime, error: str, totals: dict[str, int]
    ) -> bool:
        given = given_totals(totals)
        sets = "".join(f", {key} = ?" for key in given)  # keys from records.TOTAL_KEYS only

        def work(conn: sqlite3.Connection) -> bool:
            owner = conn.execute("SELECT token FROM trace_owners WHERE trace_id = ?", (trace_id,)).fetchone()
            if (owner["token"] if owner else None) != owner_token:
                return False
            cur = conn.execute(
                f"UPDATE traces SET status = 'interrupted', completed_at = ?, error = ?{sets}"
                " WHERE id = ? AND status = 'running'",
                (to_iso(completed_at), error, *given.values(), trace_id),
            )
            return cur.rowcount == 1

        return await self._write(work)

    async def request_cancel(self, trace_id: str, requested_at: datetime) -> bool:
        return await self._write(
            lambda conn: conn.execute(
                "INSERT INTO trace_cancels (trace_id, requested_at) SELECT id, ? FROM traces WHERE id = ? AND status = 'running'"
                " ON CONFLICT(trace_id) DO NOTHING",
                (to_iso(requested_at), trace_id),
            ).rowcount == 1
            or conn.execute("SELECT 1 FROM trace_cancels WHERE trace_id = ?", (trace_id,)).fetchone() is not None
        )

    async def cancel_requested(self, trace_ids: list[str]) -> list[str]:
        if not trace_ids:
            return []
        ids = json.dumps(list(trace_ids))
        return await self._read(
            lambda conn: [
                r[0] for r in conn.execute(
                    "SELECT trace_id FROM trace_cancels WHERE trace_id IN (SELECT value FROM json_each(?)) ORDER BY trace_id", (ids,)
                )
            ]
        )

    async def progress(self, trace_ids: list[str]) -> dict[str, str]:
        if not trace_ids:
            return {}
        ids = json.dumps(list(trace_ids))
        # Index reads only: the trace by id, its steps and its sub-runs' by trace_id, the
        # sub-runs by parent_id.
        query = (
            "SELECT t.id, t.status,"
            " (SELECT count(*) FROM trace_steps s WHERE s.trace_id = t.id),"
            " (SELECT count(*) FROM traces c WHERE c.parent_id = t.id),"
            " (SELECT count(*) FROM traces c WHERE c.parent_id = t.id AND c.status <> 'running'),"
            " (SELECT count(*) FROM traces c JOIN trace_steps s ON s.trace_id = c.id WHERE c.parent_id = t.id)"
            " FROM traces t WHERE t.id IN (SELECT value FROM json_each(?))"
        )
        return await self._read(lambda conn: {r[0]: ":".join(str(v) for v in r[1:]) for r in conn.execute(query, (ids,))})

"""Trace lifecycle on SQLite: who runs a trace, its lease, and marking orphaned runs `interrupted`.

Owners live in their own table `trace_owners` (schema/sqlite/schema.sql), so a database written
before owners existed needs no migration. The service decides liveness
(dionysus_mcp/traces/lifecycle.py); the store only applies it, conditionally, in one
transaction.
"""

from __future__ import annotations

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

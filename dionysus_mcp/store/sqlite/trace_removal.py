"""Deleting execution traces from the SQLite store: a trace goes with its steps, its basin
activations and every delegated sub-run below it (kept apart from traces.py, which holds the
writes and reads of traces; `SQLiteTraces.delete` calls it)."""

from __future__ import annotations

import json
import sqlite3

from .connection import SQLiteConnection

# The traces asked for and, recursively, every sub-run delegated from them.
_WITH_DESCENDANTS = (
    "WITH RECURSIVE doomed(id) AS ("
    " SELECT value FROM json_each(?)"
    " UNION SELECT t.id FROM traces t JOIN doomed d ON t.parent_id = d.id"
    ") "
)


async def delete_traces(db: SQLiteConnection, trace_ids: list[str]) -> dict[str, int]:
    """Delete the traces with their sub-runs, steps and basin activations, atomically.
    Returns {"traces": n, "steps": n} actually removed; unknown ids are ignored."""
    if not trace_ids:
        return {"traces": 0, "steps": 0}
    ids = json.dumps(list(trace_ids))

    def work(conn: sqlite3.Connection) -> dict[str, int]:
        doomed = [r[0] for r in conn.execute(_WITH_DESCENDANTS + "SELECT id FROM doomed", (ids,))]
        every = json.dumps(doomed)
        steps = conn.execute(
            "DELETE FROM trace_steps WHERE trace_id IN (SELECT value FROM json_each(?))", (every,)
        ).rowcount
        conn.execute("DELETE FROM trace_basins WHERE trace_id IN (SELECT value FROM json_each(?))", (every,))
        conn.execute("DELETE FROM trace_owners WHERE trace_id IN (SELECT value FROM json_each(?))", (every,))
        conn.execute("DELETE FROM trace_cancels WHERE trace_id IN (SELECT value FROM json_each(?))", (every,))
        traces = conn.execute("DELETE FROM traces WHERE id IN (SELECT value FROM json_each(?))", (every,)).rowcount
        return {"traces": traces, "steps": steps}

    return await db.write(work)

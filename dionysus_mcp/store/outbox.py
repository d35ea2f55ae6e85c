"""A durable local queue for trace writes the store could not take.

When Neo4j is unreachable, an agent run must not fail and must not lose its steps. Each trace
write is an idempotent operation (create-if-absent, insert-or-replace by id, set), so the
outbox can replay its queue in order, any number of times, without creating duplicates. It is
a small SQLite file next to the embedded database (stdlib only).
"""

from __future__ import annotations

import json
import sqlite3
import threading
from pathlib import Path
from typing import Any

_DDL = """
CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    op TEXT NOT NULL,
    payload TEXT NOT NULL,
    queued_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
)
"""


class Outbox:
    def __init__(self, path: Path | str):
        self.path = Path(path)
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None

    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA busy_timeout=5000")
            conn.execute(_DDL)
            self._conn = conn
        return self._conn

    def put(self, op: str, payload: dict[str, Any]) -> None:
        with self._lock:
            self._db().execute("INSERT INTO outbox (op, payload) VALUES (?, ?)", (op, json.dumps(payload)))

    def pending(self) -> list[tuple[int, str, dict[str, Any]]]:
        if not self.path.exists():
            return []
        with self._lock:
            rows = self._db().execute("SELECT seq, op, payload FROM outbox ORDER BY seq").fetchall()
        return [(seq, op, json.loads(payload)) for seq, op, payload in rows]

    def count(self) -> int:
        if not self.path.exists():
            return 0
        with self._lock:
            return self._db().execute("SELECT count(*) FROM outbox").fetchone()[0]

    def done(self, seq: int) -> None:
        with self._lock:
            self._db().execute("DELETE FROM outbox WHERE seq = ?", (seq,))

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

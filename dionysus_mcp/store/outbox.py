"""A durable local queue for trace writes the store could not take.

When Neo4j is unreachable, an agent run must not fail and must not lose its steps. Each trace
write is an idempotent record (`schema.trace_writes`: create-if-absent, insert-or-replace by id,
set), so the outbox can replay its queue in order, any number of times, without creating
duplicates. It is a small SQLite file next to the embedded database (stdlib only).

A row holds the record's kind (`op`, for people reading the file) and its JSON; `pending`
returns rows as stored and `schema.trace_writes.from_outbox` reads them back, rows of older
versions (an operation name and that operation's arguments) included.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from dionysus_mcp.store.base import StoreError
from schema.trace_writes import TraceWrite

DDL = """
CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    op TEXT NOT NULL,
    payload TEXT NOT NULL,
    queued_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE TABLE IF NOT EXISTS set_aside (
    seq INTEGER PRIMARY KEY,
    op TEXT NOT NULL,
    payload TEXT NOT NULL,
    queued_at TEXT NOT NULL,
    error TEXT NOT NULL
);
"""


class Outbox:
    def __init__(self, path: Path | str):
        self.path = Path(path)
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None

    @contextmanager
    def _locked(self) -> Iterator[None]:
        # A broken outbox file must read as a store error (one line for the user), not a crash.
        with self._lock:
            try:
                yield
            except sqlite3.Error as exc:
                raise StoreError(f"trace outbox {self.path}: {exc}") from None

    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA busy_timeout=5000")
            conn.executescript(DDL)
            self._conn = conn
        return self._conn

    def put(self, write: TraceWrite) -> None:
        payload = write.model_dump_json()
        with self._locked():
            self._db().execute("INSERT INTO outbox (op, payload) VALUES (?, ?)", (write.kind, payload))

    def pending(self) -> list[tuple[int, str, str]]:
        """(seq, op, JSON payload) of every queued row, oldest first."""
        if not self.path.exists():
            return []
        with self._locked():
            return self._db().execute("SELECT seq, op, payload FROM outbox ORDER BY seq").fetchall()

    def count(self) -> int:
        if not self.path.exists():
            return 0
        with self._locked():
            return self._db().execute("SELECT count(*) FROM outbox").fetchone()[0]

    def done(self, seq: int) -> None:
        with self._locked():
            self._db().execute("DELETE FROM outbox WHERE seq = ?", (seq,))

    def set_aside(self, seq: int, error: str) -> None:
        """Move a write the store refused out of the queue, keeping it and the reason."""
        with self._locked():
            db = self._db()
            db.execute("BEGIN IMMEDIATE")
            try:
                db.execute(
                    "INSERT OR REPLACE INTO set_aside (seq, op, payload, queued_at, error)"
                    " SELECT seq, op, payload, queued_at, ? FROM outbox WHERE seq = ?",
                    (error, seq),
                )
                db.execute("DELETE FROM outbox WHERE seq = ?", (seq,))
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

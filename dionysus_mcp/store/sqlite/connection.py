"""The plumbing of the SQLite store: the connection, its transactions, error mapping, the schema.

Several processes (the MCP server, the command line) may share one file, so the connection runs
in WAL mode with a busy timeout, and every write happens inside an explicit `BEGIN IMMEDIATE` …
`COMMIT` (rolled back on any failure): nothing is ever stored half-way.

No SQLite work runs on the event loop: every transaction (and opening and closing the file)
runs in a worker thread through `anyio.to_thread.run_sync`, with a limiter of one per store, so
a slow query or a busy-timeout wait for another process's write lock stalls that store's callers
only, never the other requests the loop serves. The limiter is the store's own: agent runs hold
threads of anyio's default limiter for their whole run, and store calls must not queue behind
them. One connection (`check_same_thread=False`) is used by that one thread at a time, guarded
by a `threading.Lock`; the lock is taken and released inside the worker call, never across an
`await`. Store calls are shielded from cancellation, as the direct calls they replaced were: a
caller cancelled while its transaction waits or runs gets its result first, so a transaction is
never cut off half-way.
"""

from __future__ import annotations

import importlib.resources
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import anyio
import anyio.to_thread

from dionysus_mcp.store.base import StoreError, StoreUnavailable

from . import migrations

T = TypeVar("T")

SCHEMA_VERSION = 2
BUSY_TIMEOUT_MS = 5000


# --- schema file ---------------------------------------------------------------------------------


def schema_statements() -> list[str]:
    """The statements of schema/sqlite/schema.sql, comments removed, in file order."""
    text = (importlib.resources.files("schema") / "sqlite" / "schema.sql").read_text(encoding="utf-8")
    return parse_sql_script(text)


def _strip_comment(line: str) -> str:
    """Drop a `--` comment that is outside a quoted string."""
    quote: str | None = None
    for i, ch in enumerate(line):
        if quote:
            if ch == quote:
                quote = None
        elif ch in "'\"":
            quote = ch
        elif ch == "-" and line.startswith("--", i):
            return line[:i]
    return line


def parse_sql_script(text: str) -> list[str]:
    statements: list[str] = []
    buffer: list[str] = []
    for raw in text.splitlines():
        line = _strip_comment(raw).rstrip()
        if not line.strip():
            continue
        buffer.append(line)
        candidate = "\n".join(buffer)
        if sqlite3.complete_statement(candidate):
            statements.append(candidate.strip().rstrip(";").strip())
            buffer = []
    if "".join(buffer).strip():
        raise StoreError("schema/sqlite/schema.sql ends with an incomplete statement")
    return statements


# --- the connection ------------------------------------------------------------------------------


class SQLiteConnection:
    """Opens and closes the file and runs work in transactions; every aggregate holds it."""

    def __init__(self, path: Path | str, read_only: bool = False):
        self.path = Path(path).expanduser()
        # A read-only open (commands that only read) writes nothing: no folder, no schema, no
        # journal-mode change, so it works on a file the user may not write.
        self.read_only = read_only
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        self._limiter: anyio.CapacityLimiter | None = None  # made on first use, inside a loop

    # --- lifecycle ---------------------------------------------------------------------------
    async def open(self) -> None:
        if not await self.in_worker(self._connect):
            return
        try:
            await self.apply_schema()
        except BaseException:
            await self.close()
            raise

    def _connect(self) -> bool:
        """Open the file (in the worker thread); False when it was open already."""
        with self._lock:
            if self._conn is not None:
                return False
            if self.read_only:  # nothing to apply: a read-only open writes nothing
                self._conn = self._open_read_only()
                return False
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreUnavailable(f"cannot create the folder of the SQLite store {self.path}: {exc}") from None
            try:
                conn = sqlite3.connect(
                    self.path,
                    timeout=BUSY_TIMEOUT_MS / 1000,
                    isolation_level=None,  # autocommit: transactions are explicit
                    check_same_thread=False,
                )
            except sqlite3.Error as exc:
                raise self._map(exc) from None
            try:
                conn.row_factory = sqlite3.Row
                conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_MS)}")
                conn.execute("PRAGMA journal_mode = WAL")
                conn.execute("PRAGMA synchronous = NORMAL")
                conn.execute("PRAGMA foreign_keys = ON")
            except sqlite3.Error as exc:
                conn.close()
                raise self._map(exc) from None
            self._conn = conn
            return True

    def _open_read_only(self) -> sqlite3.Connection:
        if not self.path.is_file():
            raise StoreUnavailable(f"no SQLite store at {self.path}: nothing stored yet (set DIONYSUS_DB_PATH to use another file)")
        uri = self.path.resolve().as_uri()
        try:
            try:
                conn, version = self._connect_read_only(f"{uri}?mode=ro")
            except sqlite3.OperationalError:
                # A WAL file on a read-only file system: SQLite cannot create the shared-memory
                # file it reads through. Nobody can write there either, so the file is
                # immutable for as long as we read it.
                conn, version = self._connect_read_only(f"{uri}?mode=ro&immutable=1")
        except sqlite3.Error as exc:
            raise self._map(exc) from None
        if version > SCHEMA_VERSION:
            conn.close()
            raise StoreError(
                f"the SQLite store {self.path} has schema version {version}, newer than this version of"
                " dionysus-mcp understands: upgrade dionysus-mcp"
            )
        return conn

    @staticmethod
    def _connect_read_only(uri: str) -> tuple[sqlite3.Connection, int]:
        conn = sqlite3.connect(uri, uri=True, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False)
        try:
            conn.row_factory = sqlite3.Row
            conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_MS)}")
            return conn, conn.execute("PRAGMA user_version").fetchone()[0]
        except sqlite3.Error:
            conn.close()
            raise

    async def close(self) -> None:
        # Shielded: closing is what a cancelled task's cleanup does, and it must still happen.
        with anyio.CancelScope(shield=True):
            await self.in_worker(self._disconnect)

    def _disconnect(self) -> None:
        with self._lock:  # after any transaction in flight
            conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except sqlite3.Error:
                pass

    async def apply_schema(self) -> list[str]:
        statements = schema_statements()

        def work(conn: sqlite3.Connection) -> None:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise StoreError(
                    f"the SQLite store {self.path} has schema version {version}, newer than this"
                    f" version of dionysus-mcp understands ({SCHEMA_VERSION}): upgrade dionysus-mcp"
                    " or point DIONYSUS_DB_PATH at another file"
                )
            fill_fts = migrations.before_schema(conn)
            for statement in statements:
                conn.execute(statement)
            migrations.after_schema(conn, fill_fts)

        await self.write(work)
        return statements

    async def describe(self) -> str:
        return str(self.path)

    # --- plumbing ------------------------------------------------------------------------------
    def _map(self, exc: sqlite3.Error) -> StoreError:
        text = str(exc) or type(exc).__name__
        where = f"SQLite store {self.path}"
        if isinstance(exc, sqlite3.OperationalError) and (
            "locked" in text or "busy" in text or "unable to open" in text or "disk I/O" in text
        ):
            return StoreUnavailable(f"{where} is not available right now: {text}")
        if isinstance(exc, sqlite3.IntegrityError):
            return StoreError(f"{where}: constraint violated: {text}")
        return StoreError(f"{where}: {type(exc).__name__}: {text}")

    def _transaction(self, work: Callable[[sqlite3.Connection], T], begin: str) -> T:
        with self._lock:
            conn = self._conn
            if conn is None:
                raise StoreError(f"the SQLite store {self.path} is not open: call open() first")
            try:
                conn.execute(begin)
                try:
                    result = work(conn)
                    conn.execute("COMMIT")
                except BaseException:
                    if conn.in_transaction:
                        try:
                            conn.execute("ROLLBACK")
                        except sqlite3.Error:
                            pass  # the original error is the one worth reporting
                    raise
                return result
            except sqlite3.Error as exc:
                raise self._map(exc) from None

    async def in_worker(self, fn: Callable[..., T], *args: object) -> T:
        """Run `fn(*args)` in the store's worker thread (one at a time per store)."""
        if self._limiter is None:
            self._limiter = anyio.CapacityLimiter(1)
        # Shielded, as the direct calls this replaced were: a store call, once made, finishes.
        # A cancelled request's agent thread still reaches the services while it stops (its
        # calls run in the request's cancelled scope); a store call refused there would fail
        # every step it has left instead of letting it stop at the next step boundary.
        with anyio.CancelScope(shield=True):
            return await anyio.to_thread.run_sync(fn, *args, limiter=self._limiter)

    async def write(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """Run `work` in one `BEGIN IMMEDIATE` transaction, in the worker thread: all of it is
        stored, or nothing."""
        return await self.in_worker(self._transaction, work, "BEGIN IMMEDIATE")

    async def read(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """Run `work` in one read transaction (a consistent snapshot across its queries), in the
        worker thread."""
        return await self.in_worker(self._transaction, work, "BEGIN")


class SQLitePart:
    """One aggregate of the SQLite store: it holds the store's connection (composition) and runs
    each operation in one of its transactions."""

    def __init__(self, db: SQLiteConnection):
        self.db = db

    async def _write(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """`work` in one `BEGIN IMMEDIATE` transaction: all of it is stored, or nothing."""
        return await self.db.write(work)

    async def _read(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """`work` in one read transaction: a consistent snapshot across its queries."""
        return await self.db.read(work)


"""The embedded SQLite backend of the store interface (stdlib `sqlite3`, one file, WAL mode).

Tables mirror the graph model (schema/sqlite/schema.sql). Several processes (the MCP server,
the command line) may share one file, so the connection runs in WAL mode with a busy timeout,
and every write happens inside an explicit `BEGIN IMMEDIATE` … `COMMIT` (rolled back on any
failure): nothing is ever stored half-way.

The calls are made directly in the coroutines: the queries are small and a thread hop would
cost more than the query. One connection (`check_same_thread=False`) is shared by every task
and thread, guarded by a `threading.Lock`; no `await` ever happens while the lock is held.

Behaviour chosen where the interface leaves room (the contract suite checks it on every
backend):

- Cognition writes are strict: a memory, link or activation that refers to a basin that does
  not exist, or a record whose id exists already (memory, wisdom, snapshot), raises
  `StoreError` and stores nothing.
- Trace writes are tolerant, because the outbox replays them: `create_trace` of an existing id
  is a no-op; steps and child traces are tied to their trace by id columns without foreign
  keys, so a write delivered early is found once its trace exists; `link_trace_basin` to a
  trace or basin that does not exist is ignored; `complete_trace` of an unknown id is a no-op.
"""

from __future__ import annotations

import importlib.resources
import json
import sqlite3
import threading
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from schema.models import (
    ActivationUpdate,
    Basin,
    BasinLink,
    CoherenceSnapshot,
    Memory,
    MemoryBasin,
    MemoryStats,
    StepRecord,
    ToolCallRecord,
    TraceBasinLink,
    TraceFilter,
    TraceRecord,
    TraceStatus,
    WisdomPrinciple,
    from_iso,
    to_iso,
)

from .base import Store, StoreError, StoreUnavailable
from .sqlite_trace_lifecycle import TraceLifecycleMixin

T = TypeVar("T")

SCHEMA_VERSION = 1
BUSY_TIMEOUT_MS = 5000
_TOTAL_KEYS = ("input_tokens", "output_tokens", "pruned_tokens_saved", "step_count")

_BASIN_COLS = (
    "id, name, description, keywords, activation, stability, depth, last_activated_at, created_at"
)
_TRACE_COLS = (
    "id, run_id, agent_name, parent_id, parent_step, model, task, status, summary, error, started_at,"
    " completed_at, input_tokens, output_tokens, pruned_tokens_saved, step_count, metadata"
)
_STEP_FIELDS = (
    "id", "trace_id", "step_number", "step_type", "started_at", "completed_at", "duration_ms",
    "model_output", "code_action", "tool_calls", "observations", "plan", "error", "final_answer",
    "input_tokens", "output_tokens", "unpruned_input_tokens",
)
_STEP_COLS = ", ".join(_STEP_FIELDS)
_UPSERT_STEP = (
    f"INSERT INTO trace_steps ({_STEP_COLS}) VALUES ({', '.join('?' for _ in _STEP_FIELDS)})"
    " ON CONFLICT(id) DO UPDATE SET "
    + ", ".join(f"{f} = excluded.{f}" for f in _STEP_FIELDS if f != "id")
)
_STEP_TYPE_ORDER_SQL = (
    "CASE step_type WHEN 'task' THEN 0 WHEN 'planning' THEN 1 WHEN 'action' THEN 2"
    " WHEN 'final_answer' THEN 3 ELSE 9 END"
)


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


# --- encoding ------------------------------------------------------------------------------------


def _dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


def _basin(row: sqlite3.Row) -> Basin:
    return Basin(
        id=row["id"],
        name=row["name"],
        description=row["description"],
        keywords=json.loads(row["keywords"]),
        activation=row["activation"],
        stability=row["stability"],
        depth=row["depth"],
        last_activated_at=from_iso(row["last_activated_at"]),
        created_at=from_iso(row["created_at"]),
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
        tool_calls=[ToolCallRecord(**tc) for tc in json.loads(row["tool_calls"])],
        observations=row["observations"],
        plan=row["plan"],
        error=row["error"],
        final_answer=row["final_answer"],
        input_tokens=row["input_tokens"],
        output_tokens=row["output_tokens"],
        unpruned_input_tokens=row["unpruned_input_tokens"],
    )


def _snapshot(row: sqlite3.Row) -> CoherenceSnapshot:
    return CoherenceSnapshot(
        id=row["id"],
        created_at=from_iso(row["created_at"]),
        consciousness_level=row["consciousness_level"],
        status=row["status"],
        components={k: float(v) for k, v in json.loads(row["components"]).items()},
        active_basin_ids=json.loads(row["active_basin_ids"]),
    )


def _wisdom(row: sqlite3.Row) -> WisdomPrinciple:
    return WisdomPrinciple(
        id=row["id"],
        text=row["text"],
        domain=row["domain"],
        confidence=row["confidence"],
        created_at=from_iso(row["created_at"]),
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


# --- the store -----------------------------------------------------------------------------------


class SQLiteStore(TraceLifecycleMixin, Store):
    backend = "sqlite"

    def __init__(self, path: Path | str):
        self.path = Path(path).expanduser()
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None

    # --- lifecycle ---------------------------------------------------------------------------
    async def open(self) -> None:
        with self._lock:
            if self._conn is not None:
                return
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
        try:
            await self.apply_schema()
        except BaseException:
            await self.close()
            raise

    async def close(self) -> None:
        with self._lock:
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
            for statement in statements:
                conn.execute(statement)

        self._write(work)
        return statements

    async def describe(self) -> str:
        return str(self.path)

    # --- basins ------------------------------------------------------------------------------
    async def upsert_basin(self, basin: Basin) -> Basin:
        def work(conn: sqlite3.Connection) -> Basin:
            conn.execute(
                f"INSERT INTO basins ({_BASIN_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT(name) DO UPDATE SET description = excluded.description,"
                " keywords = excluded.keywords, stability = excluded.stability",
                (
                    basin.id,
                    basin.name,
                    basin.description,
                    _dumps(list(basin.keywords)),
                    float(basin.activation),
                    float(basin.stability),
                    float(basin.depth),
                    to_iso(basin.last_activated_at),
                    to_iso(basin.created_at),
                ),
            )
            row = conn.execute(f"SELECT {_BASIN_COLS} FROM basins WHERE name = ?", (basin.name,)).fetchone()
            return _basin(row)

        return self._write(work)

    async def get_basin(self, name_or_id: str) -> Basin | None:
        def work(conn: sqlite3.Connection) -> Basin | None:
            for column in ("id", "name"):
                row = conn.execute(
                    f"SELECT {_BASIN_COLS} FROM basins WHERE {column} = ?", (name_or_id,)
                ).fetchone()
                if row is not None:
                    return _basin(row)
            return None

        return self._read(work)

    async def list_basins(self) -> list[Basin]:
        return self._read(
            lambda conn: [_basin(r) for r in conn.execute(f"SELECT {_BASIN_COLS} FROM basins ORDER BY name, id")]
        )

    async def apply_activation(self, updates: list[ActivationUpdate], link_weights: list[BasinLink]) -> None:
        def work(conn: sqlite3.Connection) -> None:
            for u in updates:
                cur = conn.execute(
                    "UPDATE basins SET activation = ?, depth = ?, last_activated_at = ? WHERE id = ?",
                    (float(u.activation), float(u.depth), to_iso(u.last_activated_at), u.basin_id),
                )
                if cur.rowcount == 0:
                    raise StoreError(f"cannot activate basin {u.basin_id!r}: no basin has that id")
            for link in link_weights:
                self._set_link(conn, link)

        self._write(work)

    async def set_link(self, link: BasinLink) -> BasinLink:
        def work(conn: sqlite3.Connection) -> BasinLink:
            self._set_link(conn, link)
            row = conn.execute(
                "SELECT source_id, target_id, weight FROM basin_links WHERE source_id = ? AND target_id = ?",
                (link.source_id, link.target_id),
            ).fetchone()
            return BasinLink(source_id=row["source_id"], target_id=row["target_id"], weight=row["weight"])

        return self._write(work)

    @staticmethod
    def _set_link(conn: sqlite3.Connection, link: BasinLink) -> None:
        try:
            conn.execute(
                "INSERT INTO basin_links (source_id, target_id, weight) VALUES (?, ?, ?)"
                " ON CONFLICT(source_id, target_id) DO UPDATE SET weight = excluded.weight",
                (link.source_id, link.target_id, float(link.weight)),
            )
        except sqlite3.IntegrityError:
            raise StoreError(
                f"cannot link {link.source_id!r} → {link.target_id!r}: both basins must exist"
            ) from None

    async def list_links(self) -> list[BasinLink]:
        return self._read(
            lambda conn: [
                BasinLink(source_id=r["source_id"], target_id=r["target_id"], weight=r["weight"])
                for r in conn.execute(
                    "SELECT source_id, target_id, weight FROM basin_links ORDER BY source_id, target_id"
                )
            ]
        )

    # --- memories ----------------------------------------------------------------------------
    async def add_memory(self, memory: Memory) -> Memory:
        def work(conn: sqlite3.Connection) -> Memory:
            try:
                conn.execute(
                    "INSERT INTO memories (id, kind, content, tags, importance, created_at)"
                    " VALUES (?, ?, ?, ?, ?, ?)",
                    (
                        memory.id,
                        memory.kind,
                        memory.content,
                        _dumps(list(memory.tags)),
                        float(memory.importance),
                        to_iso(memory.created_at),
                    ),
                )
            except sqlite3.IntegrityError:
                raise StoreError(f"a memory with id {memory.id!r} exists already") from None
            for link in memory.basins:
                try:
                    conn.execute(
                        "INSERT INTO memory_basins (memory_id, basin_id, weight) VALUES (?, ?, ?)"
                        " ON CONFLICT(memory_id, basin_id) DO UPDATE SET weight = excluded.weight",
                        (memory.id, link.basin_id, float(link.weight)),
                    )
                except sqlite3.IntegrityError:
                    raise StoreError(
                        f"cannot attach memory {memory.id!r} to basin {link.basin_id!r}: no basin has that id"
                    ) from None
            return self._memories(conn, "WHERE m.id = ?", [memory.id])[0]

        return self._write(work)

    async def list_memories(self, kinds: list[str] | None = None) -> list[Memory]:
        if kinds is None:
            return self._read(lambda conn: self._memories(conn, "", []))
        if not kinds:
            return []
        return self._read(
            lambda conn: self._memories(
                conn, "WHERE m.kind IN (SELECT value FROM json_each(?))", [json.dumps(list(kinds))]
            )
        )

    @staticmethod
    def _memories(conn: sqlite3.Connection, where: str, params: list[Any]) -> list[Memory]:
        """Memories matching a fixed WHERE fragment, with their basin links, by (created_at, id)."""
        rows = conn.execute(
            "SELECT m.id, m.kind, m.content, m.tags, m.importance, m.created_at FROM memories m "
            + where
            + " ORDER BY m.created_at, m.id",
            params,
        ).fetchall()
        links: dict[str, list[MemoryBasin]] = {}
        for r in conn.execute(
            "SELECT mb.memory_id, mb.basin_id, mb.weight FROM memory_basins mb"
            " JOIN memories m ON m.id = mb.memory_id "
            + where
            + " ORDER BY mb.memory_id, mb.basin_id",
            params,
        ):
            links.setdefault(r["memory_id"], []).append(MemoryBasin(basin_id=r["basin_id"], weight=r["weight"]))
        return [
            Memory(
                id=r["id"],
                kind=r["kind"],
                content=r["content"],
                tags=json.loads(r["tags"]),
                importance=r["importance"],
                created_at=from_iso(r["created_at"]),
                basins=links.get(r["id"], []),
            )
            for r in rows
        ]

    async def memory_stats(self) -> MemoryStats:
        def work(conn: sqlite3.Connection) -> MemoryStats:
            by_kind = {
                r["kind"]: r["n"]
                for r in conn.execute("SELECT kind, count(*) AS n FROM memories GROUP BY kind ORDER BY kind")
            }
            total, max_rowid = conn.execute("SELECT count(*), coalesce(max(rowid), 0) FROM memories").fetchone()
            # Memories are only ever added, so (count, newest rowid) changes with every write,
            # including writes by another process sharing the file.
            return MemoryStats(total=total, by_kind=by_kind, revision=f"{total}:{max_rowid}")

        return self._read(work)

    async def basin_memory_counts(self) -> dict[str, int]:
        return self._read(
            lambda conn: {
                r["basin_id"]: r["n"]
                for r in conn.execute(
                    "SELECT basin_id, count(DISTINCT memory_id) AS n FROM memory_basins GROUP BY basin_id"
                )
            }
        )

    # --- wisdom ------------------------------------------------------------------------------
    async def add_wisdom(self, principle: WisdomPrinciple) -> WisdomPrinciple:
        def work(conn: sqlite3.Connection) -> WisdomPrinciple:
            try:
                conn.execute(
                    "INSERT INTO wisdom (id, text, domain, confidence, created_at) VALUES (?, ?, ?, ?, ?)",
                    (
                        principle.id,
                        principle.text,
                        principle.domain,
                        float(principle.confidence),
                        to_iso(principle.created_at),
                    ),
                )
            except sqlite3.IntegrityError:
                raise StoreError(f"a wisdom principle with id {principle.id!r} exists already") from None
            row = conn.execute(
                "SELECT id, text, domain, confidence, created_at FROM wisdom WHERE id = ?", (principle.id,)
            ).fetchone()
            return _wisdom(row)

        return self._write(work)

    async def list_wisdom(self) -> list[WisdomPrinciple]:
        return self._read(
            lambda conn: [
                _wisdom(r)
                for r in conn.execute(
                    "SELECT id, text, domain, confidence, created_at FROM wisdom ORDER BY created_at, id"
                )
            ]
        )

    # --- coherence snapshots -----------------------------------------------------------------
    async def add_snapshot(self, snapshot: CoherenceSnapshot) -> None:
        def work(conn: sqlite3.Connection) -> None:
            try:
                conn.execute(
                    "INSERT INTO coherence_snapshots"
                    " (id, created_at, consciousness_level, status, components, active_basin_ids)"
                    " VALUES (?, ?, ?, ?, ?, ?)",
                    (
                        snapshot.id,
                        to_iso(snapshot.created_at),
                        float(snapshot.consciousness_level),
                        snapshot.status,
                        _dumps(snapshot.components),
                        json.dumps(list(snapshot.active_basin_ids)),
                    ),
                )
            except sqlite3.IntegrityError:
                raise StoreError(f"a coherence snapshot with id {snapshot.id!r} exists already") from None

        self._write(work)

    async def recent_snapshots(self, limit: int) -> list[CoherenceSnapshot]:
        if limit <= 0:
            return []
        return self._read(
            lambda conn: [
                _snapshot(r)
                for r in conn.execute(
                    "SELECT id, created_at, consciousness_level, status, components, active_basin_ids"
                    " FROM coherence_snapshots ORDER BY created_at DESC, id DESC LIMIT ?",
                    (int(limit),),
                )
            ]
        )

    # --- execution traces --------------------------------------------------------------------
    async def create_trace(self, trace: TraceRecord) -> None:
        params = (
            trace.id,
            trace.run_id,
            trace.agent_name,
            trace.parent_id,
            trace.parent_step,
            trace.model,
            trace.task,
            trace.status,
            trace.summary,
            trace.error,
            to_iso(trace.started_at),
            to_iso(trace.completed_at),
            int(trace.input_tokens),
            int(trace.output_tokens),
            int(trace.pruned_tokens_saved),
            int(trace.step_count),
            _dumps(trace.metadata),
        )
        self._write(
            lambda conn: conn.execute(
                f"INSERT INTO traces ({_TRACE_COLS}) VALUES ({', '.join('?' for _ in params)})"
                " ON CONFLICT(id) DO NOTHING",
                params,
            )
        )

    async def add_step(self, step: StepRecord) -> None:
        params = (
            step.id,
            step.trace_id,
            int(step.step_number),
            step.step_type,
            to_iso(step.started_at),
            to_iso(step.completed_at),
            None if step.duration_ms is None else float(step.duration_ms),
            step.model_output,
            step.code_action,
            json.dumps([tc.model_dump(mode="json") for tc in step.tool_calls]),
            step.observations,
            step.plan,
            step.error,
            step.final_answer,
            int(step.input_tokens),
            int(step.output_tokens),
            int(step.unpruned_input_tokens),
        )
        self._write(lambda conn: conn.execute(_UPSERT_STEP, params))

    async def complete_trace(
        self,
        trace_id: str,
        status: TraceStatus,
        completed_at: datetime,
        summary: str | None,
        error: str | None,
        totals: dict[str, int],
    ) -> None:
        values = [None if totals.get(k) is None else int(totals[k]) for k in _TOTAL_KEYS]
        self._write(
            lambda conn: conn.execute(
                "UPDATE traces SET status = ?, completed_at = ?, summary = ?, error = ?,"
                " input_tokens = coalesce(?, input_tokens), output_tokens = coalesce(?, output_tokens),"
                " pruned_tokens_saved = coalesce(?, pruned_tokens_saved), step_count = coalesce(?, step_count)"
                " WHERE id = ?",
                (status, to_iso(completed_at), summary, error, *values, trace_id),
            )
        )

    async def link_trace_basin(self, link: TraceBasinLink) -> None:
        # Stored only when both the trace and the basin exist (as a MATCH would); the same
        # (trace, basin, at_step) is stored once, its strength updated.
        self._write(
            lambda conn: conn.execute(
                "INSERT INTO trace_basins (trace_id, basin_id, at_step, strength)"
                " SELECT t.id, b.id, ?, ? FROM traces t, basins b WHERE t.id = ? AND b.id = ?"
                " ON CONFLICT(trace_id, basin_id, at_step) DO UPDATE SET strength = excluded.strength",
                (int(link.at_step), float(link.strength), link.trace_id, link.basin_id),
            )
        )

    async def get_trace(self, trace_id: str) -> TraceRecord | None:
        def work(conn: sqlite3.Connection) -> TraceRecord | None:
            row = conn.execute(f"SELECT {_TRACE_COLS} FROM traces WHERE id = ?", (trace_id,)).fetchone()
            return None if row is None else _trace(row)

        return self._read(work)

    async def get_steps(self, trace_id: str) -> list[StepRecord]:
        return self._read(
            lambda conn: [
                _step(r)
                for r in conn.execute(
                    f"SELECT {_STEP_COLS} FROM trace_steps WHERE trace_id = ?"
                    f" ORDER BY step_number, {_STEP_TYPE_ORDER_SQL}, id",
                    (trace_id,),
                )
            ]
        )

    async def get_children(self, trace_id: str) -> list[TraceRecord]:
        return self._read(
            lambda conn: [
                _trace(r)
                for r in conn.execute(
                    f"SELECT {_TRACE_COLS} FROM traces WHERE parent_id = ? ORDER BY started_at, id", (trace_id,)
                )
            ]
        )

    async def get_trace_basins(self, trace_id: str) -> list[TraceBasinLink]:
        return self._read(
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

    async def list_traces(
        self, filter: TraceFilter, limit: int, after: tuple[datetime, str] | None = None
    ) -> list[TraceRecord]:
        if limit <= 0:
            return []
        params: list[Any] = []
        query = (
            f"SELECT {_TRACE_COLS} FROM traces"
            + _trace_where(filter, params, after)
            + " ORDER BY started_at DESC, id DESC LIMIT ?"
        )
        params.append(int(limit))
        return self._read(lambda conn: [_trace(r) for r in conn.execute(query, params)])

    async def token_totals(self, filter: TraceFilter) -> list[dict]:
        params: list[Any] = []
        query = (
            "SELECT agent_name, model, count(*) AS runs, sum(input_tokens) AS input_tokens,"
            " sum(output_tokens) AS output_tokens, sum(pruned_tokens_saved) AS pruned_tokens_saved"
            " FROM traces"
            + _trace_where(filter, params)
            + " GROUP BY agent_name, model ORDER BY agent_name, model"
        )
        return self._read(
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

    async def count_traces(self) -> int:
        return self._read(lambda conn: conn.execute("SELECT count(*) FROM traces").fetchone()[0])

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

    def _write(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """Run `work` in one `BEGIN IMMEDIATE` transaction: all of it is stored, or nothing."""
        return self._transaction(work, "BEGIN IMMEDIATE")

    def _read(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """Run `work` in one read transaction (a consistent snapshot across its queries)."""
        return self._transaction(work, "BEGIN")

"""The Neo4j backend of the store interface (official `neo4j` async driver, Bolt).

Graph model (docs/TRACES.md, schema/neo4j/*.cypher):

    (:AttractorBasin {id, name, description, keywords, activation, stability, depth,
                      last_activated_at, created_at})-[:RELATED_TO {weight}]->(:AttractorBasin)
    (:Memory {id, kind, content, tags, importance, created_at})-[:IN_BASIN {weight}]->(:AttractorBasin)
    (:WisdomPrinciple {id, text, domain, confidence, created_at})
    (:CoherenceSnapshot {id, created_at, consciousness_level, status, components, active_basin_ids})
    (:AgentExecutionTrace {...})-[:HAS_STEP {order}]->(:AgentExecutionStep {...})
    (parent:AgentExecutionTrace)-[:DELEGATED_TO {at_step}]->(child:AgentExecutionTrace)
    (:AgentExecutionTrace)-[:ACTIVATED_BASIN {strength, at_step}]->(:AttractorBasin)

Rules kept throughout:

- Parameters only. Every label, relationship type and property name is a literal in the query
  text; values always travel as parameters. (list_traces joins fixed WHERE fragments chosen by
  which filters are set; no value is ever formatted into Cypher.)
- Timestamps are stored as the fixed-width UTC ISO strings of `schema.models.to_iso`, so string
  order is time order; nested values (snapshot components, trace metadata, step tool calls) are
  JSON strings. Reads decode them back into the typed records.
- Every method that writes more than one record runs in one `session.execute_write`
  transaction: a failure leaves nothing half-written.
- Steps and children are also found through their `trace_id` / `parent_id` properties (indexed),
  so a write that arrives before the node it refers to (replays) is still found; create_trace
  attaches such early arrivals with the relationships as soon as the trace exists.

Cypher portability: the queries stay within what Neo4j 5 and ArcadeDB's Bolt/OpenCypher engine
(used by the test suite) both accept. No APOC, no `CALL { } IN TRANSACTIONS`, no
`datetime()` values (strings instead), no map projections with `.*`.
"""

from __future__ import annotations

import asyncio
import importlib.resources
import json
import logging
import random
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

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

log = logging.getLogger(__name__)
T = TypeVar("T")

_STEP_TYPE_ORDER = {"task": 0, "planning": 1, "action": 2, "final_answer": 3}
_TOTAL_KEYS = ("input_tokens", "output_tokens", "pruned_tokens_saved", "step_count")


# --- schema files --------------------------------------------------------------------------------


def schema_statements() -> list[str]:
    """The statements of schema/neo4j/*.cypher in file-name order (`;`-separated, `//` comments)."""
    folder = importlib.resources.files("schema") / "neo4j"
    statements: list[str] = []
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if not entry.name.endswith(".cypher"):
            continue
        statements.extend(parse_cypher_script(entry.read_text(encoding="utf-8")))
    return statements


def parse_cypher_script(text: str) -> list[str]:
    """Statements separated by `;`; lines whose first non-blank characters are `//` are
    comments (whole lines only, so a `//` inside a string literal is left alone)."""
    lines = [line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("//")]
    return [" ".join(part.split()) for part in "\n".join(lines).split(";") if part.strip()]


# --- encoding ------------------------------------------------------------------------------------


def _drop_none(props: dict[str, Any]) -> dict[str, Any]:
    # Neo4j does not store nulls (setting one removes the property); leave them out explicitly.
    return {k: v for k, v in props.items() if v is not None}


def _json_or_none(value: Any) -> Any:
    return None if value is None else json.loads(value)


def _basin(p: dict[str, Any]) -> Basin:
    return Basin(
        id=p["id"],
        name=p["name"],
        description=p.get("description") or "",
        keywords=list(p.get("keywords") or []),
        activation=float(p.get("activation") or 0.0),
        stability=0.5 if p.get("stability") is None else float(p["stability"]),
        depth=float(p.get("depth") or 0.0),
        last_activated_at=from_iso(p.get("last_activated_at")),
        created_at=from_iso(p["created_at"]),
    )


def _memory(p: dict[str, Any], basins: list[dict[str, Any]]) -> Memory:
    links = sorted(
        (MemoryBasin(basin_id=b["basin_id"], weight=float(b["weight"])) for b in basins if b and b.get("basin_id")),
        key=lambda mb: mb.basin_id,
    )
    return Memory(
        id=p["id"],
        kind=p["kind"],
        content=p["content"],
        tags=list(p.get("tags") or []),
        importance=float(p["importance"]),
        created_at=from_iso(p["created_at"]),
        basins=links,
    )


def _wisdom(p: dict[str, Any]) -> WisdomPrinciple:
    return WisdomPrinciple(
        id=p["id"],
        text=p["text"],
        domain=p["domain"],
        confidence=float(p["confidence"]),
        created_at=from_iso(p["created_at"]),
    )


def _snapshot(p: dict[str, Any]) -> CoherenceSnapshot:
    return CoherenceSnapshot(
        id=p["id"],
        created_at=from_iso(p["created_at"]),
        consciousness_level=float(p["consciousness_level"]),
        status=p["status"],
        components={k: float(v) for k, v in (_json_or_none(p.get("components")) or {}).items()},
        active_basin_ids=list(p.get("active_basin_ids") or []),
    )


def _trace_props(trace: TraceRecord) -> dict[str, Any]:
    props = trace.model_dump(exclude={"metadata", "started_at", "completed_at"})
    props["started_at"] = to_iso(trace.started_at)
    props["completed_at"] = to_iso(trace.completed_at)
    props["metadata"] = json.dumps(trace.metadata, sort_keys=True)
    return _drop_none(props)


def _trace(p: dict[str, Any]) -> TraceRecord:
    return TraceRecord(
        id=p["id"],
        run_id=p["run_id"],
        agent_name=p["agent_name"],
        parent_id=p.get("parent_id"),
        parent_step=p.get("parent_step"),
        model=p.get("model") or "",
        task=p.get("task") or "",
        status=p.get("status") or "running",
        summary=p.get("summary"),
        error=p.get("error"),
        started_at=from_iso(p["started_at"]),
        completed_at=from_iso(p.get("completed_at")),
        input_tokens=int(p.get("input_tokens") or 0),
        output_tokens=int(p.get("output_tokens") or 0),
        pruned_tokens_saved=int(p.get("pruned_tokens_saved") or 0),
        step_count=int(p.get("step_count") or 0),
        metadata=_json_or_none(p.get("metadata")) or {},
    )


def _step_props(step: StepRecord) -> dict[str, Any]:
    props = step.model_dump(exclude={"tool_calls", "started_at", "completed_at"})
    props["started_at"] = to_iso(step.started_at)
    props["completed_at"] = to_iso(step.completed_at)
    props["tool_calls"] = json.dumps([tc.model_dump(mode="json") for tc in step.tool_calls])
    return _drop_none(props)


def _step(p: dict[str, Any]) -> StepRecord:
    return StepRecord(
        id=p["id"],
        trace_id=p["trace_id"],
        step_number=int(p["step_number"]),
        step_type=p["step_type"],
        started_at=from_iso(p.get("started_at")),
        completed_at=from_iso(p.get("completed_at")),
        duration_ms=None if p.get("duration_ms") is None else float(p["duration_ms"]),
        model_output=p.get("model_output"),
        code_action=p.get("code_action"),
        tool_calls=[ToolCallRecord(**tc) for tc in (_json_or_none(p.get("tool_calls")) or [])],
        observations=p.get("observations"),
        plan=p.get("plan"),
        error=p.get("error"),
        final_answer=p.get("final_answer"),
        input_tokens=int(p.get("input_tokens") or 0),
        output_tokens=int(p.get("output_tokens") or 0),
        unpruned_input_tokens=int(p.get("unpruned_input_tokens") or 0),
    )


# --- queries (fixed text; values are parameters) ---------------------------------------------------

_UPSERT_BASIN = """
MERGE (b:AttractorBasin {name: $name})
ON CREATE SET b.id = $id, b.activation = $activation, b.depth = $depth,
              b.last_activated_at = $last_activated_at, b.created_at = $created_at
SET b.description = $description, b.keywords = $keywords, b.stability = $stability
RETURN properties(b) AS props
"""

_BASIN_BY_ID = "MATCH (b:AttractorBasin {id: $key}) RETURN properties(b) AS props"
_BASIN_BY_NAME = "MATCH (b:AttractorBasin {name: $key}) RETURN properties(b) AS props"
_LIST_BASINS = "MATCH (b:AttractorBasin) RETURN properties(b) AS props, b.name AS name ORDER BY name"

_APPLY_ACTIVATION = """
UNWIND $rows AS row
MATCH (b:AttractorBasin {id: row.basin_id})
SET b.activation = row.activation, b.depth = row.depth, b.last_activated_at = row.last_activated_at
RETURN b.id AS basin_id
"""

_SET_LINKS = """
UNWIND $rows AS row
MATCH (s:AttractorBasin {id: row.source_id})
MATCH (t:AttractorBasin {id: row.target_id})
MERGE (s)-[r:RELATED_TO]->(t)
SET r.weight = row.weight
RETURN s.id AS source_id, t.id AS target_id, r.weight AS weight
"""

_LIST_LINKS = """
MATCH (s:AttractorBasin)-[r:RELATED_TO]->(t:AttractorBasin)
RETURN s.id AS source_id, t.id AS target_id, r.weight AS weight
ORDER BY source_id, target_id
"""

_CREATE_MEMORY = """
CREATE (m:Memory {id: $id, kind: $kind, content: $content, tags: $tags,
                  importance: $importance, created_at: $created_at})
"""

_LINK_MEMORY = """
UNWIND $rows AS row
MATCH (m:Memory {id: $id})
MATCH (b:AttractorBasin {id: row.basin_id})
MERGE (m)-[r:IN_BASIN]->(b)
SET r.weight = row.weight
RETURN b.id AS basin_id
"""

_MEMORY_WITH_BASINS = """
MATCH (m:Memory)
WHERE $kinds IS NULL OR m.kind IN $kinds
OPTIONAL MATCH (m)-[r:IN_BASIN]->(b:AttractorBasin)
WITH m, collect(CASE WHEN b IS NULL THEN null ELSE {basin_id: b.id, weight: r.weight} END) AS basins
RETURN properties(m) AS props, basins, m.created_at AS created_at, m.id AS id
ORDER BY created_at, id
"""

_ONE_MEMORY = """
MATCH (m:Memory {id: $id})
OPTIONAL MATCH (m)-[r:IN_BASIN]->(b:AttractorBasin)
WITH m, collect(CASE WHEN b IS NULL THEN null ELSE {basin_id: b.id, weight: r.weight} END) AS basins
RETURN properties(m) AS props, basins
"""

_MEMORY_STATS = """
MATCH (m:Memory)
RETURN m.kind AS kind, count(m) AS n, max(m.created_at) AS latest, max(m.id) AS max_id
"""

_BASIN_MEMORY_COUNTS = """
MATCH (m:Memory)-[:IN_BASIN]->(b:AttractorBasin)
RETURN b.id AS basin_id, count(DISTINCT m) AS n
"""

_CREATE_WISDOM = """
CREATE (w:WisdomPrinciple {id: $id, text: $text, domain: $domain, confidence: $confidence,
                           created_at: $created_at})
RETURN properties(w) AS props
"""

_LIST_WISDOM = """
MATCH (w:WisdomPrinciple)
RETURN properties(w) AS props, w.created_at AS created_at, w.id AS id
ORDER BY created_at, id
"""

_CREATE_SNAPSHOT = """
CREATE (s:CoherenceSnapshot {id: $id, created_at: $created_at,
                             consciousness_level: $consciousness_level, status: $status,
                             components: $components, active_basin_ids: $active_basin_ids})
"""

_RECENT_SNAPSHOTS = """
MATCH (s:CoherenceSnapshot)
RETURN properties(s) AS props, s.created_at AS created_at, s.id AS id
ORDER BY created_at DESC, id DESC
LIMIT $limit
"""

_CREATE_TRACE = """
MERGE (t:AgentExecutionTrace {id: $id})
ON CREATE SET t += $props
"""

# The parent may arrive after the child (replays): link whichever pair exists now.
_LINK_PARENT = """
MATCH (p:AgentExecutionTrace {id: $parent_id})
MATCH (t:AgentExecutionTrace {id: $id})
MERGE (p)-[d:DELEGATED_TO]->(t)
ON CREATE SET d.at_step = t.parent_step
"""

_ADOPT_CHILDREN = """
MATCH (t:AgentExecutionTrace {id: $id})
MATCH (c:AgentExecutionTrace {parent_id: $id})
MERGE (t)-[d:DELEGATED_TO]->(c)
ON CREATE SET d.at_step = c.parent_step
"""

_ADOPT_STEPS = """
MATCH (t:AgentExecutionTrace {id: $id})
MATCH (s:AgentExecutionStep {trace_id: $id})
MERGE (t)-[h:HAS_STEP]->(s)
SET h.order = s.step_number
"""

_UPSERT_STEP = """
MERGE (s:AgentExecutionStep {id: $id})
SET s = $props
"""

_LINK_STEP = """
MATCH (t:AgentExecutionTrace {id: $trace_id})
MATCH (s:AgentExecutionStep {id: $id})
MERGE (t)-[h:HAS_STEP]->(s)
SET h.order = $step_number
"""

_COMPLETE_TRACE = """
MATCH (t:AgentExecutionTrace {id: $id})
SET t.status = $status, t.completed_at = $completed_at, t.summary = $summary, t.error = $error
SET t += $totals
"""

_LINK_TRACE_BASIN = """
MATCH (t:AgentExecutionTrace {id: $trace_id})
MATCH (b:AttractorBasin {id: $basin_id})
MERGE (t)-[r:ACTIVATED_BASIN {at_step: $at_step}]->(b)
SET r.strength = $strength
"""

_GET_TRACE = "MATCH (t:AgentExecutionTrace {id: $id}) RETURN properties(t) AS props"

_GET_STEPS = "MATCH (s:AgentExecutionStep {trace_id: $id}) RETURN properties(s) AS props"

_GET_CHILDREN = """
MATCH (c:AgentExecutionTrace {parent_id: $id})
RETURN properties(c) AS props, c.started_at AS started_at, c.id AS id
ORDER BY started_at, id
"""

_GET_TRACE_BASINS = """
MATCH (t:AgentExecutionTrace {id: $id})-[r:ACTIVATED_BASIN]->(b:AttractorBasin)
RETURN b.id AS basin_id, b.name AS basin_name, r.strength AS strength, r.at_step AS at_step
ORDER BY at_step, basin_name
"""

_COUNT_TRACES = "MATCH (t:AgentExecutionTrace) RETURN count(t) AS n"


def _trace_where(flt: TraceFilter, params: dict[str, Any], after: tuple[datetime, str] | None = None) -> str:
    """A WHERE clause from fixed fragments; the values go into `params`."""
    clauses: list[str] = []
    if flt.agent_name is not None:
        clauses.append("t.agent_name = $agent_name")
        params["agent_name"] = flt.agent_name
    if flt.status is not None:
        clauses.append("t.status = $status")
        params["status"] = flt.status
    if flt.since is not None:
        clauses.append("t.started_at >= $since")
        params["since"] = to_iso(flt.since)
    if flt.until is not None:
        clauses.append("t.started_at <= $until")
        params["until"] = to_iso(flt.until)
    if flt.parent_id is not None:
        clauses.append("t.parent_id = $parent_id")
        params["parent_id"] = flt.parent_id
    if flt.roots_only:
        clauses.append("t.parent_id IS NULL")
    if after is not None:
        clauses.append("(t.started_at < $after_started OR (t.started_at = $after_started AND t.id < $after_id))")
        params["after_started"] = to_iso(after[0])
        params["after_id"] = after[1]
    return ("WHERE " + " AND ".join(clauses)) if clauses else ""


class _ConstraintViolation(StoreError):
    """A uniqueness constraint refused a write (a duplicate id, or a lost MERGE race)."""


# --- the store -----------------------------------------------------------------------------------


class Neo4jStore(Store):
    backend = "neo4j"

    def __init__(
        self,
        uri: str,
        username: str,
        password: str | None,
        database: str,
        *,
        connection_timeout: float = 5.0,
        max_transaction_retry_time: float = 15.0,
        transaction_timeout: float = 10.0,
    ) -> None:
        self._uri = uri
        self._username = username
        self._password = password or ""
        self._database = database
        self._connection_timeout = connection_timeout
        self._max_retry = max_transaction_retry_time
        # The driver has no read timeout: a server that accepts connections but never answers
        # would hold a call (and an agent run's trace write) forever. Past this, StoreUnavailable.
        self._transaction_timeout = transaction_timeout
        self._driver: Any = None

    @property
    def database(self) -> str:
        return self._database

    @property
    def uri(self) -> str:
        """The Bolt URI without credentials."""
        return self._safe_uri()

    def __repr__(self) -> str:
        return f"Neo4jStore({self._safe_uri()!r}, database={self._database!r})"

    # --- lifecycle ---------------------------------------------------------------------------
    async def open(self) -> None:
        if self._driver is not None:
            return
        from neo4j import AsyncGraphDatabase  # noqa: PLC0415 - keep start-up light

        try:
            self._driver = AsyncGraphDatabase.driver(
                self._uri,
                auth=(self._username, self._password),
                connection_timeout=self._connection_timeout,
                connection_acquisition_timeout=self._connection_timeout * 2,
                max_transaction_retry_time=0,  # retries are ours: see _transact
                user_agent="dionysus-mcp",
            )
        except Exception as exc:  # bad scheme / malformed URI / bad options
            raise StoreError(f"cannot use NEO4J_URI {self._safe_uri()!r}: {self._clean(exc)}") from None
        try:
            await self._guard(self._driver.verify_connectivity())
            await self.apply_schema()
        except BaseException:
            await self.close()
            raise

    async def close(self) -> None:
        driver, self._driver = self._driver, None
        if driver is not None:
            try:
                await driver.close()
            except Exception as exc:  # closing a driver to a dead server must not raise
                log.debug("closing the Neo4j driver: %s", self._clean(exc))

    async def apply_schema(self) -> list[str]:
        statements = schema_statements()
        # Schema statements each run in their own transaction (Neo4j refuses schema and data
        # changes in one transaction, and some servers refuse several schema changes in one).
        for statement in statements:
            await self._write(_run_consume, statement, {})
        return statements

    async def describe(self) -> str:
        return f"{self._safe_uri()} (database {self._database})"

    # --- basins ------------------------------------------------------------------------------
    async def upsert_basin(self, basin: Basin) -> Basin:
        params = {
            "id": basin.id,
            "name": basin.name,
            "description": basin.description,
            "keywords": list(basin.keywords),
            "activation": float(basin.activation),
            "stability": float(basin.stability),
            "depth": float(basin.depth),
            "last_activated_at": to_iso(basin.last_activated_at),
            "created_at": to_iso(basin.created_at),
        }
        rows = await self._write(_fetch, _UPSERT_BASIN, params, merge=True)
        return _basin(rows[0]["props"])

    async def get_basin(self, name_or_id: str) -> Basin | None:
        async def work(tx: Any) -> dict[str, Any] | None:
            for query in (_BASIN_BY_ID, _BASIN_BY_NAME):
                rows = await _fetch(tx, query, {"key": name_or_id})
                if rows:
                    return rows[0]["props"]
            return None

        props = await self._read_fn(work)
        return None if props is None else _basin(props)

    async def list_basins(self) -> list[Basin]:
        return [_basin(r["props"]) for r in await self._read(_LIST_BASINS)]

    async def apply_activation(self, updates: list[ActivationUpdate], link_weights: list[BasinLink]) -> None:
        rows = [
            {
                "basin_id": u.basin_id,
                "activation": float(u.activation),
                "depth": float(u.depth),
                "last_activated_at": to_iso(u.last_activated_at),
            }
            for u in updates
        ]
        links = [_link_row(link) for link in link_weights]

        async def work(tx: Any) -> None:
            # Strict, like every cognition write: a basin that does not exist fails the whole
            # transaction (raising inside execute_write rolls it back).
            if rows:
                found = {r["basin_id"] for r in await _fetch(tx, _APPLY_ACTIVATION, {"rows": rows})}
                missing = sorted({r["basin_id"] for r in rows} - found)
                if missing:
                    raise StoreError(f"cannot activate basin {missing[0]!r}: no basin has that id")
            if links:
                linked = await _fetch(tx, _SET_LINKS, {"rows": links})
                if len(linked) != len(links):
                    _raise_missing_link(links, linked)

        await self._write_fn(work)

    async def set_link(self, link: BasinLink) -> BasinLink:
        async def work(tx: Any) -> list[dict[str, Any]]:
            linked = await _fetch(tx, _SET_LINKS, {"rows": [_link_row(link)]})
            if not linked:
                _raise_missing_link([_link_row(link)], linked)
            return linked

        rows = await self._write_fn(work)
        return BasinLink(source_id=rows[0]["source_id"], target_id=rows[0]["target_id"], weight=float(rows[0]["weight"]))

    async def list_links(self) -> list[BasinLink]:
        return [
            BasinLink(source_id=r["source_id"], target_id=r["target_id"], weight=float(r["weight"]))
            for r in await self._read(_LIST_LINKS)
        ]

    # --- memories ----------------------------------------------------------------------------
    async def add_memory(self, memory: Memory) -> Memory:
        params = {
            "id": memory.id,
            "kind": memory.kind,
            "content": memory.content,
            "tags": list(memory.tags),
            "importance": float(memory.importance),
            "created_at": to_iso(memory.created_at),
        }
        links = [{"basin_id": b.basin_id, "weight": float(b.weight)} for b in memory.basins]

        async def work(tx: Any) -> dict[str, Any]:
            await _run_consume(tx, _CREATE_MEMORY, params)
            if links:
                found = {r["basin_id"] for r in await _fetch(tx, _LINK_MEMORY, {"id": memory.id, "rows": links})}
                missing = sorted({mb["basin_id"] for mb in links} - found)
                if missing:
                    raise StoreError(
                        f"cannot attach memory {memory.id!r} to basin {missing[0]!r}: no basin has that id"
                    )
            return (await _fetch(tx, _ONE_MEMORY, {"id": memory.id}))[0]

        row = await self._write_fn(work)
        return _memory(row["props"], row["basins"])

    async def list_memories(self, kinds: list[str] | None = None) -> list[Memory]:
        rows = await self._read(_MEMORY_WITH_BASINS, {"kinds": None if kinds is None else list(kinds)})
        return [_memory(r["props"], r["basins"]) for r in rows]

    async def memory_stats(self) -> MemoryStats:
        rows = await self._read(_MEMORY_STATS)
        by_kind = {r["kind"]: int(r["n"]) for r in rows}
        total = sum(by_kind.values())
        latest = max((r["latest"] for r in rows if r["latest"]), default="")
        max_id = max((r["max_id"] for r in rows if r["max_id"]), default="")
        # Memories are only ever added, so (count, newest timestamp, largest id) changes with
        # every write, also writes by another process sharing the database.
        return MemoryStats(total=total, by_kind=dict(sorted(by_kind.items())), revision=f"{total}:{latest}:{max_id}")

    async def basin_memory_counts(self) -> dict[str, int]:
        return {r["basin_id"]: int(r["n"]) for r in await self._read(_BASIN_MEMORY_COUNTS)}

    # --- wisdom ------------------------------------------------------------------------------
    async def add_wisdom(self, principle: WisdomPrinciple) -> WisdomPrinciple:
        params = principle.model_dump()
        params["confidence"] = float(principle.confidence)
        params["created_at"] = to_iso(principle.created_at)
        rows = await self._write(_fetch, _CREATE_WISDOM, params)
        return _wisdom(rows[0]["props"])

    async def list_wisdom(self) -> list[WisdomPrinciple]:
        return [_wisdom(r["props"]) for r in await self._read(_LIST_WISDOM)]

    # --- coherence snapshots -----------------------------------------------------------------
    async def add_snapshot(self, snapshot: CoherenceSnapshot) -> None:
        params = {
            "id": snapshot.id,
            "created_at": to_iso(snapshot.created_at),
            "consciousness_level": float(snapshot.consciousness_level),
            "status": snapshot.status,
            "components": json.dumps(snapshot.components, sort_keys=True),
            "active_basin_ids": list(snapshot.active_basin_ids),
        }
        await self._write(_run_consume, _CREATE_SNAPSHOT, params)

    async def recent_snapshots(self, limit: int) -> list[CoherenceSnapshot]:
        if limit <= 0:
            return []
        return [_snapshot(r["props"]) for r in await self._read(_RECENT_SNAPSHOTS, {"limit": int(limit)})]

    # --- execution traces --------------------------------------------------------------------
    async def create_trace(self, trace: TraceRecord) -> None:
        props = _trace_props(trace)

        async def work(tx: Any) -> None:
            await _run_consume(tx, _CREATE_TRACE, {"id": trace.id, "props": props})
            if trace.parent_id is not None:
                await _run_consume(tx, _LINK_PARENT, {"id": trace.id, "parent_id": trace.parent_id})
            await _run_consume(tx, _ADOPT_CHILDREN, {"id": trace.id})
            await _run_consume(tx, _ADOPT_STEPS, {"id": trace.id})

        await self._write_fn(work, merge=True)

    async def add_step(self, step: StepRecord) -> None:
        props = _step_props(step)

        async def work(tx: Any) -> None:
            await _run_consume(tx, _UPSERT_STEP, {"id": step.id, "props": props})
            await _run_consume(
                tx, _LINK_STEP, {"id": step.id, "trace_id": step.trace_id, "step_number": step.step_number}
            )

        await self._write_fn(work, merge=True)

    async def complete_trace(
        self,
        trace_id: str,
        status: TraceStatus,
        completed_at: datetime,
        summary: str | None,
        error: str | None,
        totals: dict[str, int],
    ) -> None:
        params = {
            "id": trace_id,
            "status": status,
            "completed_at": to_iso(completed_at),
            "summary": summary,
            "error": error,
            "totals": {k: int(totals[k]) for k in _TOTAL_KEYS if totals.get(k) is not None},
        }
        await self._write(_run_consume, _COMPLETE_TRACE, params)

    async def link_trace_basin(self, link: TraceBasinLink) -> None:
        params = {
            "trace_id": link.trace_id,
            "basin_id": link.basin_id,
            "at_step": int(link.at_step),
            "strength": float(link.strength),
        }
        await self._write(_run_consume, _LINK_TRACE_BASIN, params)

    async def get_trace(self, trace_id: str) -> TraceRecord | None:
        rows = await self._read(_GET_TRACE, {"id": trace_id})
        return _trace(rows[0]["props"]) if rows else None

    async def get_steps(self, trace_id: str) -> list[StepRecord]:
        steps = [_step(r["props"]) for r in await self._read(_GET_STEPS, {"id": trace_id})]
        steps.sort(key=lambda s: (s.step_number, _STEP_TYPE_ORDER.get(s.step_type, 9), s.id))
        return steps

    async def get_children(self, trace_id: str) -> list[TraceRecord]:
        return [_trace(r["props"]) for r in await self._read(_GET_CHILDREN, {"id": trace_id})]

    async def get_trace_basins(self, trace_id: str) -> list[TraceBasinLink]:
        return [
            TraceBasinLink(
                trace_id=trace_id,
                basin_id=r["basin_id"],
                basin_name=r["basin_name"] or "",
                strength=float(r["strength"]),
                at_step=int(r["at_step"]),
            )
            for r in await self._read(_GET_TRACE_BASINS, {"id": trace_id})
        ]

    async def list_traces(
        self, filter: TraceFilter, limit: int, after: tuple[datetime, str] | None = None
    ) -> list[TraceRecord]:
        if limit <= 0:
            return []
        params: dict[str, Any] = {"limit": int(limit)}
        query = (
            "MATCH (t:AgentExecutionTrace) "
            + _trace_where(filter, params, after)
            + " RETURN properties(t) AS props, t.started_at AS started_at, t.id AS id"
            " ORDER BY started_at DESC, id DESC LIMIT $limit"
        )
        return [_trace(r["props"]) for r in await self._read(query, params)]

    async def token_totals(self, filter: TraceFilter) -> list[dict]:
        params: dict[str, Any] = {}
        query = (
            "MATCH (t:AgentExecutionTrace) "
            + _trace_where(filter, params)
            + " WITH t.agent_name AS agent_name, coalesce(t.model, '') AS model,"
            " count(t) AS runs, sum(coalesce(t.input_tokens, 0)) AS input_tokens,"
            " sum(coalesce(t.output_tokens, 0)) AS output_tokens,"
            " sum(coalesce(t.pruned_tokens_saved, 0)) AS pruned_tokens_saved"
            " RETURN agent_name, model, runs, input_tokens, output_tokens, pruned_tokens_saved"
            " ORDER BY agent_name, model"
        )
        return [
            {
                "agent_name": r["agent_name"],
                "model": r["model"],
                "runs": int(r["runs"]),
                "input_tokens": int(r["input_tokens"]),
                "output_tokens": int(r["output_tokens"]),
                "pruned_tokens_saved": int(r["pruned_tokens_saved"]),
            }
            for r in await self._read(query, params)
        ]

    async def count_traces(self) -> int:
        rows = await self._read(_COUNT_TRACES)
        return int(rows[0]["n"]) if rows else 0

    # --- plumbing ------------------------------------------------------------------------------
    def _safe_uri(self) -> str:
        """The URI without user info, query or fragment."""
        try:
            parts = urlsplit(self._uri)
            host = parts.hostname or ""
            if ":" in host:
                host = f"[{host}]"
            netloc = host + (f":{parts.port}" if parts.port else "")
            return urlunsplit((parts.scheme, netloc, parts.path, "", ""))
        except ValueError:
            return "<invalid NEO4J_URI>"

    def _clean(self, exc: BaseException) -> str:
        text = str(exc) or type(exc).__name__
        if self._password:
            text = text.replace(self._password, "***")
        if self._uri and self._uri != self._safe_uri():
            text = text.replace(self._uri, self._safe_uri())
        return text[:1000]

    def _map(self, exc: BaseException) -> StoreError:
        from neo4j import exceptions as nx  # noqa: PLC0415

        where = f"Neo4j at {self._safe_uri()} (database {self._database})"
        if isinstance(exc, StoreError):
            return exc
        if isinstance(
            exc,
            (nx.ServiceUnavailable, nx.SessionExpired, nx.ConnectionPoolError, nx.DatabaseUnavailable, OSError),
        ):
            return StoreUnavailable(f"{where} is unreachable: {self._clean(exc)}")
        if isinstance(exc, nx.AuthError):
            return StoreError(f"{where} rejected the credentials of user {self._username!r}: check NEO4J_USERNAME/NEO4J_PASSWORD")
        if isinstance(exc, nx.ConstraintError):
            return _ConstraintViolation(f"{where}: constraint violated: {self._clean(exc)}")
        return StoreError(f"{where}: {type(exc).__name__}: {self._clean(exc)}")

    def _session(self) -> Any:
        if self._driver is None:
            raise StoreError("the Neo4j store is not open: call open() first")
        return self._driver.session(database=self._database)

    async def _guard(self, awaitable: Awaitable[T]) -> T:
        from neo4j.exceptions import DriverError, Neo4jError  # noqa: PLC0415

        try:
            return await awaitable
        except (DriverError, Neo4jError, OSError, StoreError) as exc:
            raise self._map(exc) from None

    async def _transact(self, work: Callable[[Any], Awaitable[T]], *, write: bool, merge: bool = False) -> T:
        """Run `work` in one managed transaction, retrying what is worth retrying.

        The driver's own retry loop is off (max_transaction_retry_time=0): its first back-off
        is a whole second, and it treats "server down" like a passing conflict, which would
        hold every call for the full retry budget during an outage. Instead:

        - transient errors (deadlocks, concurrent-modification conflicts; ArcadeDB reports
          these often when many tasks append relationships to one node) are retried with a
          short jittered back-off within `max_transaction_retry_time`;
        - a lost connection is retried once at once (pooled connections die with a server
          restart), then reported as StoreUnavailable, so callers can fall back quickly;
        - `merge=True` marks an idempotent MERGE: Neo4j serialises two writers racing to create
          the same node on its uniqueness constraint and the second MERGE matches, but ArcadeDB
          refuses the second with a ConstraintError; running the MERGE again then matches.
        Raising inside `work` rolls the transaction back.
        """
        from neo4j import exceptions as nx  # noqa: PLC0415

        deadline = time.monotonic() + self._max_retry
        transient = reconnects = merges = 0
        while True:
            try:
                async with asyncio.timeout(self._transaction_timeout):
                    async with self._session() as session:
                        run = session.execute_write if write else session.execute_read
                        return await run(work)
            except TimeoutError:
                raise StoreUnavailable(
                    f"Neo4j at {self._safe_uri()} (database {self._database}) did not answer within "
                    f"{self._transaction_timeout:g} s"
                ) from None
            except StoreError:
                raise
            except nx.ConstraintError as exc:
                if merge and merges < 2:
                    merges += 1
                    continue
                raise self._map(exc) from None
            except (nx.ServiceUnavailable, nx.SessionExpired, nx.DatabaseUnavailable, OSError) as exc:
                if reconnects < 1:
                    reconnects += 1
                    continue
                raise self._map(exc) from None
            except nx.TransientError as exc:
                transient += 1
                delay = min(0.5, 0.01 * 2**transient) * random.uniform(0.5, 1.5)
                if time.monotonic() + delay > deadline:
                    raise self._map(exc) from None
                await asyncio.sleep(delay)
            except (nx.DriverError, nx.Neo4jError) as exc:
                raise self._map(exc) from None

    async def _write_fn(self, work: Callable[[Any], Awaitable[T]], *, merge: bool = False) -> T:
        return await self._transact(work, write=True, merge=merge)

    async def _read_fn(self, work: Callable[[Any], Awaitable[T]]) -> T:
        return await self._transact(work, write=False)

    async def _write(
        self, fn: Callable[..., Awaitable[T]], query: str, params: dict[str, Any], *, merge: bool = False
    ) -> T:
        return await self._write_fn(lambda tx: fn(tx, query, params), merge=merge)

    async def _read(self, query: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        return await self._read_fn(lambda tx: _fetch(tx, query, params or {}))


def _raise_missing_link(rows: list[dict[str, Any]], linked: list[dict[str, Any]]) -> None:
    done = {(r["source_id"], r["target_id"]) for r in linked}
    for row in rows:
        if (row["source_id"], row["target_id"]) not in done:
            raise StoreError(f"cannot link {row['source_id']!r} → {row['target_id']!r}: both basins must exist")
    raise StoreError("cannot link basins: both basins of every link must exist")


def _link_row(link: BasinLink) -> dict[str, Any]:
    return {"source_id": link.source_id, "target_id": link.target_id, "weight": float(link.weight)}


async def _fetch(tx: Any, query: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    result = await tx.run(query, params)
    return [record.data() async for record in result]


async def _run_consume(tx: Any, query: str, params: dict[str, Any]) -> None:
    await (await tx.run(query, params)).consume()

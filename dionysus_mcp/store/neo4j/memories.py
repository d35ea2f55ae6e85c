"""Memories and their IN_BASIN links, on Neo4j.

    (:Memory {id, kind, content, tags, importance, created_at})-[:IN_BASIN {weight}]->(:AttractorBasin)
"""

from __future__ import annotations

from typing import Any

from schema.models import Memory, MemoryBasin, MemoryStats, from_iso, to_iso

from ..base import StoreError
from .connection import Neo4jConnection, _fetch, _run_consume

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

# Anchored on the basins (their id index), then their IN_BASIN edges: written from the memory
# side, ArcadeDB walked every memory (169 → 549 ms from 200 to 1,000 basins).
_SOME_BASIN_MEMORY_COUNTS = """
MATCH (b:AttractorBasin) WHERE b.id IN $ids
MATCH (b)<-[:IN_BASIN]-(m:Memory)
RETURN b.id AS basin_id, count(DISTINCT m) AS n
"""

_BASIN_MEMORY_COUNTS = """
MATCH (m:Memory)-[:IN_BASIN]->(b:AttractorBasin)
RETURN b.id AS basin_id, count(DISTINCT m) AS n
"""


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


class MemoriesMixin(Neo4jConnection):
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

    async def basin_memory_counts(self, basin_ids: list[str] | None = None) -> dict[str, int]:
        if basin_ids is None:
            return {r["basin_id"]: int(r["n"]) for r in await self._read(_BASIN_MEMORY_COUNTS)}
        rows = await self._read(_SOME_BASIN_MEMORY_COUNTS, {"ids": list(basin_ids)})
        return {r["basin_id"]: int(r["n"]) for r in rows if int(r["n"]) > 0}

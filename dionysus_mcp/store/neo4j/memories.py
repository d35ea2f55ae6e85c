"""Memories and their IN_BASIN links, on Neo4j.

    (:Memory {id, kind, content, tags, importance, created_at,
              terms, term_count, embedding, embedding_model, embedding_dim})-[:IN_BASIN {weight}]->(:AttractorBasin)

`terms` is the space-separated schema.text tokens of content + tags (what lexical recall
matches), `embedding` a list of floats (float32 values, L2-normalized). Reads name the record
fields explicitly so a memory's vector never travels with it.
"""

from __future__ import annotations

from typing import Any

from schema.models import Memory, MemoryBasin, MemoryStats, from_iso, to_iso
from schema.text import memory_terms

from ..base import Embedding, Memories, MemorySearch, StoreError, WriteConflict
from .connection import Neo4jConnection, Neo4jPart, _fetch, _run_consume
from .memory_search import Neo4jMemorySearch

_CREATE_MEMORY = """
CREATE (m:Memory {id: $id, kind: $kind, content: $content, tags: $tags,
                  importance: $importance, created_at: $created_at, terms: $terms, term_count: $term_count,
                  embedding: $embedding, embedding_model: $embedding_model, embedding_dim: $embedding_dim})
"""

_PROPS = "{id: m.id, kind: m.kind, content: m.content, tags: m.tags, importance: m.importance, created_at: m.created_at}"

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
RETURN _PROPS_ AS props, basins, m.created_at AS created_at, m.id AS id
ORDER BY created_at, id
"""

_SOME_MEMORIES = """
MATCH (m:Memory)
WHERE m.id IN $ids
OPTIONAL MATCH (m)-[r:IN_BASIN]->(b:AttractorBasin)
WITH m, collect(CASE WHEN b IS NULL THEN null ELSE {basin_id: b.id, weight: r.weight} END) AS basins
RETURN _PROPS_ AS props, basins, m.created_at AS created_at, m.id AS id
ORDER BY created_at, id
"""

_TO_EMBED = """
MATCH (m:Memory)
WHERE m.embedding_model IS NULL OR m.embedding_model <> $model
WITH m ORDER BY m.created_at, m.id LIMIT $limit
OPTIONAL MATCH (m)-[r:IN_BASIN]->(b:AttractorBasin)
WITH m, collect(CASE WHEN b IS NULL THEN null ELSE {basin_id: b.id, weight: r.weight} END) AS basins
RETURN _PROPS_ AS props, basins, m.created_at AS created_at, m.id AS id
ORDER BY created_at, id
"""

_SET_EMBEDDINGS = """
UNWIND $rows AS row
MATCH (m:Memory {id: row.id})
SET m.embedding = row.embedding, m.embedding_model = row.embedding_model, m.embedding_dim = row.embedding_dim
"""

# A read-modify-write locks the memories first (Neo4j: their write locks, held to commit;
# ArcadeDB: a concurrent commit conflicts and is retried), then reads them.
_LOCK_MEMORIES = """
UNWIND $ids AS id
MATCH (m:Memory {id: id})
SET m.rev = coalesce(m.rev, 0) + 1
RETURN m.id AS id, m.content AS content, m.tags AS tags
"""

_EMBEDDING_COUNTS = """
MATCH (m:Memory)
RETURN coalesce(m.embedding_model, '') AS model, count(m) AS n
"""

_ONE_MEMORY = """
MATCH (m:Memory {id: $id})
OPTIONAL MATCH (m)-[r:IN_BASIN]->(b:AttractorBasin)
WITH m, collect(CASE WHEN b IS NULL THEN null ELSE {basin_id: b.id, weight: r.weight} END) AS basins
RETURN _PROPS_ AS props, basins
"""

_MEMORY_STATS = """
MATCH (m:Memory)
RETURN m.kind AS kind, count(m) AS n, max(m.created_at) AS latest, max(m.id) AS max_id
"""

# Anchored on the basins (their id index), then their IN_BASIN edges: written from the memory
# side, ArcadeDB walked every memory, its time growing with the basins (docs/benchmarks.md,
# "Figures behind the code").
_SOME_BASIN_MEMORY_COUNTS = """
MATCH (b:AttractorBasin) WHERE b.id IN $ids
MATCH (b)<-[:IN_BASIN]-(m:Memory)
RETURN b.id AS basin_id, count(DISTINCT m) AS n
"""

_MEMORY_EDITS = "MATCH (r:StoreRevision {name: 'memories'}) RETURN r.edits AS edits"

# An update or delete the count would not show: counted, for memory_stats' revision.
BUMP_MEMORY_EDITS = """
MERGE (r:StoreRevision {name: 'memories'})
ON CREATE SET r.edits = 0
SET r.edits = r.edits + 1
"""

_UPDATE_MEMORY = """
MATCH (m:Memory {id: $id})
SET m.kind = $kind, m.content = $content, m.tags = $tags, m.importance = $importance,
    m.terms = $terms, m.term_count = $term_count
WITH m
OPTIONAL MATCH (m)-[r:IN_BASIN]->()
DELETE r
RETURN count(*) AS n
"""

_DELETE_MEMORY = """
MATCH (m:Memory {id: $id})
DETACH DELETE m
RETURN count(*) AS n
"""

_DETACH_BASIN = """
MATCH (:Memory)-[r:IN_BASIN]->(:AttractorBasin {id: $id})
DELETE r
RETURN count(*) AS n
"""

_BASIN_MEMORY_COUNTS = """
MATCH (m:Memory)-[:IN_BASIN]->(b:AttractorBasin)
RETURN b.id AS basin_id, count(DISTINCT m) AS n
"""


_MEMORY_WITH_BASINS, _ONE_MEMORY, _SOME_MEMORIES, _TO_EMBED = (
    q.replace("_PROPS_", _PROPS) for q in (_MEMORY_WITH_BASINS, _ONE_MEMORY, _SOME_MEMORIES, _TO_EMBED)
)


def vector_params(embedding: Embedding | None) -> dict[str, Any]:
    if embedding is None:
        return {"embedding": None, "embedding_model": None, "embedding_dim": None}
    # float32 values as Python floats: the same numbers SQLite stores, so both stores score alike.
    return {"embedding": [float(x) for x in embedding.vector], "embedding_model": embedding.model, "embedding_dim": embedding.dim}


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


def _memory_params(memory: Memory) -> dict[str, Any]:
    """The properties a memory's write sets, its search terms included."""
    terms = memory_terms(memory.content, memory.tags)
    return {
        "terms": " ".join(terms),
        "term_count": len(terms),
        "id": memory.id,
        "kind": memory.kind,
        "content": memory.content,
        "tags": list(memory.tags),
        "importance": float(memory.importance),
    }


def _link_rows(memory: Memory) -> list[dict[str, Any]]:
    return [{"basin_id": b.basin_id, "weight": float(b.weight)} for b in memory.basins]


class Neo4jMemories(Neo4jPart, Memories):
    def __init__(self, db: Neo4jConnection):
        super().__init__(db)
        self.recall = Neo4jMemorySearch(db)

    @staticmethod
    async def detach_basin(tx: Any, basin_id: str) -> int:
        """Inside the caller's transaction (a basin's deletion): detach every memory from the
        basin, and count the edit — recall hits name their basins. Returns how many."""
        rows = await _fetch(tx, _DETACH_BASIN, {"id": basin_id})
        await _run_consume(tx, BUMP_MEMORY_EDITS, {})
        return int(rows[0]["n"]) if rows else 0

    async def search(self, terms: list[str], query: Embedding | None, kinds: list[str] | None, limit: int) -> MemorySearch:
        return await self.recall.search_memories(terms, query, kinds, limit)

    async def add(self, memory: Memory, embedding: Embedding | None = None) -> Memory:
        params = {**_memory_params(memory), **vector_params(embedding), "created_at": to_iso(memory.created_at)}
        links = _link_rows(memory)

        async def work(tx: Any) -> dict[str, Any]:
            await _run_consume(tx, _CREATE_MEMORY, params)
            await self._link(tx, memory.id, links)
            return (await _fetch(tx, _ONE_MEMORY, {"id": memory.id}))[0]

        row = await self._write_fn(work)
        return _memory(row["props"], row["basins"])

    async def get(self, memory_id: str) -> Memory | None:
        rows = await self._read(_ONE_MEMORY, {"id": memory_id})
        return _memory(rows[0]["props"], rows[0]["basins"]) if rows else None

    async def update(
        self, memory: Memory, embedding: Embedding | None = None, keep_embedding: bool = False, expected: Memory | None = None
    ) -> Memory | None:
        params = _memory_params(memory)
        links = _link_rows(memory)

        async def work(tx: Any) -> dict[str, Any] | None:
            if not await _fetch(tx, _LOCK_MEMORIES, {"ids": [memory.id]}):
                return None
            if expected is not None:  # compare-and-set, under the lock just taken
                now = (await _fetch(tx, _ONE_MEMORY, {"id": memory.id}))[0]
                if _memory(now["props"], now["basins"]) != expected:
                    raise WriteConflict(f"memory {memory.id!r} changed since it was read")
            await _run_consume(tx, _UPDATE_MEMORY, params)
            if not keep_embedding:
                await _run_consume(tx, _SET_EMBEDDINGS, {"rows": [{"id": memory.id, **vector_params(embedding)}]})
            await self._link(tx, memory.id, links)
            await _run_consume(tx, BUMP_MEMORY_EDITS, {})
            return (await _fetch(tx, _ONE_MEMORY, {"id": memory.id}))[0]

        row = await self._locking_fn(work, retry_on_constraint_error=True)
        return None if row is None else _memory(row["props"], row["basins"])

    async def delete(self, memory_id: str) -> bool:
        async def work(tx: Any) -> bool:
            if not await _fetch(tx, "MATCH (m:Memory {id: $id}) RETURN m.id AS id", {"id": memory_id}):
                return False
            await _run_consume(tx, _DELETE_MEMORY, {"id": memory_id})
            await _run_consume(tx, BUMP_MEMORY_EDITS, {})
            return True

        return await self._write_fn(work, retry_on_constraint_error=True)

    @staticmethod
    async def _link(tx: Any, memory_id: str, links: list[dict[str, Any]]) -> None:
        if not links:
            return
        found = {r["basin_id"] for r in await _fetch(tx, _LINK_MEMORY, {"id": memory_id, "rows": links})}
        missing = sorted({mb["basin_id"] for mb in links} - found)
        if missing:
            raise StoreError(f"cannot attach memory {memory_id!r} to basin {missing[0]!r}: no basin has that id")

    async def list(self, kinds: list[str] | None = None) -> list[Memory]:
        rows = await self._read(_MEMORY_WITH_BASINS, {"kinds": None if kinds is None else list(kinds)})
        return [_memory(r["props"], r["basins"]) for r in rows]

    async def get_many(self, ids: list[str]) -> list[Memory]:
        if not ids:
            return []
        rows = await self._read(_SOME_MEMORIES, {"ids": list(ids)})
        return [_memory(r["props"], r["basins"]) for r in rows]

    async def embedding_counts(self) -> dict[str, int]:
        return {r["model"]: int(r["n"]) for r in await self._read(_EMBEDDING_COUNTS)}

    async def to_embed(self, model: str, limit: int) -> list[Memory]:
        rows = await self._read(_TO_EMBED, {"model": model, "limit": int(limit)})
        return [_memory(r["props"], r["basins"]) for r in rows]

    async def set_embeddings(self, vectors: dict[str, Embedding], texts: dict[str, tuple[str, list[str]]] | None = None) -> int:
        rows = [{"id": mid, **vector_params(e)} for mid, e in vectors.items()]

        async def work(tx: Any) -> int:
            current = rows
            if texts is not None:  # only where the text the vector came from is still stored
                held = {r["id"]: (r["content"], list(r["tags"] or [])) for r in await _fetch(tx, _LOCK_MEMORIES, {"ids": [r["id"] for r in rows]})}
                current = [r for r in rows if r["id"] in texts and held.get(r["id"]) == (texts[r["id"]][0], list(texts[r["id"]][1]))]
            if current:
                await _run_consume(tx, _SET_EMBEDDINGS, {"rows": current})
            return len(current)

        return await self._locking_fn(work) if rows else 0

    async def stats(self) -> MemoryStats:
        async def work(tx: Any) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
            return await _fetch(tx, _MEMORY_STATS, {}), await _fetch(tx, _MEMORY_EDITS, {})

        rows, edit_rows = await self._read_fn(work)
        edits = max((int(r["edits"] or 0) for r in edit_rows), default=0)
        by_kind = {r["kind"]: int(r["n"]) for r in rows}
        total = sum(by_kind.values())
        latest = max((r["latest"] for r in rows if r["latest"]), default="")
        max_id = max((r["max_id"] for r in rows if r["max_id"]), default="")
        # An add changes (count, newest timestamp, largest id); an update or delete changes
        # `edits`: the revision changes with every write, also another process's.
        revision = f"{total}:{latest}:{max_id}:{edits}"
        return MemoryStats(total=total, by_kind=dict(sorted(by_kind.items())), revision=revision, edits=edits)

    async def counts_by_basin(self, basin_ids: list[str] | None = None) -> dict[str, int]:
        if basin_ids is None:
            return {r["basin_id"]: int(r["n"]) for r in await self._read(_BASIN_MEMORY_COUNTS)}
        rows = await self._read(_SOME_BASIN_MEMORY_COUNTS, {"ids": list(basin_ids)})
        return {r["basin_id"]: int(r["n"]) for r in rows if int(r["n"]) > 0}

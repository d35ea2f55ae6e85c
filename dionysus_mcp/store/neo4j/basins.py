"""Attractor basins and the RELATED_TO links between them, on Neo4j.

    (:AttractorBasin {id, name, description, keywords, activation, stability, depth,
                      last_activated_at, created_at})-[:RELATED_TO {weight}]->(:AttractorBasin)
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from schema.models import ActivationUpdate, Basin, BasinLink, from_iso, to_iso

from ..base import Basins, StoreError
from .connection import Neo4jConnection, Neo4jPart, _fetch, _run_consume
from .memories import Neo4jMemories

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

# The active set (issue 13): an index range on last_activated_at, then the activation bound.
_ACTIVATED_SINCE = """
MATCH (b:AttractorBasin) WHERE b.last_activated_at >= $since AND b.activation >= $min_activation
RETURN properties(b) AS props
"""
_NEVER_ACTIVATED = """
MATCH (b:AttractorBasin) WHERE b.last_activated_at IS NULL AND b.activation >= $min_activation
RETURN properties(b) AS props
"""
_LINKS_AMONG = """
MATCH (s:AttractorBasin) WHERE s.id IN $ids
MATCH (s)-[r:RELATED_TO]->(t:AttractorBasin) WHERE t.id IN $ids
RETURN s.id AS source_id, t.id AS target_id, r.weight AS weight
"""


# What deleting a basin takes with it, counted before the DETACH DELETE.
_BASIN_TIES = """
MATCH (b:AttractorBasin {id: $id})
OPTIONAL MATCH (b)-[l:RELATED_TO]-(:AttractorBasin)
WITH b, count(DISTINCT l) AS links
OPTIONAL MATCH (:Memory)-[m:IN_BASIN]->(b)
WITH b, links, count(m) AS memories
OPTIONAL MATCH (:AgentExecutionTrace)-[a:ACTIVATED_BASIN]->(b)
RETURN links, memories, count(a) AS activations
"""

_DELETE_BASIN = "MATCH (b:AttractorBasin {id: $id}) DETACH DELETE b"


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


def _link_row(link: BasinLink) -> dict[str, Any]:
    return {"source_id": link.source_id, "target_id": link.target_id, "weight": float(link.weight)}


def _raise_missing_link(rows: list[dict[str, Any]], linked: list[dict[str, Any]]) -> None:
    done = {(r["source_id"], r["target_id"]) for r in linked}
    for row in rows:
        if (row["source_id"], row["target_id"]) not in done:
            raise StoreError(f"cannot link {row['source_id']!r} → {row['target_id']!r}: both basins must exist")
    raise StoreError("cannot link basins: both basins of every link must exist")


class Neo4jBasins(Neo4jPart, Basins):
    def __init__(self, db: Neo4jConnection, memories: Neo4jMemories):
        super().__init__(db)
        self._memories = memories  # a basin's deletion detaches memories through their aggregate

    async def upsert(self, basin: Basin) -> Basin:
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
        rows = await self._write(_fetch, _UPSERT_BASIN, params, retry_on_constraint_error=True)
        return _basin(rows[0]["props"])

    async def get(self, name_or_id: str) -> Basin | None:
        async def work(tx: Any) -> dict[str, Any] | None:
            for query in (_BASIN_BY_ID, _BASIN_BY_NAME):
                rows = await _fetch(tx, query, {"key": name_or_id})
                if rows:
                    return rows[0]["props"]
            return None

        props = await self._read_fn(work)
        return None if props is None else _basin(props)

    async def list(self) -> list[Basin]:
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

    async def delete(self, basin_id: str) -> dict[str, int] | None:
        """Remove the basin with its links, memory attachments and trace activations (DETACH
        DELETE); the memories themselves stay. None when no basin has that id."""

        async def work(tx: Any) -> dict[str, int] | None:
            rows = await _fetch(tx, _BASIN_TIES, {"id": basin_id})
            if not rows:
                return None
            await self._memories.detach_basin(tx, basin_id)
            await _run_consume(tx, _DELETE_BASIN, {"id": basin_id})
            r = rows[0]
            return {"links": int(r["links"]), "memories_detached": int(r["memories"]), "trace_activations": int(r["activations"])}

        return await self._write_fn(work, retry_on_constraint_error=True)

    async def set_link(self, link: BasinLink) -> BasinLink:
        async def work(tx: Any) -> list[dict[str, Any]]:
            linked = await _fetch(tx, _SET_LINKS, {"rows": [_link_row(link)]})
            if not linked:
                _raise_missing_link([_link_row(link)], linked)
            return linked

        rows = await self._write_fn(work)
        return BasinLink(source_id=rows[0]["source_id"], target_id=rows[0]["target_id"], weight=float(rows[0]["weight"]))

    async def links(self) -> list[BasinLink]:
        return [
            BasinLink(source_id=r["source_id"], target_id=r["target_id"], weight=float(r["weight"]))
            for r in await self._read(_LIST_LINKS)
        ]

    async def activated_since(self, since: datetime, min_activation: float) -> list[Basin]:
        params = {"since": to_iso(since), "min_activation": float(min_activation)}

        async def work(tx: Any) -> list[dict[str, Any]]:
            return [*await _fetch(tx, _ACTIVATED_SINCE, params), *await _fetch(tx, _NEVER_ACTIVATED, params)]

        basins = [_basin(r["props"]) for r in await self._read_fn(work)]
        return sorted(basins, key=lambda b: (b.name, b.id))

    async def links_among(self, basin_ids: list[str]) -> list[BasinLink]:
        if not basin_ids:
            return []
        rows = await self._read(_LINKS_AMONG, {"ids": list(basin_ids)})
        links = [BasinLink(source_id=r["source_id"], target_id=r["target_id"], weight=float(r["weight"])) for r in rows]
        return sorted(links, key=lambda link: (link.source_id, link.target_id))

"""Attractor basins and the RELATED_TO links between them, on Neo4j.

    (:AttractorBasin {id, name, description, keywords, activation, stability, depth,
                      last_activated_at, created_at})-[:RELATED_TO {weight}]->(:AttractorBasin)
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

from schema.models import ActivationUpdate, Basin, BasinLink, from_iso, to_iso

from ..base import BASIN_FIELDS, Basins, StoreError
from ..read_modify_write import ActivationPlan, ActivationRule, ActivationSnapshot
from .connection import Neo4jConnection, Neo4jPart, _fetch, _run_consume
from .memories import Neo4jMemories

# `$changes` holds only the fields the caller gives (names from BASIN_FIELDS): a concurrent
# upsert of another field is not undone.
_UPSERT_BASIN = """
MERGE (b:AttractorBasin {name: $name})
ON CREATE SET b.id = $id, b.activation = $activation, b.depth = $depth,
              b.last_activated_at = $last_activated_at, b.created_at = $created_at,
              b.description = $description, b.keywords = $keywords, b.stability = $stability,
              b.activation_undated = $activation_undated
ON MATCH SET b += $changes
RETURN properties(b) AS props
"""
_CREATE_BASIN = """
CREATE (b:AttractorBasin {id: $id, name: $name, description: $description, keywords: $keywords,
        activation: $activation, stability: $stability, depth: $depth,
        last_activated_at: $last_activated_at, created_at: $created_at, activation_undated: $activation_undated})
RETURN properties(b) AS props
"""

# A read-modify-write takes the write locks of the basins it writes before it reads them
# (Neo4j's documented way to avoid lost updates under read-committed isolation; on an
# optimistic server such as ArcadeDB the write makes a concurrent commit conflict, and the
# transaction is retried).
_LOCK_BASIN = "MATCH (b:AttractorBasin {id: $id}) SET b.rev = coalesce(b.rev, 0) + 1 RETURN properties(b) AS props"
_LOCK_BASINS = "UNWIND $ids AS id MATCH (b:AttractorBasin {id: id}) SET b.rev = coalesce(b.rev, 0) + 1 RETURN b.id AS id"
_LINKS_OF = """
MATCH (t:AttractorBasin {id: $id})-[r:RELATED_TO]-(o:AttractorBasin)
RETURN startNode(r).id AS source_id, endNode(r).id AS target_id, r.weight AS weight, properties(o) AS props
"""
_BASINS_BY_IDS = "UNWIND $ids AS id MATCH (b:AttractorBasin {id: id}) RETURN properties(b) AS props"
_BASIN_COUNT = "MATCH (b:AttractorBasin) RETURN count(b) AS n"
_LATEST_ACTIVATION = """
MATCH (b:AttractorBasin) WHERE b.last_activated_at IS NOT NULL
RETURN b.last_activated_at AS at ORDER BY at DESC LIMIT 1
"""
_ADD_LINK = """
MATCH (s:AttractorBasin {id: $source_id})
MATCH (t:AttractorBasin {id: $target_id})
OPTIONAL MATCH (s)-[r:RELATED_TO]->(t)
WITH s, t, r
WHERE r IS NULL
CREATE (s)-[:RELATED_TO {weight: $weight}]->(t)
RETURN s.id AS source_id
"""

_BASIN_BY_ID = "MATCH (b:AttractorBasin {id: $key}) RETURN properties(b) AS props"
_BASIN_BY_NAME = "MATCH (b:AttractorBasin {name: $key}) RETURN properties(b) AS props"
_LIST_BASINS = "MATCH (b:AttractorBasin) RETURN properties(b) AS props, b.name AS name ORDER BY name"

_APPLY_ACTIVATION = """
UNWIND $rows AS row
MATCH (b:AttractorBasin {id: row.basin_id})
SET b.activation = row.activation, b.depth = row.depth, b.last_activated_at = row.last_activated_at
REMOVE b.activation_undated
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
# A stored activation without a time (created so, never activated since) is marked
# `activation_undated: true` (indexed): `last_activated_at IS NULL` can use no index and walked
# every basin (24 ms at 3,000 basins on ArcadeDB).
_NEVER_ACTIVATED = """
MATCH (b:AttractorBasin) WHERE b.activation_undated = true AND b.activation >= $min_activation
RETURN properties(b) AS props
"""
_ACTIVE_CANDIDATES = _ACTIVATED_SINCE.strip() + "\nUNION ALL\n" + _NEVER_ACTIVATED.strip()
# Databases written before the mark: marked once (StoreRevision 'basins' remembers it).
_UNDATED_MARKED = "MATCH (r:StoreRevision {name: 'basins'}) WHERE r.activation_undated = 1 RETURN r.name AS name"
_MARK_UNDATED = """
MATCH (b:AttractorBasin) WHERE b.last_activated_at IS NULL AND b.activation > 0
SET b.activation_undated = true
"""
_MARKED_UNDATED = "MERGE (r:StoreRevision {name: 'basins'}) SET r.activation_undated = 1"
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


def _basin_params(basin: Basin) -> dict[str, Any]:
    return {
        "id": basin.id,
        "name": basin.name,
        "description": basin.description,
        "keywords": list(basin.keywords),
        "activation": float(basin.activation),
        "stability": float(basin.stability),
        "depth": float(basin.depth),
        "last_activated_at": to_iso(basin.last_activated_at),
        "created_at": to_iso(basin.created_at),
        "activation_undated": True if basin.activation > 0 and basin.last_activated_at is None else None,
    }


def _update_rows(updates: list[ActivationUpdate]) -> list[dict[str, Any]]:
    return [
        {"basin_id": u.basin_id, "activation": float(u.activation), "depth": float(u.depth),
         "last_activated_at": to_iso(u.last_activated_at)}
        for u in updates
    ]


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

    async def after_schema(self) -> None:
        """Once per database: mark the undated activations of basins stored before the mark."""
        if await self._read(_UNDATED_MARKED):
            return

        async def work(tx: Any) -> None:
            await _run_consume(tx, _MARK_UNDATED, {})
            await _run_consume(tx, _MARKED_UNDATED, {})

        await self._write_fn(work, retry_on_constraint_error=True)

    async def upsert(self, basin: Basin, fields: Collection[str] = BASIN_FIELDS) -> Basin:
        params = _basin_params(basin)
        params["changes"] = {k: v for k, v in params.items() if k in BASIN_FIELDS and k in fields}
        rows = await self._write(_fetch, _UPSERT_BASIN, params, retry_on_constraint_error=True)
        return _basin(rows[0]["props"])

    async def add_if_absent(self, basin: Basin) -> tuple[Basin, bool]:
        async def work(tx: Any) -> tuple[dict[str, Any], bool]:
            for query, key in ((_BASIN_BY_ID, basin.id), (_BASIN_BY_NAME, basin.name)):
                rows = await _fetch(tx, query, {"key": key})
                if rows:
                    return rows[0]["props"], False
            # Racing another process's create of the same id or name, the uniqueness
            # constraints refuse one: retried (retry_on_constraint_error=True), it finds the other's basin.
            return (await _fetch(tx, _CREATE_BASIN, _basin_params(basin)))[0]["props"], True

        props, added = await self._write_fn(work, retry_on_constraint_error=True)
        return _basin(props), added

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

    async def activate(
        self, name_or_id: str, since: datetime, min_activation: float, rule: ActivationRule
    ) -> tuple[Basin, ActivationPlan] | None:
        params = {"since": to_iso(since), "min_activation": float(min_activation)}

        async def work(tx: Any) -> tuple[Basin, ActivationPlan] | None:
            found = await _fetch(tx, _BASIN_BY_ID, {"key": name_or_id}) or await _fetch(tx, _BASIN_BY_NAME, {"key": name_or_id})
            if not found:
                return None
            # The target first (every activation writes it; its values are read as locked),
            # then whatever else the plan writes: values read before a basin was locked are
            # read again after, and the plan made again on them.
            locked = await _fetch(tx, _LOCK_BASIN, {"id": found[0]["props"]["id"]})
            if not locked:
                return None  # deleted meanwhile
            target = _basin(locked[0]["props"])
            held = {target.id}
            while True:
                snapshot = await self._snapshot(tx, target, params)
                plan = rule(snapshot)
                extra = sorted(plan.written - held)
                if not extra:
                    break
                await _fetch(tx, _LOCK_BASINS, {"ids": extra})
                held.update(extra)
            await self._apply(tx, plan.updates, plan.link_weights)
            mine = next(u for u in plan.updates if u.basin_id == target.id)
            return target.model_copy(update={"activation": mine.activation, "depth": mine.depth, "last_activated_at": mine.last_activated_at}), plan

        return await self._locking_fn(work)

    @staticmethod
    async def _snapshot(tx: Any, target: Basin, params: dict[str, Any]) -> ActivationSnapshot:
        basins = {target.id: target}
        links = []
        for row in await _fetch(tx, _LINKS_OF, {"id": target.id}):
            links.append(BasinLink(source_id=row["source_id"], target_id=row["target_id"], weight=float(row["weight"])))
            other = _basin(row["props"])
            basins[other.id] = other
        candidates = [_basin(r["props"]) for r in await _fetch(tx, _ACTIVE_CANDIDATES, params)]
        basins.update((b.id, b) for b in candidates if b.id != target.id)
        links.sort(key=lambda l: (l.source_id, l.target_id))
        return ActivationSnapshot(target, links, sorted(b.id for b in candidates), basins)

    async def apply_activation(self, updates: list[ActivationUpdate], link_weights: list[BasinLink]) -> None:
        await self._write_fn(lambda tx: self._apply(tx, updates, link_weights))

    @staticmethod
    async def _apply(tx: Any, updates: list[ActivationUpdate], link_weights: list[BasinLink]) -> None:
        # Strict, like every cognition write: a basin that does not exist fails the whole
        # transaction (raising inside execute_write rolls it back).
        rows, links = _update_rows(updates), [_link_row(link) for link in link_weights]
        if rows:
            found = {r["basin_id"] for r in await _fetch(tx, _APPLY_ACTIVATION, {"rows": rows})}
            missing = sorted({r["basin_id"] for r in rows} - found)
            if missing:
                raise StoreError(f"cannot activate basin {missing[0]!r}: no basin has that id")
        if links:
            linked = await _fetch(tx, _SET_LINKS, {"rows": links})
            if len(linked) != len(links):
                _raise_missing_link(links, linked)

    async def revision(self) -> str:
        async def work(tx: Any) -> str:
            count = await _fetch(tx, _BASIN_COUNT, {})
            latest = await _fetch(tx, _LATEST_ACTIVATION, {})
            return f"{count[0]['n'] if count else 0}:{latest[0]['at'] if latest else ''}"

        return await self._read_fn(work)

    async def add_link_if_absent(self, link: BasinLink) -> bool:
        async def work(tx: Any) -> bool:
            # Both ends locked first, so two processes adding the same link cannot both see it
            # missing and create two.
            locked = await _fetch(tx, _LOCK_BASINS, {"ids": sorted({link.source_id, link.target_id})})
            if len(locked) != len({link.source_id, link.target_id}):
                _raise_missing_link([_link_row(link)], [])
            return bool(await _fetch(tx, _ADD_LINK, _link_row(link)))

        return await self._locking_fn(work)

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
        basins = [_basin(r["props"]) for r in await self._read(_ACTIVE_CANDIDATES, params)]
        return sorted(basins, key=lambda b: (b.name, b.id))

    async def links_among(self, basin_ids: list[str]) -> list[BasinLink]:
        if not basin_ids:
            return []
        rows = await self._read(_LINKS_AMONG, {"ids": list(basin_ids)})
        links = [BasinLink(source_id=r["source_id"], target_id=r["target_id"], weight=float(r["weight"])) for r in rows]
        return sorted(links, key=lambda link: (link.source_id, link.target_id))

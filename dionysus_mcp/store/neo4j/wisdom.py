"""Wisdom principles and coherence snapshots, on Neo4j.

    (:WisdomPrinciple {id, text, domain, confidence, created_at})
    (:CoherenceSnapshot {id, created_at, consciousness_level, status, components, active_basin_ids})

Snapshot components are a JSON string (a map of numbers), decoded on read.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from schema.models import CoherenceSnapshot, WisdomPrinciple, from_iso, to_iso

from ..base import Snapshots, Wisdom
from ..records import decode_components, dumps_sorted
from .connection import Neo4jPart, _fetch, _run_consume

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

# Snapshot writers take this one node's write lock first: a snapshot decided on the newest one
# is never written beside another process's decision on the same newest one.
_LOCK_SNAPSHOTS = """
MERGE (r:StoreRevision {name: 'coherence_snapshots'})
ON CREATE SET r.edits = 0
SET r.edits = r.edits + 1
"""

_RECENT_SNAPSHOTS = """
MATCH (s:CoherenceSnapshot)
RETURN properties(s) AS props, s.created_at AS created_at, s.id AS id
ORDER BY created_at DESC, id DESC
LIMIT $limit
"""


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
        components=decode_components(p.get("components")),
        active_basin_ids=list(p.get("active_basin_ids") or []),
    )


class Neo4jWisdom(Neo4jPart, Wisdom):
    async def add(self, principle: WisdomPrinciple) -> WisdomPrinciple:
        params = principle.model_dump()
        params["confidence"] = float(principle.confidence)
        params["created_at"] = to_iso(principle.created_at)
        rows = await self._write(_fetch, _CREATE_WISDOM, params)
        return _wisdom(rows[0]["props"])

    async def list(self) -> list[WisdomPrinciple]:
        return [_wisdom(r["props"]) for r in await self._read(_LIST_WISDOM)]

    async def delete(self, wisdom_id: str) -> bool:
        async def work(tx: Any) -> bool:
            if not await _fetch(tx, "MATCH (w:WisdomPrinciple {id: $id}) RETURN w.id AS id", {"id": wisdom_id}):
                return False
            await _run_consume(tx, "MATCH (w:WisdomPrinciple {id: $id}) DETACH DELETE w", {"id": wisdom_id})
            return True

        return await self._write_fn(work)


def _snapshot_params(snapshot: CoherenceSnapshot) -> dict[str, Any]:
    return {
        "id": snapshot.id,
        "created_at": to_iso(snapshot.created_at),
        "consciousness_level": float(snapshot.consciousness_level),
        "status": snapshot.status,
        "components": dumps_sorted(snapshot.components),
        "active_basin_ids": list(snapshot.active_basin_ids),
    }


class Neo4jSnapshots(Neo4jPart, Snapshots):
    async def add(self, snapshot: CoherenceSnapshot) -> None:
        await self._write(_run_consume, _CREATE_SNAPSHOT, _snapshot_params(snapshot))

    async def add_if_due(
        self, build: Callable[[CoherenceSnapshot | None], CoherenceSnapshot | None]
    ) -> CoherenceSnapshot | None:
        async def work(tx: Any) -> CoherenceSnapshot | None:
            await _run_consume(tx, _LOCK_SNAPSHOTS, {})
            newest = await _fetch(tx, _RECENT_SNAPSHOTS, {"limit": 1})
            snapshot = build(_snapshot(newest[0]["props"]) if newest else None)
            if snapshot is not None:
                await _run_consume(tx, _CREATE_SNAPSHOT, _snapshot_params(snapshot))
            return snapshot

        # The lock node is MERGEd: two first writers racing to create it are retried.
        return await self._locking_fn(work, retry_on_constraint_error=True)

    async def recent(self, limit: int) -> list[CoherenceSnapshot]:
        if limit <= 0:
            return []
        return [_snapshot(r["props"]) for r in await self._read(_RECENT_SNAPSHOTS, {"limit": int(limit)})]

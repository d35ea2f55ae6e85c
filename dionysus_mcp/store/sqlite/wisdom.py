"""Wisdom principles and coherence snapshots, in the SQLite store.

Writes are strict: a principle or snapshot whose id exists already raises `StoreError` and
stores nothing.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable

from schema.models import CoherenceSnapshot, WisdomPrinciple, from_iso, to_iso

from dionysus_mcp.store.base import Snapshots, StoreError, Wisdom
from dionysus_mcp.store.records import decode_components, dumps_sorted

from .connection import SQLitePart


def _wisdom(row: sqlite3.Row) -> WisdomPrinciple:
    return WisdomPrinciple(
        id=row["id"],
        text=row["text"],
        domain=row["domain"],
        confidence=row["confidence"],
        created_at=from_iso(row["created_at"]),
    )


def _snapshot(row: sqlite3.Row) -> CoherenceSnapshot:
    return CoherenceSnapshot(
        id=row["id"],
        created_at=from_iso(row["created_at"]),
        consciousness_level=row["consciousness_level"],
        status=row["status"],
        components=decode_components(row["components"]),
        active_basin_ids=json.loads(row["active_basin_ids"]),
    )


class SQLiteWisdom(SQLitePart, Wisdom):
    async def add(self, principle: WisdomPrinciple) -> WisdomPrinciple:
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

        return await self._write(work)

    async def list(self) -> list[WisdomPrinciple]:
        return await self._read(
            lambda conn: [
                _wisdom(r)
                for r in conn.execute(
                    "SELECT id, text, domain, confidence, created_at FROM wisdom ORDER BY created_at, id"
                )
            ]
        )

    async def delete(self, wisdom_id: str) -> bool:
        return await self._write(lambda conn: conn.execute("DELETE FROM wisdom WHERE id = ?", (wisdom_id,)).rowcount > 0)


class SQLiteSnapshots(SQLitePart, Snapshots):
    async def add(self, snapshot: CoherenceSnapshot) -> None:
        await self._write(lambda conn: self._insert(conn, snapshot))

    @staticmethod
    def _insert(conn: sqlite3.Connection, snapshot: CoherenceSnapshot) -> None:
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
                    dumps_sorted(snapshot.components),
                    json.dumps(list(snapshot.active_basin_ids)),
                ),
            )
        except sqlite3.IntegrityError:
            raise StoreError(f"a coherence snapshot with id {snapshot.id!r} exists already") from None

    async def add_if_due(
        self, build: Callable[[CoherenceSnapshot | None], CoherenceSnapshot | None]
    ) -> CoherenceSnapshot | None:
        def work(conn: sqlite3.Connection) -> CoherenceSnapshot | None:
            # Under BEGIN IMMEDIATE's write lock: no other process adds one in between.
            newest = self._recent(conn, 1)
            snapshot = build(newest[0] if newest else None)
            if snapshot is not None:
                self._insert(conn, snapshot)
            return snapshot

        return await self._write(work)

    async def recent(self, limit: int) -> list[CoherenceSnapshot]:
        if limit <= 0:
            return []
        return await self._read(lambda conn: self._recent(conn, limit))

    @staticmethod
    def _recent(conn: sqlite3.Connection, limit: int) -> list[CoherenceSnapshot]:
        return [
            _snapshot(r)
            for r in conn.execute(
                "SELECT id, created_at, consciousness_level, status, components, active_basin_ids"
                " FROM coherence_snapshots ORDER BY created_at DESC, id DESC LIMIT ?",
                (int(limit),),
            )
        ]

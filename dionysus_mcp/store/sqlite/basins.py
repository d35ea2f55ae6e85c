"""Attractor basins and the weighted links between them, in the SQLite store.

Writes are strict: an activation or link that refers to a basin that does not exist raises
`StoreError` and stores nothing.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Collection
from datetime import datetime

from schema.models import ActivationUpdate, Basin, BasinLink, from_iso, to_iso

from dionysus_mcp.store.base import BASIN_FIELDS, Basins, StoreError
from dionysus_mcp.store.read_modify_write import ActivationPlan, ActivationRule, ActivationSnapshot
from dionysus_mcp.store.records import dumps_sorted

from .connection import SQLiteConnection, SQLitePart
from .memories import SQLiteMemories

_BASIN_COLS = (
    "id, name, description, keywords, activation, stability, depth, last_activated_at, created_at"
)


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


def _basin_row(basin: Basin) -> tuple:
    return (
        basin.id,
        basin.name,
        basin.description,
        dumps_sorted(list(basin.keywords)),
        float(basin.activation),
        float(basin.stability),
        float(basin.depth),
        to_iso(basin.last_activated_at),
        to_iso(basin.created_at),
    )


def _links_of(conn: sqlite3.Connection, basin_id: str) -> list[BasinLink]:
    """The links touching the basin, either direction (the primary key, and the target index)."""
    rows = conn.execute(
        "SELECT source_id, target_id, weight FROM basin_links WHERE source_id = ?"
        " UNION ALL SELECT source_id, target_id, weight FROM basin_links WHERE target_id = ?",
        (basin_id, basin_id),
    )
    return sorted((BasinLink(source_id=r[0], target_id=r[1], weight=r[2]) for r in rows), key=lambda l: (l.source_id, l.target_id))


class SQLiteBasins(SQLitePart, Basins):
    def __init__(self, db: SQLiteConnection, memories: SQLiteMemories):
        super().__init__(db)
        self._memories = memories  # a basin's deletion detaches memories through their aggregate

    async def upsert(self, basin: Basin, fields: Collection[str] = BASIN_FIELDS) -> Basin:
        # Only the given fields on conflict (names from BASIN_FIELDS, never from the caller's
        # text): a concurrent upsert of another field stays.
        sets = [f"{name} = excluded.{name}" for name in BASIN_FIELDS if name in fields]
        on_conflict = f"DO UPDATE SET {', '.join(sets)}" if sets else "DO NOTHING"

        def work(conn: sqlite3.Connection) -> Basin:
            conn.execute(
                f"INSERT INTO basins ({_BASIN_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(name) {on_conflict}",
                _basin_row(basin),
            )
            row = conn.execute(f"SELECT {_BASIN_COLS} FROM basins WHERE name = ?", (basin.name,)).fetchone()
            return _basin(row)

        return await self._write(work)

    async def add_if_absent(self, basin: Basin) -> tuple[Basin, bool]:
        def work(conn: sqlite3.Connection) -> tuple[Basin, bool]:
            for column, key in (("id", basin.id), ("name", basin.name)):
                row = conn.execute(f"SELECT {_BASIN_COLS} FROM basins WHERE {column} = ?", (key,)).fetchone()
                if row is not None:
                    return _basin(row), False
            conn.execute(f"INSERT INTO basins ({_BASIN_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", _basin_row(basin))
            return _basin(conn.execute(f"SELECT {_BASIN_COLS} FROM basins WHERE id = ?", (basin.id,)).fetchone()), True

        return await self._write(work)

    async def get(self, name_or_id: str) -> Basin | None:
        return await self._read(lambda conn: self._get(conn, name_or_id))

    @staticmethod
    def _get(conn: sqlite3.Connection, name_or_id: str) -> Basin | None:
        for column in ("id", "name"):
            row = conn.execute(f"SELECT {_BASIN_COLS} FROM basins WHERE {column} = ?", (name_or_id,)).fetchone()
            if row is not None:
                return _basin(row)
        return None

    async def list(self) -> list[Basin]:
        return await self._read(
            lambda conn: [_basin(r) for r in conn.execute(f"SELECT {_BASIN_COLS} FROM basins ORDER BY name, id")]
        )

    async def activate(
        self, name_or_id: str, since: datetime, min_activation: float, rule: ActivationRule
    ) -> tuple[Basin, ActivationPlan] | None:
        def work(conn: sqlite3.Connection) -> tuple[Basin, ActivationPlan] | None:
            # BEGIN IMMEDIATE holds the file's write lock from the first read: no other
            # process writes between what the rule reads and what it writes.
            target = self._get(conn, name_or_id)
            if target is None:
                return None
            links = _links_of(conn, target.id)
            candidates = self._activated_since(conn, since, min_activation)
            others = {l.source_id for l in links} | {l.target_id for l in links}
            basins = {b.id: b for b in candidates}
            basins[target.id] = target
            missing = sorted(others - basins.keys())
            if missing:
                rows = conn.execute(
                    f"SELECT {_BASIN_COLS} FROM basins WHERE id IN (SELECT value FROM json_each(?))", (json.dumps(missing),)
                )
                basins.update((b.id, b) for b in map(_basin, rows))
            plan = rule(ActivationSnapshot(target, links, sorted(b.id for b in candidates), basins))
            self._apply(conn, plan.updates, plan.link_weights)
            return self._get(conn, target.id), plan

        return await self._write(work)

    async def apply_activation(self, updates: list[ActivationUpdate], link_weights: list[BasinLink]) -> None:
        await self._write(lambda conn: self._apply(conn, updates, link_weights))

    def _apply(self, conn: sqlite3.Connection, updates: list[ActivationUpdate], link_weights: list[BasinLink]) -> None:
        for u in updates:
            cur = conn.execute(
                "UPDATE basins SET activation = ?, depth = ?, last_activated_at = ? WHERE id = ?",
                (float(u.activation), float(u.depth), to_iso(u.last_activated_at), u.basin_id),
            )
            if cur.rowcount == 0:
                raise StoreError(f"cannot activate basin {u.basin_id!r}: no basin has that id")
        for link in link_weights:
            self._set_link(conn, link)

    async def revision(self) -> str:
        # The latest activation by the (last_activated_at, activation) index; the count by the
        # smallest index. A cheap read a follower of basins:// makes once a second.
        row = await self._read(lambda conn: conn.execute(
            "SELECT (SELECT count(*) FROM basins), (SELECT max(last_activated_at) FROM basins)").fetchone())
        return f"{row[0]}:{row[1] or ''}"

    async def delete(self, basin_id: str) -> dict[str, int] | None:
        """Remove the basin with its links, memory attachments and trace activations; the
        memories themselves stay. None when no basin has that id."""

        def work(conn: sqlite3.Connection) -> dict[str, int] | None:
            if conn.execute("SELECT 1 FROM basins WHERE id = ?", (basin_id,)).fetchone() is None:
                return None
            removed = {
                "links": conn.execute(
                    "DELETE FROM basin_links WHERE source_id = ? OR target_id = ?", (basin_id, basin_id)
                ).rowcount,
                "memories_detached": self._memories.detach_basin(conn, basin_id),
                "trace_activations": conn.execute("DELETE FROM trace_basins WHERE basin_id = ?", (basin_id,)).rowcount,
            }
            conn.execute("DELETE FROM basins WHERE id = ?", (basin_id,))
            return removed

        return await self._write(work)

    # --- links ---------------------------------------------------------------------------------
    async def set_link(self, link: BasinLink) -> BasinLink:
        def work(conn: sqlite3.Connection) -> BasinLink:
            self._set_link(conn, link)
            row = conn.execute(
                "SELECT source_id, target_id, weight FROM basin_links WHERE source_id = ? AND target_id = ?",
                (link.source_id, link.target_id),
            ).fetchone()
            return BasinLink(source_id=row["source_id"], target_id=row["target_id"], weight=row["weight"])

        return await self._write(work)

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

    async def add_link_if_absent(self, link: BasinLink) -> bool:
        def work(conn: sqlite3.Connection) -> bool:
            try:
                return conn.execute(
                    "INSERT INTO basin_links (source_id, target_id, weight) VALUES (?, ?, ?)"
                    " ON CONFLICT(source_id, target_id) DO NOTHING",
                    (link.source_id, link.target_id, float(link.weight)),
                ).rowcount == 1
            except sqlite3.IntegrityError:
                raise StoreError(f"cannot link {link.source_id!r} → {link.target_id!r}: both basins must exist") from None

        return await self._write(work)

    async def links(self) -> list[BasinLink]:
        return await self._read(
            lambda conn: [
                BasinLink(source_id=r["source_id"], target_id=r["target_id"], weight=r["weight"])
                for r in conn.execute(
                    "SELECT source_id, target_id, weight FROM basin_links ORDER BY source_id, target_id"
                )
            ]
        )

    # --- the active set: reads that follow the active basins, not the store ---------------------
    async def activated_since(self, since: datetime, min_activation: float) -> list[Basin]:
        basins = await self._read(lambda conn: self._activated_since(conn, since, min_activation))
        return sorted(basins, key=lambda b: (b.name, b.id))

    @staticmethod
    def _activated_since(conn: sqlite3.Connection, since: datetime, min_activation: float) -> list[Basin]:
        # Two range scans of the basins_activation index: recent enough, or never activated.
        # Sorted by the caller, not by ORDER BY: with one, SQLite walks the whole name index.
        query = (
            f"SELECT {_BASIN_COLS} FROM basins WHERE last_activated_at >= ? AND activation >= ?"
            f" UNION ALL SELECT {_BASIN_COLS} FROM basins WHERE last_activated_at IS NULL AND activation >= ?"
        )
        return [_basin(r) for r in conn.execute(query, (to_iso(since), float(min_activation), float(min_activation)))]

    async def links_among(self, basin_ids: list[str]) -> list[BasinLink]:
        # The primary key by source, the target tested against the list (`+` keeps SQLite from
        # probing every source × target pair: n² lookups for n active basins).
        ids = json.dumps(list(basin_ids))
        return await self._read(
            lambda conn: [
                BasinLink(source_id=r["source_id"], target_id=r["target_id"], weight=r["weight"])
                for r in conn.execute(
                    "SELECT source_id, target_id, weight FROM basin_links"
                    " WHERE source_id IN (SELECT value FROM json_each(?))"
                    " AND +target_id IN (SELECT value FROM json_each(?)) ORDER BY source_id, target_id",
                    (ids, ids),
                )
            ]
        )

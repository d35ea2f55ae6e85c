"""Memories, their basin links and the counts over them, in the SQLite store.

Writes are strict: a memory whose id exists already, or that refers to a basin that does not
exist, raises `StoreError` and stores nothing. Updating or forgetting a memory counts one edit in
`store_revisions`, part of the revision `memory_stats` reports.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

import numpy as np

from schema.models import Memory, MemoryBasin, MemoryStats, from_iso, to_iso
from schema.text import memory_terms

from dionysus_mcp.store.base import Embedding, Memories, MemorySearch, StoreError, WriteConflict
from dionysus_mcp.store.records import dumps_sorted

from .connection import SQLiteConnection, SQLitePart
from .memory_search import SQLiteMemorySearch


def bump_memory_edits(conn: sqlite3.Connection) -> None:
    """Count an edit the memory count and newest rowid would not show (update, delete)."""
    conn.execute(
        "INSERT INTO store_revisions (name, edits) VALUES ('memories', 1)"
        " ON CONFLICT(name) DO UPDATE SET edits = edits + 1"
    )


def _bump_embedding_epoch(conn: sqlite3.Connection) -> None:
    """Vectors changed or went: every process's in-memory vector matrix reloads."""
    conn.execute(
        "INSERT INTO store_meta (key, value) VALUES ('embedding_epoch', '1') ON CONFLICT(key)"
        " DO UPDATE SET value = CAST(CAST(value AS INTEGER) + 1 AS TEXT)"
    )


def _attach(conn: sqlite3.Connection, memory: Memory) -> None:
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


class SQLiteMemories(SQLitePart, Memories):
    def __init__(self, db: SQLiteConnection):
        super().__init__(db)
        self._search = SQLiteMemorySearch(db)

    @staticmethod
    def detach_basin(conn: sqlite3.Connection, basin_id: str) -> int:
        """Inside the caller's transaction (a basin's deletion): detach every memory from the
        basin, and count the edit — recall hits name their basins. Returns how many."""
        detached = conn.execute("DELETE FROM memory_basins WHERE basin_id = ?", (basin_id,)).rowcount
        bump_memory_edits(conn)
        return detached

    async def search(self, terms: list[str], query: Embedding | None, kinds: list[str] | None, limit: int) -> MemorySearch:
        return await self._search.search_memories(terms, query, kinds, limit)

    async def add(self, memory: Memory, embedding: Embedding | None = None) -> Memory:
        terms = " ".join(memory_terms(memory.content, memory.tags))
        blob, model, dim = _vector_columns(embedding)

        def work(conn: sqlite3.Connection) -> Memory:
            try:
                conn.execute(
                    "INSERT INTO memories (id, kind, content, tags, importance, created_at, terms,"
                    " embedding, embedding_model, embedding_dim) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        memory.id,
                        memory.kind,
                        memory.content,
                        dumps_sorted(list(memory.tags)),
                        float(memory.importance),
                        to_iso(memory.created_at),
                        terms,
                        blob,
                        model,
                        dim,
                    ),
                )
            except sqlite3.IntegrityError:
                raise StoreError(f"a memory with id {memory.id!r} exists already") from None
            _attach(conn, memory)
            return self._memories(conn, "WHERE m.id = ?", [memory.id])[0]

        return await self._write(work)

    async def get(self, memory_id: str) -> Memory | None:
        found = await self._read(lambda conn: self._memories(conn, "WHERE m.id = ?", [memory_id]))
        return found[0] if found else None

    async def update(
        self, memory: Memory, embedding: Embedding | None = None, keep_embedding: bool = False, expected: Memory | None = None
    ) -> Memory | None:
        terms = " ".join(memory_terms(memory.content, memory.tags))
        blob, model, dim = _vector_columns(embedding)

        def work(conn: sqlite3.Connection) -> Memory | None:
            if expected is not None:  # compare-and-set, under the write lock BEGIN IMMEDIATE took
                found = self._memories(conn, "WHERE m.id = ?", [memory.id])
                if found and found[0] != expected:
                    raise WriteConflict(f"memory {memory.id!r} changed since it was read")
            # The terms trigger re-indexes FTS5; the vector is replaced unless kept.
            cur = conn.execute(
                "UPDATE memories SET kind = ?, content = ?, tags = ?, importance = ?, terms = ? WHERE id = ?",
                (memory.kind, memory.content, dumps_sorted(list(memory.tags)), float(memory.importance), terms, memory.id),
            )
            if cur.rowcount == 0:
                return None
            if not keep_embedding:
                conn.execute(
                    "UPDATE memories SET embedding = ?, embedding_model = ?, embedding_dim = ? WHERE id = ?",
                    (blob, model, dim, memory.id),
                )
            conn.execute("DELETE FROM memory_basins WHERE memory_id = ?", (memory.id,))
            _attach(conn, memory)
            bump_memory_edits(conn)
            _bump_embedding_epoch(conn)  # vector matrices hold the old vector and kind
            return self._memories(conn, "WHERE m.id = ?", [memory.id])[0]

        return await self._write(work)

    async def delete(self, memory_id: str) -> bool:
        def work(conn: sqlite3.Connection) -> bool:
            conn.execute("DELETE FROM memory_basins WHERE memory_id = ?", (memory_id,))
            if conn.execute("DELETE FROM memories WHERE id = ?", (memory_id,)).rowcount == 0:
                return False
            conn.execute("DELETE FROM memories_fts WHERE memory_id = ?", (memory_id,))
            bump_memory_edits(conn)
            _bump_embedding_epoch(conn)
            return True

        return await self._write(work)

    async def list(self, kinds: list[str] | None = None) -> list[Memory]:
        if kinds is None:
            return await self._read(lambda conn: self._memories(conn, "", []))
        if not kinds:
            return []
        return await self._read(
            lambda conn: self._memories(
                conn, "WHERE m.kind IN (SELECT value FROM json_each(?))", [json.dumps(list(kinds))]
            )
        )

    async def get_many(self, ids: list[str]) -> list[Memory]:
        if not ids:
            return []
        # Recall's second call; like every store call, in the store's worker thread.
        return await self._read(
            lambda conn: self._memories(conn, "WHERE m.id IN (SELECT value FROM json_each(?))", [json.dumps(list(ids))]),
        )

    async def embedding_counts(self) -> dict[str, int]:
        return await self._read(
            lambda conn: {
                r[0] or "": r[1]
                for r in conn.execute("SELECT embedding_model, count(*) FROM memories GROUP BY embedding_model")
            }
        )

    async def to_embed(self, model: str, limit: int) -> list[Memory]:
        return await self._read(
            lambda conn: self._memories(
                conn,
                "WHERE m.id IN (SELECT id FROM memories WHERE embedding_model IS NOT ?"
                " ORDER BY created_at, id LIMIT ?)",
                [model, int(limit)],
            )
        )

    async def set_embeddings(self, vectors: dict[str, Embedding], texts: dict[str, tuple[str, list[str]]] | None = None) -> int:
        rows = [(*_vector_columns(e), mid) for mid, e in vectors.items()]

        def work(conn: sqlite3.Connection) -> int:
            if texts is not None:  # only where the text the vector came from is still stored
                stored = {
                    r["id"]: (r["content"], json.loads(r["tags"]))
                    for r in conn.execute(
                        "SELECT id, content, tags FROM memories WHERE id IN (SELECT value FROM json_each(?))",
                        (json.dumps([r[-1] for r in rows]),),
                    )
                }
                current = [r for r in rows if r[-1] in texts and stored.get(r[-1]) == (texts[r[-1]][0], list(texts[r[-1]][1]))]
            else:
                current = rows
            conn.executemany("UPDATE memories SET embedding = ?, embedding_model = ?, embedding_dim = ? WHERE id = ?", current)
            # Other processes' vector matrices hold the old vectors: tell them to reload.
            _bump_embedding_epoch(conn)
            return len(current)

        return await self._write(work) if rows else 0

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

    async def stats(self) -> MemoryStats:
        def work(conn: sqlite3.Connection) -> MemoryStats:
            by_kind = {
                r["kind"]: r["n"]
                for r in conn.execute("SELECT kind, count(*) AS n FROM memories GROUP BY kind ORDER BY kind")
            }
            total, max_rowid = conn.execute("SELECT count(*), coalesce(max(rowid), 0) FROM memories").fetchone()
            edits = conn.execute("SELECT coalesce(max(edits), 0) FROM store_revisions WHERE name = 'memories'").fetchone()[0]
            # An add changes (count, newest rowid); an update or delete changes `edits`: the
            # revision changes with every write, including another process's.
            return MemoryStats(total=total, by_kind=by_kind, revision=f"{total}:{max_rowid}:{edits}", edits=edits)

        return await self._read(work)

    async def counts_by_basin(self, basin_ids: list[str] | None = None) -> dict[str, int]:
        where, params = "", ()
        if basin_ids is not None:
            where, params = " WHERE basin_id IN (SELECT value FROM json_each(?))", (json.dumps(list(basin_ids)),)
        return await self._read(
            lambda conn: {
                r["basin_id"]: r["n"]
                for r in conn.execute(
                    f"SELECT basin_id, count(DISTINCT memory_id) AS n FROM memory_basins{where} GROUP BY basin_id",
                    params,
                )
            }
        )


def _vector_columns(embedding: Embedding | None) -> tuple[bytes | None, str | None, int | None]:
    if embedding is None:
        return None, None, None
    vector = np.ascontiguousarray(embedding.vector, dtype="<f4")
    return vector.tobytes(), embedding.model, int(vector.shape[0])

"""Recall candidates on SQLite: FTS5 `bm25()` for words, an in-process vector matrix for meaning.

Lexical: `memories_fts` indexes each memory's normalized terms (schema.text); a query is the OR
of its distinct terms, ranked by `bm25()` (k1 = 1.2, b = 0.75, FTS5's own idf and corpus
statistics, kept by FTS5 itself: no statistics scan per query).

Semantic: `VectorCache` (store/vector_cache.py) holds every memory's vector; each search first
appends the rows added since the last one (`rowid > last`), reloading everything only after the
model changed or another writer replaced vectors (store_meta.embedding_epoch). The whole search
runs in a worker thread: at 100,000 memories the first load takes a few hundred milliseconds
and must not hold the event loop.
"""

from __future__ import annotations

import json
import sqlite3


from dionysus_mcp.store.base import Embedding, MemorySearch
from dionysus_mcp.store.scoring import fts5_idf
from dionysus_mcp.store.vector_cache import VectorCache

from .connection import SQLitePart

# ORDER BY rank (= bm25() with default weights) alone lets FTS5 keep a top-n heap: adding
# "memory_id" as a second key cost ~30% at 100,000 memories. Ties at the cut are then settled
# by id in Python, over a margin of extra rows.
_TIE_MARGIN = 16
_LEXICAL = (
    "SELECT f.memory_id AS id, -f.rank AS score FROM memories_fts f"
    " WHERE memories_fts MATCH ? ORDER BY f.rank LIMIT ?"
)
_LEXICAL_KINDS = (
    "SELECT f.memory_id AS id, -f.rank AS score FROM memories_fts f"
    " JOIN memories m ON m.id = f.memory_id"
    " WHERE memories_fts MATCH ? AND m.kind IN (SELECT value FROM json_each(?))"
    " ORDER BY f.rank LIMIT ?"
)


_DF = "SELECT doc FROM memories_fts_vocab WHERE term = ?"


def match_expression(terms: list[str]) -> str:
    """FTS5 query text: the distinct terms, each a quoted string, OR-ed. Terms come from
    schema.text.tokens ([a-z0-9]+), so quoting is all the escaping they need."""
    return " OR ".join(f'"{t}"' for t in sorted(set(terms)))


class SQLiteMemorySearch(SQLitePart):
    """Recall candidates for the memories aggregate (`SQLiteMemories.search`)."""

    _vectors: VectorCache | None = None

    async def search_memories(
        self, terms: list[str], query: Embedding | None, kinds: list[str] | None, limit: int
    ) -> MemorySearch:
        if kinds is not None and not kinds:
            return MemorySearch()

        def work(conn: sqlite3.Connection) -> MemorySearch:
            result = MemorySearch()
            cache = self._refreshed_vectors(conn, query)
            if terms:
                total = cache.count  # every memory, whatever its kind: FTS5's own N
                result.query_weight = round(sum(
                    fts5_idf(total, (conn.execute(_DF, (t,)).fetchone() or (0,))[0]) for t in set(terms)
                ), 6)
                fetch = limit + _TIE_MARGIN
                if kinds is None:
                    rows = conn.execute(_LEXICAL, (match_expression(terms), fetch))
                else:
                    rows = conn.execute(_LEXICAL_KINDS, (match_expression(terms), json.dumps(list(kinds)), fetch))
                ranked = sorted(((r["id"], round(float(r["score"]), 6)) for r in rows), key=lambda p: (-p[1], p[0]))
                result.lexical = ranked[:limit]
            mask = cache.kind_mask(kinds)
            result.searched = int(mask.sum())
            if query is not None and query.dim:
                result.semantic = cache.search(query.vector, mask, limit)
            return result

        return await self._read(work)  # in the store's worker thread (connection.py)

    def _refreshed_vectors(self, conn: sqlite3.Connection, query: Embedding | None) -> VectorCache:
        """The vector matrix, caught up with the file. Runs under the connection lock."""
        row = conn.execute("SELECT value FROM store_meta WHERE key = 'embedding_epoch'").fetchone()
        epoch = row[0] if row else None
        cache = self._vectors
        model = query.model if query is not None and query.dim else None
        if cache is None or cache.epoch != epoch or (model is not None and cache.model != model):
            cache = VectorCache(model, query.dim if model else 0, epoch)
            self._vectors = cache
        cursor = conn.cursor()
        cursor.row_factory = None  # plain tuples: sqlite3.Row objects cost ~40% more at 100,000 rows
        cache.append(
            cursor.execute(
                "SELECT rowid, id, kind, embedding_model, embedding FROM memories WHERE rowid > ? ORDER BY rowid",
                (cache.last_rowid,),
            ).fetchall()
        )
        return cache

    def _forget_vectors(self) -> None:
        self._vectors = None

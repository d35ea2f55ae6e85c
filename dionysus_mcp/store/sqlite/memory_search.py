"""Recall candidates on SQLite: FTS5 for words, an in-process vector matrix for meaning.

Lexical: `memories_fts` indexes each memory's normalized terms (schema.text); a query is the OR
of its distinct terms. FTS5 orders the matches by its `bm25()` (its own corpus statistics, kept
by FTS5 itself: no statistics scan per query), and the fetched candidates are rescored with
Lucene's positive idf (store/bm25.py): FTS5's idf is zero for a term in half the memories. The
fetch grows until no memory left out could still enter the top (`bm25.exact_after`), up to
`_MAX_FETCH` rows.

Semantic: `VectorCache` (store/vector_cache.py) holds every memory's vector; each search first
appends the rows added since the last one (`rowid > last`), reloading everything only after the
model changed or another writer replaced vectors (store_meta.embedding_epoch). The whole search
runs in a worker thread: at 100,000 memories the first load takes a few hundred milliseconds
and must not hold the event loop.
"""

from __future__ import annotations

import json
import sqlite3
from collections import Counter

from dionysus_mcp.store import bm25
from dionysus_mcp.store.base import Embedding, MemorySearch
from dionysus_mcp.store.vector_cache import VectorCache

from .connection import SQLitePart

# ORDER BY rank (= bm25() with default weights) alone lets FTS5 keep a top-n heap: adding
# "memory_id" as a second key cost more at 100,000 memories (docs/benchmarks.md, "Figures
# behind the code"). Ties at the cut are then settled
# by id in Python, over a margin of extra rows.
_TIE_MARGIN = 16
# A query whose terms are in most memories could need every match rescored to be exact; past
# this many rows FTS5's order is kept for the rest (docs/COGNITION.md).
_MAX_FETCH = 4096
_LEXICAL = (
    "SELECT f.memory_id AS id, -f.rank AS score, f.terms AS terms FROM memories_fts f"
    " WHERE memories_fts MATCH ? ORDER BY f.rank LIMIT ?"
)
_LEXICAL_KINDS = (
    "SELECT f.memory_id AS id, -f.rank AS score, f.terms AS terms FROM memories_fts f"
    " JOIN memories m ON m.id = f.memory_id"
    " WHERE memories_fts MATCH ? AND m.kind IN (SELECT value FROM json_each(?))"
    " ORDER BY f.rank LIMIT ?"
)
_DF = "SELECT doc FROM memories_fts_vocab WHERE term = ?"
_NEW_ROWS = (
    "SELECT rowid, id, kind, embedding_model, embedding,"
    " length(terms) - length(replace(terms, ' ', '')) + (terms <> '') FROM memories WHERE rowid > ? ORDER BY rowid"
)


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
                result.lexical, result.query_weight = self._lexical(conn, cache, sorted(set(terms)), kinds, limit)
            mask = cache.kind_mask(kinds)
            result.searched = int(mask.sum())
            if query is not None and query.dim:
                result.semantic = cache.search(query.vector, mask, limit)
                result.stale = cache.stale(mask)
            return result

        return await self._read(work)  # in the store's worker thread (connection.py)

    @staticmethod
    def _lexical(
        conn: sqlite3.Connection, cache: VectorCache, terms: list[str], kinds: list[str] | None, limit: int
    ) -> tuple[list[tuple[str, float]], float]:
        total = cache.count  # every memory, whatever its kind: the statistics are the store's
        df = {t: (conn.execute(_DF, (t,)).fetchone() or (0,))[0] for t in terms}
        idfs = {t: bm25.idf(total, df[t]) for t in terms}
        avgdl = cache.tokens / total if total else 1.0
        bound = bm25.slack(terms, total, df)
        wanted = set(terms)
        fetch = limit + _TIE_MARGIN
        while True:
            if kinds is None:
                rows = conn.execute(_LEXICAL, (match_expression(terms), fetch)).fetchall()
            else:
                rows = conn.execute(_LEXICAL_KINDS, (match_expression(terms), json.dumps(list(kinds)), fetch)).fetchall()
            scored = []
            for r in rows:
                words = r["terms"].split()
                scored.append((r["id"], bm25.score(Counter(w for w in words if w in wanted), len(words), idfs, avgdl)))
            scored.sort(key=lambda p: (-p[1], p[0]))
            done = len(rows) < fetch or fetch >= _MAX_FETCH
            if done or bm25.exact_after([s for _, s in scored], limit, float(rows[-1]["score"]), bound):
                return scored[:limit], bm25.query_weight(terms, total, df)
            fetch = min(4 * fetch, _MAX_FETCH)

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
        cursor.row_factory = None  # plain tuples: sqlite3.Row objects cost more per row (docs/benchmarks.md)
        cache.append(cursor.execute(_NEW_ROWS, (cache.last_rowid,)).fetchall())
        return cache

    def _forget_vectors(self) -> None:
        self._vectors = None

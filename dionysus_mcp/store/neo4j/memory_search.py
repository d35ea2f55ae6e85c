"""Recall candidates on Neo4j: Neo4j's full-text and vector indexes where the server has them,
a portable fallback where it does not (detected once, at open).

| need | Neo4j 5.11+ (documented form, tried first) | fallback (e.g. ArcadeDB's Bolt server) |
|---|---|---|
| lexical | `CREATE FULLTEXT INDEX memory_terms … ON EACH [m.terms]`, `db.index.fulltext.queryNodes` (Lucene BM25) | `MATCH` memories sharing a term; store/bm25.py's formula (SQLite's) computed here over the corpus totals |
| semantic | `CREATE VECTOR INDEX memory_embedding … ON m.embedding` (cosine), `db.index.vector.queryNodes` | `vector.similarity.cosine(m.embedding, $v)` over every memory of the model, exact |

ArcadeDB refuses both index kinds ("Only standard, RANGE and TEXT index types are supported")
and the `db.index.*` procedures, so the test suite runs the fallback, which gives the same
scores as SQLite (same terms, same formula, same float32 vectors). On real Neo4j, lexical scores
come from Lucene (the same idf, but lengths quantized and no (k1 + 1) factor) and the vector index
is approximate (HNSW): ranks can differ from SQLite where candidates score within a few percent.
`vector.similarity.cosine` returns (1 + cos) / 2 on Neo4j and cos on ArcadeDB: the convention is
probed at open and scores are reported as cosines either way.
The fallback scans the memories on every query (the server has no index to ask).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from schema.text import memory_terms

from .. import bm25
from ..base import Embedding, MemorySearch, StoreError, StoreUnavailable
from .connection import Neo4jPart, _fetch, _run_consume

log = logging.getLogger(__name__)

_CREATE_FULLTEXT = "CREATE FULLTEXT INDEX memory_terms IF NOT EXISTS FOR (m:Memory) ON EACH [m.terms]"
_CREATE_VECTOR = (
    "CREATE VECTOR INDEX memory_embedding IF NOT EXISTS FOR (m:Memory) ON m.embedding"
    " OPTIONS {indexConfig: {`vector.similarity_function`: 'cosine'}}"
)
_COSINE_PROBE = "RETURN vector.similarity.cosine([1.0, 0.0], [-1.0, 0.0]) AS s"

_FULLTEXT_QUERY = """
CALL db.index.fulltext.queryNodes('memory_terms', $query, {limit: $fetch}) YIELD node, score
WHERE $kinds IS NULL OR node.kind IN $kinds
RETURN node.id AS id, score ORDER BY score DESC, id LIMIT $limit
"""
_VECTOR_QUERY = """
CALL db.index.vector.queryNodes('memory_embedding', $fetch, $vector) YIELD node, score
WHERE node.embedding_model = $model AND ($kinds IS NULL OR node.kind IN $kinds)
RETURN node.id AS id, score ORDER BY score DESC, id LIMIT $limit
"""
_CORPUS = """
MATCH (m:Memory)
WITH m, $kinds IS NULL OR m.kind IN $kinds AS wanted
RETURN count(m) AS total, sum(coalesce(m.term_count, 0)) AS tokens,
       sum(CASE WHEN wanted THEN 1 ELSE 0 END) AS searched,
       sum(CASE WHEN wanted AND coalesce(m.embedding_model, '') <> $model THEN 1 ELSE 0 END) AS stale
"""
_TERM_MATCHES = """
MATCH (m:Memory)
WITH m, [t IN split(coalesce(m.terms, ''), ' ') WHERE t IN $terms] AS hit
WHERE size(hit) > 0
RETURN m.id AS id, m.kind AS kind, hit, m.term_count AS length
"""
_WITHOUT_TERMS = """
MATCH (m:Memory) WHERE m.terms IS NULL
RETURN m.id AS id, m.content AS content, m.tags AS tags LIMIT $limit
"""
_SET_TERMS = """
UNWIND $rows AS row
MATCH (m:Memory {id: row.id})
SET m.terms = row.terms, m.term_count = row.term_count
"""
_VECTOR_SCAN = """
MATCH (m:Memory)
WHERE m.embedding_model = $model AND ($kinds IS NULL OR m.kind IN $kinds)
WITH m.id AS id, vector.similarity.cosine(m.embedding, $vector) AS score
RETURN id, score ORDER BY score DESC, id LIMIT $limit
"""


@dataclass
class SearchSupport:
    fulltext: bool = False
    vector_index: bool = False
    cosine_function: bool = True
    cosine_normalized: bool = False  # Neo4j: (1 + cos) / 2


class Neo4jMemorySearch(Neo4jPart):
    """Recall candidates for the memories aggregate (`Neo4jMemories.search`)."""

    _support: SearchSupport | None = None

    async def after_schema(self) -> None:
        """What this server offers (detected once the schema is applied), and terms for
        memories written before recall indexed them."""
        self._support = await self._detect_support()
        await self._backfill_terms()

    async def _backfill_terms(self, batch: int = 1_000) -> None:
        """Memories written before recall indexed terms get them now (once: later opens find
        none). Their vectors are left to `dionysus-mcp reindex`."""
        while rows := await self._read(_WITHOUT_TERMS, {"limit": batch}):
            updates = []
            for r in rows:
                terms = memory_terms(r["content"] or "", list(r["tags"] or []))
                updates.append({"id": r["id"], "terms": " ".join(terms), "term_count": len(terms)})
            await self._write(_run_consume, _SET_TERMS, {"rows": updates})

    async def _try(self, query: str) -> list[dict[str, Any]] | None:
        try:
            return await self._write(_fetch, query, {})
        except StoreUnavailable:
            raise
        except StoreError as exc:
            log.info("Neo4j server refused %r: %s", query[:60], exc)
            return None

    async def _detect_support(self) -> SearchSupport:
        support = SearchSupport()
        support.fulltext = await self._try(_CREATE_FULLTEXT) is not None
        support.vector_index = await self._try(_CREATE_VECTOR) is not None
        probe = await self._try(_COSINE_PROBE)
        support.cosine_function = bool(probe)
        support.cosine_normalized = bool(probe) and float(probe[0]["s"]) > -0.5
        log.info("Neo4j recall support: %s", support)
        return support

    def _cosine(self, score: float) -> float:
        assert self._support is not None
        return 2.0 * score - 1.0 if self._support.cosine_normalized else score

    async def search_memories(
        self, terms: list[str], query: Embedding | None, kinds: list[str] | None, limit: int
    ) -> MemorySearch:
        if kinds is not None and not kinds:
            return MemorySearch()
        support = self._support or SearchSupport()
        terms = sorted(set(terms))
        params: dict[str, Any] = {
            "kinds": None if kinds is None else list(kinds), "limit": int(limit), "fetch": 4 * int(limit),
            "model": query.model if query is not None and query.dim else "",
        }

        async def work(tx: Any) -> MemorySearch:
            corpus = (await _fetch(tx, _CORPUS, params))[0]
            result = MemorySearch(searched=int(corpus["searched"] or 0))
            if terms and support.fulltext:
                rows = await _fetch(tx, _FULLTEXT_QUERY, {**params, "query": " OR ".join(terms)})
                result.lexical = [(r["id"], round(float(r["score"]), 6)) for r in rows]
            elif terms:
                # Every memory sharing a term, whatever its kind: document frequencies are over
                # the whole corpus, as on SQLite; the kinds filter applies to candidates.
                rows = await _fetch(tx, _TERM_MATCHES, {"terms": terms})
                total = int(corpus["total"] or 0)
                df: dict[str, int] = {}
                for r in rows:
                    for t in set(r["hit"]):
                        df[t] = df.get(t, 0) + 1
                wanted = [r for r in rows if kinds is None or r["kind"] in kinds]
                scores = bm25.scores(((r["id"], list(r["hit"]), int(r["length"] or 0)) for r in wanted), terms, total,
                                     int(corpus["tokens"] or 0), df)
                result.lexical = sorted(scores.items(), key=lambda p: (-p[1], p[0]))[:limit]
                result.query_weight = bm25.query_weight(terms, total, df)
            if query is not None and query.dim and support.cosine_function:
                vector = [float(x) for x in query.vector]
                q = _VECTOR_QUERY if support.vector_index else _VECTOR_SCAN
                rows = await _fetch(tx, q, {**params, "vector": vector, "model": query.model})
                ranked = [(r["id"], round(self._cosine(float(r["score"])), 6)) for r in rows]
                result.semantic = sorted(ranked, key=lambda p: (-p[1], p[0]))
                result.stale = int(corpus["stale"] or 0)
            return result

        return await self._read_fn(work)

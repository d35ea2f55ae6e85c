"""The same corpus gives the same recall on SQLite and on Neo4j (the Bolt test server).

On the ArcadeDB Bolt server the Neo4j store runs its fallback (no full-text or vector index
there): the same BM25 (Lucene's idf, dionysus_mcp/store/bm25.py) over the same terms and exact
cosines of the same float32 vectors of the default model (all-MiniLM-L6-v2), so hits, order and
scores match SQLite's to rounding. On a real Neo4j with both indexes, lexical
scores come from Lucene and vector search is approximate: ranks may differ there where
candidates score within a few percent (docs/COGNITION.md).
"""

from __future__ import annotations

import importlib.util
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from dionysus_mcp.cognition.basins import BasinService
from dionysus_mcp.cognition.minilm import MiniLMEmbedder
from dionysus_mcp.cognition.memory import MemoryService, embedding_text
from dionysus_mcp.store.base import Embedding
from schema.models import Memory

ROOT = Path(__file__).resolve().parents[2]


def corpus():
    spec = importlib.util.spec_from_file_location("recall_corpus", ROOT / "scripts" / "recall_corpus.py")
    module = sys.modules.get("recall_corpus") or importlib.util.module_from_spec(spec)
    if "recall_corpus" not in sys.modules:
        sys.modules["recall_corpus"] = module
        spec.loader.exec_module(module)
    return module


async def seeded(store, embedder):
    c = corpus()
    rows = [(f"para-{i:03d}", m) for i, (m, _) in enumerate(c.PARAPHRASES[:40])]
    rows += [(f"exact-{i:03d}", m) for i, (m, _) in enumerate(c.EXACT[:12])]
    rows += [(f"noise-{i:03d}", t) for i, t in enumerate(c.distractors(150, seed=2))]
    vectors = embedder.embed([embedding_text(text, []) for _, text in rows])
    t0 = datetime(2026, 2, 1, tzinfo=timezone.utc)
    for i, ((mid, text), v) in enumerate(zip(rows, vectors)):
        kind = "episodic" if i % 3 else "semantic"
        memory = Memory(id=mid, kind=kind, content=text, importance=(i % 5) / 4, created_at=t0 + timedelta(seconds=i))
        await store.memories.add(memory, Embedding(embedder.name, v))
    return MemoryService(store.memories, BasinService(store.basins, 3600.0, embedder=embedder), embedder=embedder)


async def test_same_top_k_on_sqlite_and_neo4j(sqlite_store, neo4j_store_factory):
    embedder = MiniLMEmbedder()
    services = [await seeded(sqlite_store, embedder), await seeded(await neo4j_store_factory(), embedder)]
    c = corpus()
    queries = [q for _, q in c.PARAPHRASES[:20]] + [q for _, q in c.EXACT[:12]] + ["garden fence budget"]
    for query in queries:
        for kinds in (None, ["episodic"]):
            results = [await s.semantic_recall(query, k=5, kinds=kinds) for s in services]
            a, b = ([(h.memory_id, h.lexical, h.semantic) for h in r.hits] for r in results)
            assert [x[0] for x in a] == [x[0] for x in b], (query, kinds)
            for (_, la, sa), (_, lb, sb) in zip(a, b):
                assert la == pytest.approx(lb, abs=1e-5)
                assert (sa is None) == (sb is None) and (sa is None or sa == pytest.approx(sb, abs=1e-5))
            assert results[0].searched == results[1].searched and results[0].stale == results[1].stale == 0

"""Contract: recall candidates (lexical and semantic), the same on every backend.

Fixed here: lexical scores are BM25 with Lucene's positive idf (dionysus_mcp/store/bm25.py) over
the memories' normalized terms, across the whole corpus (kinds filter the candidates, not the
statistics); semantic scores are cosines of the stored float32 vectors, only for vectors of the
query's model; both lists best first, ties by id. Vectors come from the default model
(all-MiniLM-L6-v2, shipped in the package).
"""

from __future__ import annotations

import pytest

from dionysus_mcp.cognition.minilm import MiniLMEmbedder
from dionysus_mcp.store import bm25
from dionysus_mcp.store.base import Embedding, Store
from schema.models import Memory
from schema.text import memory_terms, tokens
from tests.contract.builders import ts

CORPUS = [
    ("m01", "episodic", "I sleep badly when I drink coffee late in the evening", ["health"]),
    ("m02", "semantic", "Espresso is brewed by forcing hot water through finely ground beans", []),
    ("m03", "semantic", "The quarterly tax return is due at the end of April", ["finance"]),
    ("m04", "procedural", "To deploy, run make release and tag the commit with the version", ["ops"]),
    ("m05", "episodic", "Walked the dog along the river before breakfast", []),
    ("m06", "semantic", "Invoice INV-2291 was paid late by the customer Acme", ["finance"]),
    ("m07", "episodic", "Coffee with Maria about the database migration plan", []),
    ("m08", "semantic", "Insomnia often follows caffeine taken in the afternoon", ["health"]),
    ("m09", "procedural", "Rotate the API keys every ninety days and revoke the old ones", ["security"]),
    ("m10", "semantic", "The cat sleeps most of the day on the warm windowsill", []),
]


@pytest.fixture(scope="module")
def embedder() -> MiniLMEmbedder:
    return MiniLMEmbedder()


async def seed(store: Store, embedder: MiniLMEmbedder) -> None:
    vectors = embedder.embed([content for _, _, content, _ in CORPUS])
    for i, ((mid, kind, content, tags), vector) in enumerate(zip(CORPUS, vectors)):
        memory = Memory(id=mid, kind=kind, content=content, tags=tags, created_at=ts(i))
        await store.memories.add(memory, Embedding(embedder.name, vector))


def query(embedder: MiniLMEmbedder, text: str) -> Embedding:
    return Embedding(embedder.name, embedder.embed([text])[0])


async def test_lexical_scores_are_bm25_over_the_whole_corpus(store: Store, embedder):
    await seed(store, embedder)
    terms = tokens("coffee late")
    found = await store.memories.search(terms, None, None, 10)
    matches = [(mid, [t for t in memory_terms(c, tags) if t in terms], len(memory_terms(c, tags))) for mid, _, c, tags in CORPUS]
    total_tokens = sum(len(memory_terms(c, tags)) for _, _, c, tags in CORPUS)
    df = {t: sum(1 for m in matches if t in m[1]) for t in terms}
    expected = bm25.scores([m for m in matches if m[1]], terms, len(CORPUS), total_tokens, df)
    assert [mid for mid, _ in found.lexical] == sorted(expected, key=lambda mid: (-expected[mid], mid))
    assert dict(found.lexical) == pytest.approx(expected, abs=1e-5)
    assert found.lexical[0][0] == "m01"  # both words, the only one
    assert found.semantic == [] and found.searched == len(CORPUS)


async def test_kinds_filter_candidates_and_searched(store: Store, embedder):
    await seed(store, embedder)
    found = await store.memories.search(tokens("coffee"), query(embedder, "coffee"), ["semantic"], 10)
    kinds = {mid: kind for mid, kind, _, _ in CORPUS}
    assert found.lexical == []  # "coffee" appears only in episodic memories
    assert {kinds[mid] for mid, _ in found.semantic} == {"semantic"}
    assert found.searched == sum(1 for k in kinds.values() if k == "semantic")
    assert await store.memories.search(["coffee"], None, [], 10) == type(found)()


async def test_semantic_candidates_are_cosines_of_the_query_model_only(store: Store, embedder):
    await seed(store, embedder)
    q = query(embedder, "trouble falling asleep after espresso")
    found = await store.memories.search([], q, None, 3)
    vectors = embedder.embed([c for _, _, c, _ in CORPUS])
    cosines = {mid: float(v @ q.vector) for (mid, *_), v in zip(CORPUS, vectors)}
    best = sorted(cosines, key=lambda mid: (-round(cosines[mid], 6), mid))[:3]
    assert [mid for mid, _ in found.semantic] == best
    assert dict(found.semantic) == pytest.approx({mid: cosines[mid] for mid in best}, abs=1e-5)
    assert found.stale == 0
    other = Embedding("another-model", q.vector)
    elsewhere = await store.memories.search([], other, ["semantic"], 3)
    assert elsewhere.semantic == [] and elsewhere.stale == elsewhere.searched == 5  # the semantic ones


async def test_reindex_surface(store: Store, embedder):
    await seed(store, embedder)
    await store.memories.add(Memory(id="m11", kind="semantic", content="no vector yet", created_at=ts(20)))
    assert await store.memories.embedding_counts() == {embedder.name: 10, "": 1}
    assert (await store.memories.search([], query(embedder, "x"), None, 1)).stale == 1
    todo = await store.memories.to_embed(embedder.name, 5)
    assert [m.id for m in todo] == ["m11"]
    assert [m.id for m in await store.memories.to_embed("other", 4)] == ["m01", "m02", "m03", "m04"]
    await store.memories.set_embeddings({"m11": Embedding(embedder.name, embedder.embed(["no vector yet"])[0])})
    assert await store.memories.embedding_counts() == {embedder.name: 11}
    found = await store.memories.search([], query(embedder, "no vector yet"), None, 1)
    assert found.semantic[0][0] == "m11" and found.stale == 0
    assert [m.id for m in await store.memories.get_many(["m11", "nope", "m02"])] == ["m02", "m11"]


async def test_neo4j_memories_written_before_terms_are_found_after_open(bolt_server, neo4j_database, cypher):
    from dionysus_mcp.store.neo4j import Neo4jStore

    cypher(
        "CREATE (:Memory {id: 'old', kind: 'semantic', content: 'Drank coffee late, slept badly', tags: ['health'],"
        " importance: 0.5, created_at: '2026-01-01T00:00:00.000000Z'})"
    )
    store = Neo4jStore(bolt_server.uri, bolt_server.user, bolt_server.password, neo4j_database)
    await store.open()
    try:
        found = await store.memories.search(["coffee"], None, None, 5)
        assert [mid for mid, _ in found.lexical] == ["old"]
        assert cypher("MATCH (m:Memory {id: 'old'}) RETURN m.terms AS t, m.term_count AS n") == [
            {"t": "drank coffee late slept badly health", "n": 6}
        ]
        assert await store.memories.embedding_counts() == {"": 1}
    finally:
        await store.close()


async def test_updates_and_deletions_reach_both_candidate_lists(open_store, embedder):
    """After update_memory the old words and vector are gone and the new ones found; kept
    vectors stay; a deleted memory is no candidate at all. A second store on the same data (a
    second process, with its own caches) agrees."""
    store = await open_store()
    await seed(store, embedder)
    await store.memories.search(tokens("coffee"), query(embedder, "coffee"), None, 10)  # warm caches
    m01 = next(m for m in await store.memories.get_many(["m01"]))
    changed = m01.model_copy(update={"content": "Tax forms are due in April", "kind": "semantic"})
    text = "Tax forms are due in April\nhealth"
    await store.memories.update(changed, Embedding(embedder.name, embedder.embed([text])[0]))
    await store.memories.update((await store.memories.get_many(["m05"]))[0].model_copy(update={"importance": 0.9}), keep_embedding=True)
    assert await store.memories.delete("m07") is True
    for s in (store, await open_store()):
        coffee = await s.memories.search(tokens("coffee"), query(embedder, "coffee"), None, 10)
        assert "m01" not in dict(coffee.lexical) and "m07" not in dict(coffee.lexical)
        assert "m07" not in dict(coffee.semantic) and coffee.searched == len(CORPUS) - 1
        tax = await s.memories.search(tokens("tax forms"), query(embedder, "tax forms due in april"), ["semantic"], 3)
        assert "m01" in dict(tax.lexical) and tax.semantic[0][0] in {"m01", "m03"}
        assert "m01" in dict(tax.semantic)  # its new kind and new vector
        walk = await s.memories.search([], query(embedder, "Walked the dog along the river before breakfast"), None, 1)
        assert walk.semantic[0][0] == "m05"  # its vector was kept

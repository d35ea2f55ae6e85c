"""Lexical recall rules through the memory service on a real SQLite store (no embedder): what
leads, kinds, limits, ties, input rules and basin attachment. The fused scores are pinned in
tests/unit/test_ranking.py, the same top-k on both stores in tests/contract/test_recall_contract.py."""

from __future__ import annotations

import pytest

from dionysus_mcp.cognition.ranking import RANKINGS, Ranking
from dionysus_mcp.config import Settings
from dionysus_mcp.errors import InvalidInput
from dionysus_mcp.runtime import open_runtime

@pytest.fixture
def settings(tmp_path) -> Settings:
    # The lexical rules alone: meaning (DIONYSUS_EMBEDDER) adds candidates and attachments on
    # top, pinned by tests/unit/test_ranking.py and tests/contract/test_recall_contract.py.
    return Settings.from_env({"DIONYSUS_DB_PATH": str(tmp_path / "dionysus.db"), "DIONYSUS_EMBEDDER": "none"})


@pytest.fixture
async def corpus(runtime, clock):
    memory = runtime.memory
    ids = {}
    ids["m1"] = (await memory.remember("sleep sleep nap", importance=0.5)).memory_id
    clock.advance(1)
    ids["m2"] = (await memory.remember("nap walk", kind="episodic", importance=1.0)).memory_id
    clock.advance(1)
    ids["m3"] = (await memory.remember("coffee walk tea", importance=0.0)).memory_id
    return ids


async def test_the_memory_holding_every_query_term_leads_and_kinds_narrow_the_search(runtime, corpus):
    # The scores themselves are SQLite FTS5's bm25() fused as docs/COGNITION.md says (pinned in
    # tests/unit/test_ranking.py); here, what a user relies on whatever the weights.
    result = await runtime.memory.semantic_recall("sleep nap")
    assert result.searched == 3
    assert [h.memory_id for h in result.hits][:1] == [corpus["m1"]] and result.hits[0].relevance == 1.0
    assert corpus["m3"] not in [h.memory_id for h in result.hits]  # shares no term
    assert all(0 < h.relevance <= 1 for h in result.hits)
    only = await runtime.memory.semantic_recall("nap", kinds=["Episodic "])
    assert only.searched == 1 and [h.memory_id for h in only.hits] == [corpus["m2"]]
    assert (await runtime.memory.semantic_recall("nap", kinds=["procedural"])).searched == 0
    assert (await runtime.memory.semantic_recall("lighthouse")).hits == []


async def test_k_limits_and_ties_go_to_the_newest(runtime, corpus, clock):
    first = await runtime.memory.semantic_recall("walk", k=1)
    # m2 and m3 both hold "walk" once; m2 is shorter and more important, so it leads.
    assert [h.memory_id for h in first.hits] == [corpus["m2"]]
    clock.advance(1)
    twin = (await runtime.memory.remember("walk nap", kind="episodic", importance=1.0)).memory_id  # same text as m2
    hits = (await runtime.memory.semantic_recall("walk nap", k=100)).hits
    assert [h.memory_id for h in hits[:2]] == [twin, corpus["m2"]] and hits[0].score == hits[1].score
    for k in (0, 101):
        with pytest.raises(InvalidInput, match=f"^k must be between 1 and 100, got {k}$"):
            await runtime.memory.semantic_recall("walk", k=k)


async def test_memories_added_after_a_recall_are_found(runtime, corpus):
    assert len((await runtime.memory.semantic_recall("walk")).hits) == 2
    added = (await runtime.memory.remember("a long walk by the sea")).memory_id
    assert added in [h.memory_id for h in (await runtime.memory.semantic_recall("walk")).hits]
    # Written by another process (straight to the store): the revision changes, the index follows.
    from dionysus_mcp.cognition.memory import MemoryService

    other = MemoryService(runtime.store.memories, runtime.basins, clock=runtime.memory.clock)
    elsewhere = (await other.remember("walk to the harbour")).memory_id
    found = await runtime.memory.semantic_recall("walk harbour")
    assert found.hits[0].memory_id == elsewhere and found.searched == 5


async def test_remember_rules(runtime):
    memory = runtime.memory
    for kwargs, message in [
        ({"content": "  "}, "^content must not be empty$"),
        ({"content": "x" * 20_001}, "^content is 20001 characters; the limit is 20000$"),
        ({"content": "c", "kind": " "}, r"^kind must be 1 to 50 characters \(e.g. semantic, episodic\)$"),
        ({"content": "c", "kind": "k" * 51}, "^kind must be 1 to 50 characters"),
        ({"content": "c", "importance": 1.5}, "^importance must be between 0 and 1, got 1.5$"),
        ({"content": "c", "tags": [f"t{i}" for i in range(31)]}, "^31 tags given; the limit is 30$"),
        ({"content": "c", "tags": ["x" * 101]}, "^each tag must be 1 to 100 characters$"),
    ]:
        with pytest.raises(InvalidInput, match=message):
            await memory.remember(**kwargs)
    edge = await memory.remember("x" * 20_000, kind="k" * 50, importance=0.0,
                                 tags=[f"t{i}" for i in range(29)] + ["x" * 100])
    assert edge.kind == "k" * 50
    stored = await runtime.store.memories.list()
    [kept] = [m for m in stored if m.id == edge.memory_id]
    assert kept.tags == [f"t{i}" for i in range(29)] + ["x" * 100] and kept.importance == 0.0
    twice = await memory.remember("tagged", tags=["a", "a", "b"])
    assert [m.tags for m in await runtime.store.memories.list() if m.id == twice.memory_id] == [["a", "b"]]
    default = await memory.remember("plain")
    assert default.kind == "semantic" and default.memory_id.startswith("mem-") and len(default.memory_id) == 20
    for query, message in [("  ", "^query must not be empty$"), ("q" * 2001, "^query is 2001 characters; the limit is 2000$")]:
        with pytest.raises(InvalidInput, match=message):
            await memory.semantic_recall(query)
    assert (await memory.semantic_recall("q" * 2000)).hits == []


async def test_memories_attach_to_the_three_most_related_basins(runtime):
    for name in ("sleep", "nap", "rest", "walk"):
        await runtime.basins.upsert_basin(name)
    result = await runtime.memory.remember("sleep nap rest walk")
    assert len(result.basins) == 3
    named = await runtime.memory.remember("anything", basins=["walk"])
    assert named.basins == ["walk"]
    [kept] = [m for m in await runtime.store.memories.list() if m.id == named.memory_id]
    assert [(b.weight) for b in kept.basins] == [1.0]
    partial = await runtime.memory.remember("we slept: sleep matters", tags=["nap"])
    [kept] = [m for m in await runtime.store.memories.list() if m.id == partial.memory_id]
    # relevance 1/min(1 term, n words) = 1.0 for a one-term basin the text names
    assert sorted(b.weight for b in kept.basins) == [1.0, 1.0]


# --- rules a mutation run (scripts/mutation.sh recall) found unpinned ------------------------------


async def test_recall_gives_five_hits_unless_told(runtime):
    for n in range(7):
        await runtime.memory.remember(f"green tea note {n}")
    assert len((await runtime.memory.semantic_recall("green tea")).hits) == 5


async def test_a_large_k_asks_the_store_for_candidates_in_proportion(runtime):
    # 40 matching memories, more than the 30-candidate floor: k=40 must see all of them.
    for n in range(40):
        await runtime.memory.remember(f"ticket queue entry {n}")
    assert len((await runtime.memory.semantic_recall("ticket queue entry", k=40)).hits) == 40


async def test_equal_matches_come_newest_first(runtime, clock):
    ids = []
    for _ in range(4):
        ids.append((await runtime.memory.remember("the same note about kettles")).memory_id)
        clock.advance(5)
    hits = (await runtime.memory.semantic_recall("kettles", k=4)).hits
    assert len({h.score for h in hits}) == 1
    assert [h.memory_id for h in hits] == ids[::-1]


async def test_a_memory_forgotten_during_a_recall_is_left_out(runtime):
    kept = (await runtime.memory.remember("the lighthouse keeper's log")).memory_id
    gone = (await runtime.memory.remember("the lighthouse keeper's lamp")).memory_id
    read = runtime.store.memories.get_many

    async def forgotten_first(ids):  # another client forgets one between search and read
        await runtime.store.memories.delete(gone)
        return await read(ids)

    runtime.store.memories.get_many = forgotten_first
    hits = (await runtime.memory.semantic_recall("lighthouse keeper")).hits
    assert [h.memory_id for h in hits] == [kept]


@pytest.mark.parametrize("query", [None, "", "   "])
async def test_a_missing_query_is_refused(runtime, query):
    with pytest.raises(InvalidInput, match="query must not be empty"):
        await runtime.memory.semantic_recall(query)


async def test_recall_fuses_with_the_configured_method_and_the_embedders_lexical_weight(runtime, monkeypatch):
    for text in ("coffee keeps me awake", "tea before bed", "the train to Lyon", "sleep hygiene notes"):
        await runtime.memory.remember(text)

    async def scores():
        return [(h.memory_id, h.score) for h in (await runtime.memory.semantic_recall("coffee sleep", k=4)).hits]

    weighted = await scores()
    # The words' part is scaled by what the whole query could score (the idf of its terms), not
    # by the best hit: a memory holding one of two query words is not a perfect match.
    partial = (await runtime.memory.semantic_recall("coffee tea", k=1)).hits[0]
    assert 0 < partial.lexical < 0.9
    assert runtime.memory.ranking == RANKINGS[runtime.settings.embedder]  # the settings of the ranking, one place
    monkeypatch.setattr(runtime.memory, "ranking", Ranking(lexical_weight=0.9))
    assert await scores() != weighted
    monkeypatch.setattr(runtime.memory, "ranking", Ranking(fusion="rrf"))
    # RRF: Σ 1/(60 + rank) over the lists, times 0.5 + 0.5 · importance (0.5 here: 0.75).
    assert all(score <= round(0.75 * 2 / 61, 6) for _, score in await scores())


async def test_tags_alone_can_attach_a_basin_by_its_keywords(tmp_path):
    # Lexical only (no embedder), so the tags' words are all that can attach it.
    settings = Settings.from_env({"DIONYSUS_DB_PATH": str(tmp_path / "lexical.db"), "DIONYSUS_EMBEDDER": "none"})
    async with open_runtime(settings) as runtime:
        await runtime.basins.upsert_basin("money", description="budget and bills", keywords=["budget", "rent"])
        result = await runtime.memory.remember("Paid it this morning", tags=["rent", "budget"])
        assert result.basins == ["money"]
        # Two of the basin's three terms (name and keywords) named: relevance 2/3.
        assert [b.weight for b in (await runtime.store.memories.get(result.memory_id)).basins] == [round(2 / 3, 6)]

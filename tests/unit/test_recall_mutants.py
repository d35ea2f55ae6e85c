"""Recall's service rules that mutation testing found unguarded (docs/mutation.md): the figures a
hit reports, the default k, how many candidates a large k asks for, ties, a memory forgotten
mid-recall, and what `remember` stores with each vector. Real runtime, real SQLite file, the
default embedder (WordLlama)."""

from __future__ import annotations

import pytest

from dionysus_mcp.cognition.memory import embedding_text
from dionysus_mcp.cognition.ranking import RANKINGS, Ranking
from dionysus_mcp.config import Settings
from dionysus_mcp.errors import InvalidInput, NotFound
from dionysus_mcp.runtime import open_runtime


async def test_each_figure_of_a_hit_is_a_float_rounded_to_six_decimals(runtime):
    # Unrelated memories give the query's terms weight; partial matches give scores that are
    # not round numbers, so a figure rounded differently shows.
    for text in (
        "I sleep badly when I drink coffee late", "Coffee beans from Kenya", "Evening walks help me sleep",
        "The train to Lyon leaves at nine", "Invoice 60414 is due in March", "My sister plays the cello",
        "Tomatoes need full sun", "The office wifi password changed", "Backups run every Sunday night",
    ):
        await runtime.memory.remember(text, tags=["notes"])
    hits = (await runtime.memory.semantic_recall("coffee sleep", k=5)).hits
    assert len(hits) == 5 and hits[0].relevance == 1.0
    for h in hits:
        assert all(type(v) is float and v == round(v, 6) for v in (h.score, h.relevance, h.lexical, h.semantic)), h
        assert 0.0 < h.score <= 1.0 and -1.0 <= h.semantic <= 1.0 and h.lexical >= 0.0
        assert h.relevance == pytest.approx(h.score / hits[0].score, abs=2e-6)
    # So the checks above can fail: figures with all six decimals in use.
    assert any(v != round(v, 5) for h in hits for v in (h.score, h.relevance))


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


@pytest.mark.parametrize("kind", [None, "", "  "])
async def test_a_missing_kind_is_refused(runtime, kind):
    with pytest.raises(InvalidInput, match="kind must be 1 to"):
        await runtime.memory.remember("a note", kind=kind)


async def test_each_vector_records_the_model_that_made_it_from_content_and_tags(runtime):
    await runtime.memory.remember("a note", tags=["x", "y"])
    await runtime.memory.remember("another note")
    assert await runtime.store.memories.embedding_counts() == {runtime.embedder.name: 2}
    # The text embedded (reindex embeds the same): the content, then the tags on their own line.
    assert embedding_text("a note", ["x", "y"]) == "a note\nx y"
    assert embedding_text("a note", []) == "a note"


@pytest.mark.parametrize("method", ["get", "forget_memory"])
async def test_an_unknown_or_missing_memory_id_is_named_in_at_most_100_characters(runtime, method):
    call = getattr(runtime.memory, method)
    with pytest.raises(NotFound, match=r"no memory has id ''"):
        await call(None)
    with pytest.raises(NotFound) as caught:
        await call("m" * 150)
    assert f"'{'m' * 100}'" in str(caught.value)


async def test_update_changes_kind_and_tags_and_pins_named_basins_at_full_weight(runtime):
    await runtime.basins.upsert_basin("garden", description="plants", keywords=["tomato"])
    memory_id = (await runtime.memory.remember("Water the plants", tags=["home"])).memory_id
    view = await runtime.memory.update_memory(memory_id, kind="Procedural", tags=["chores", "weekly"], basins=["garden"])
    assert (view.kind, view.tags, view.basins) == ("procedural", ["chores", "weekly"], ["garden"])
    stored = await runtime.store.memories.get(memory_id)
    assert (stored.kind, stored.tags, [b.weight for b in stored.basins]) == ("procedural", ["chores", "weekly"], [1.0])
    with pytest.raises(InvalidInput, match="^nothing to change: give content, kind, tags, importance or basins$"):
        await runtime.memory.update_memory(memory_id)


async def semantic_of(runtime, query: str, memory_id: str) -> float:
    hits = (await runtime.memory.semantic_recall(query, k=10)).hits
    return next(h.semantic for h in hits if h.memory_id == memory_id)


async def test_new_content_or_tags_get_a_new_vector_and_other_changes_keep_it(runtime):
    changed = (await runtime.memory.remember("apples and pears", tags=["fruit"])).memory_id
    await runtime.memory.update_memory(changed, importance=0.9)  # no new text: the vector stays
    assert await runtime.store.memories.embedding_counts() == {runtime.embedder.name: 1}
    await runtime.memory.update_memory(changed, content="quarterly tax filing")
    fresh = (await runtime.memory.remember("quarterly tax filing", tags=["fruit"])).memory_id
    assert await runtime.store.memories.embedding_counts() == {runtime.embedder.name: 2}
    # Same text, same vector: the changed memory was embedded again, from its new content.
    assert await semantic_of(runtime, "taxes", changed) == await semantic_of(runtime, "taxes", fresh)
    await runtime.memory.update_memory(changed, tags=["garden"])
    other = (await runtime.memory.remember("quarterly tax filing", tags=["garden"])).memory_id
    assert await semantic_of(runtime, "garden taxes", changed) == await semantic_of(runtime, "garden taxes", other)
    assert await semantic_of(runtime, "garden taxes", changed) != await semantic_of(runtime, "garden taxes", fresh)


async def test_a_memory_forgotten_during_an_update_is_reported(runtime):
    memory_id = (await runtime.memory.remember("a passing thought")).memory_id
    update = runtime.store.memories.update

    async def forgotten_first(memory, *args, **kwargs):  # another client forgets it meanwhile
        await runtime.store.memories.delete(memory.id)
        return await update(memory, *args, **kwargs)

    runtime.store.memories.update = forgotten_first
    with pytest.raises(NotFound, match=f"^memory '{memory_id}' was forgotten meanwhile; nothing changed$"):
        await runtime.memory.update_memory(memory_id, importance=0.2)


async def test_recall_fuses_with_the_configured_method_and_the_embedders_lexical_weight(runtime, monkeypatch):
    for text in ("coffee keeps me awake", "tea before bed", "the train to Lyon", "sleep hygiene notes"):
        await runtime.memory.remember(text)

    async def scores():
        return [(h.memory_id, h.score) for h in (await runtime.memory.semantic_recall("coffee sleep", k=4)).hits]

    weighted = await scores()
    assert runtime.memory.ranking == RANKINGS[runtime.settings.embedder]  # the settings of the ranking, one place
    monkeypatch.setattr(runtime.memory, "ranking", Ranking(lexical_weight=0.9))
    assert await scores() != weighted
    monkeypatch.setattr(runtime.memory, "ranking", Ranking(fusion="rrf"))
    # RRF: Σ 1/(60 + rank) over the lists, times 0.5 + 0.5 · importance (0.5 here: 0.75).
    assert all(score <= round(0.75 * 2 / 61, 6) for _, score in await scores())


async def test_remember_attaches_basins_by_meaning_with_fractional_weights(runtime):
    await runtime.basins.upsert_basin("sleep", description="rest, sleep and insomnia", keywords=["sleep", "insomnia"])
    await runtime.basins.upsert_basin("money", description="budget and bills", keywords=["budget", "rent"])
    result = await runtime.memory.remember("I could not get any slumber last night")  # no keyword in common
    assert result.basins == ["sleep"]
    [link] = (await runtime.store.memories.get(result.memory_id)).basins
    assert 0.0 < link.weight < 1.0 and link.weight == round(link.weight, 6)


async def test_tags_alone_can_attach_a_basin_by_its_keywords(tmp_path):
    # Lexical only (no embedder), so the tags' words are all that can attach it.
    settings = Settings.from_env({"DIONYSUS_DB_PATH": str(tmp_path / "lexical.db"), "DIONYSUS_EMBEDDER": "none"})
    async with open_runtime(settings) as runtime:
        await runtime.basins.upsert_basin("money", description="budget and bills", keywords=["budget", "rent"])
        result = await runtime.memory.remember("Paid it this morning", tags=["rent", "budget"])
        assert result.basins == ["money"]
        # Two of the basin's three terms (name and keywords) named: relevance 2/3.
        assert [b.weight for b in (await runtime.store.memories.get(result.memory_id)).basins] == [round(2 / 3, 6)]

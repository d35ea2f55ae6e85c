from __future__ import annotations

import pytest

from dionysus_mcp.errors import InvalidInput, NotFound


async def seed(runtime):
    await runtime.basins.upsert_basin("sleep", keywords=["sleep", "rest", "night"])
    await runtime.basins.upsert_basin("work", keywords=["deadline", "project", "meeting"])


async def test_remember_attaches_by_keywords_and_recall_ranks(runtime):
    await seed(runtime)
    a = await runtime.memory.remember("Slept badly the night before the deadline", importance=0.9)
    await runtime.memory.remember("The project meeting moved to Friday", importance=0.3)
    await runtime.memory.remember("Rest days help recovery", kind="procedural")
    assert set(a.basins) == {"sleep", "work"}
    result = await runtime.memory.semantic_recall("night sleep", k=2)
    assert result.hits[0].memory_id == a.memory_id
    assert result.hits[0].relevance == 1.0 and result.hits[0].basins == ["sleep", "work"]
    assert all(h.score > 0 for h in result.hits)


async def test_importance_breaks_equal_relevance(runtime):
    low = await runtime.memory.remember("green tea in the morning", importance=0.1)
    high = await runtime.memory.remember("green tea in the evening", importance=1.0)
    hits = (await runtime.memory.semantic_recall("green tea")).hits
    assert [h.memory_id for h in hits] == [high.memory_id, low.memory_id]


async def test_recall_filters_kinds_and_sees_new_memories(runtime):
    await runtime.memory.remember("alpha beta", kind="episodic")
    assert (await runtime.memory.semantic_recall("alpha", kinds=["semantic"])).hits == []
    await runtime.memory.remember("alpha gamma", kind="semantic")  # index must refresh
    hits = (await runtime.memory.semantic_recall("alpha", kinds=["semantic"])).hits
    assert [h.content for h in hits] == ["alpha gamma"]


async def test_remember_with_unknown_basin_stores_nothing(runtime):
    await seed(runtime)
    with pytest.raises(NotFound):
        await runtime.memory.remember("x", basins=["sleep", "nope"])
    assert (await runtime.store.memories.stats()).total == 0


@pytest.mark.parametrize(
    "kwargs",
    [dict(content=""), dict(content="   "), dict(content="x" * 20_001), dict(content="x", importance=2), dict(content="x", tags=[""])],
)
async def test_remember_rejects_bad_input(runtime, kwargs):
    with pytest.raises(InvalidInput):
        await runtime.memory.remember(**kwargs)


async def test_mosaeic_needs_a_window_and_stores_experiential_memory(runtime):
    await seed(runtime)
    with pytest.raises(InvalidInput):
        await runtime.mosaeic.capture()
    result = await runtime.mosaeic.capture(senses="dark room", emotions="tired before the deadline", context="late")
    assert result.windows == ["senses", "emotions"] and "work" in result.basins
    stats = await runtime.store.memories.stats()
    assert stats.by_kind == {"experiential": 1}


async def test_wisdom_query_ranks_by_overlap_and_confidence(runtime):
    await runtime.wisdom.add_wisdom("Sleep before you decide under stress", "health", 0.9)
    await runtime.wisdom.add_wisdom("Decide quickly when stakes are low", "strategy", 0.6)
    result = await runtime.wisdom.query_wisdom("decide under stress", k=5)
    assert [p.domain for p in result.principles] == ["health", "strategy"]
    with pytest.raises(InvalidInput):
        await runtime.wisdom.add_wisdom("x", confidence=1.5)


async def test_coherence_insufficient_then_ok_with_continuity(runtime, clock):
    first = await runtime.coherence.assess_coherence()
    assert first.status == "insufficient_data" and first.consciousness_level == 0.0
    await seed(runtime)
    await runtime.memory.remember("sleep at night")
    await runtime.basins.activate_basin("sleep", 0.8)
    clock.advance(1)
    second = await runtime.coherence.assess_coherence()
    clock.advance(1)
    third = await runtime.coherence.assess_coherence()
    assert second.status == "ok" and [b.name for b in second.active_basins] == ["sleep"]
    assert second.components["continuity"] == 0.0 and third.components["continuity"] == 1.0
    assert third.components["grounding"] == 1.0 and third.consciousness_level > second.consciousness_level


async def test_observe_environment_reports_counts_and_coherence(runtime):
    await seed(runtime)
    await runtime.memory.remember("sleep well")
    await runtime.basins.activate_basin("work", 0.5)
    await runtime.coherence.assess_coherence()
    snap = await runtime.environment.observe()
    assert snap.basin_count == 2 and snap.memory_count == 1
    assert snap.active_basins[0].name == "work" and snap.latest_coherence.status == "ok"
    assert snap.store == "sqlite"


async def test_coherence_scores_every_active_basin_but_lists_the_most_active(runtime):
    from dionysus_mcp.cognition.coherence import MAX_LISTED

    for i in range(MAX_LISTED + 5):
        await runtime.basins.upsert_basin(f"b{i:02d}")
        await runtime.basins.activate_basin(f"b{i:02d}", 0.2 + 0.03 * i)
    result = await runtime.coherence.assess_coherence()
    assert result.active_count == MAX_LISTED + 5 and len(result.active_basins) == MAX_LISTED
    levels = [b.activation for b in result.active_basins]
    assert levels == sorted(levels, reverse=True)
    snapshot = (await runtime.store.snapshots.recent(1))[0]
    assert len(snapshot.active_basin_ids) == MAX_LISTED + 5  # continuity still sees them all


# --- rules a mutation run (scripts/mutation.sh recall) found unpinned ------------------------------


@pytest.mark.parametrize("kind", [None, "", "  "])
async def test_a_missing_kind_is_refused(runtime, kind):
    with pytest.raises(InvalidInput, match="kind must be 1 to"):
        await runtime.memory.remember("a note", kind=kind)


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


async def test_a_memory_forgotten_during_an_update_is_reported(runtime):
    memory_id = (await runtime.memory.remember("a passing thought")).memory_id
    update = runtime.store.memories.update

    async def forgotten_first(memory, *args, **kwargs):  # another client forgets it meanwhile
        await runtime.store.memories.delete(memory.id)
        return await update(memory, *args, **kwargs)

    runtime.store.memories.update = forgotten_first
    with pytest.raises(NotFound, match=f"^memory '{memory_id}' was forgotten meanwhile; nothing changed$"):
        await runtime.memory.update_memory(memory_id, importance=0.2)

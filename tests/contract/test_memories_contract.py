"""Contract: memories, their basin links, stats and revision, the same on every backend.

Fixed here where the interface leaves room: a memory that refers to a basin that does not exist,
or a second memory with an existing id, raises `StoreError` and stores nothing; a memory's basin
links come back ordered by basin_id.
"""

from __future__ import annotations

import pytest

from dionysus_mcp.store.base import Store, StoreError
from schema.models import Memory, MemoryBasin
from tests.contract.builders import basin, ts


async def test_memory_round_trip_and_order(store: Store):
    for name in ("x", "y"):
        await store.basins.upsert(basin(name))
    linked = Memory(
        id="m2", kind="episodic", content="saw a fox", tags=["fox", "forest"], importance=0.875,
        created_at=ts(1, 1), basins=[MemoryBasin(basin_id="b-x", weight=0.5), MemoryBasin(basin_id="b-y", weight=1.0)],
    )
    plain = Memory(id="m1", kind="semantic", content="foxes are canids", created_at=ts(1, 1))
    early = Memory(id="m9", kind="episodic", content="dawn", created_at=ts(0, 999_999))
    assert await store.memories.add(linked) == linked
    assert await store.memories.add(plain) == plain
    assert await store.memories.add(early) == early
    # ordered by (created_at, id): same timestamp falls back to id
    assert await store.memories.list() == [early, plain, linked]
    assert await store.memories.list(["episodic"]) == [early, linked]
    assert await store.memories.list(["semantic", "procedural"]) == [plain]
    assert await store.memories.list([]) == []


async def test_memory_basins_come_back_ordered_by_basin_id(store: Store):
    for name in ("c", "a", "b"):
        await store.basins.upsert(basin(name))
    links = [MemoryBasin(basin_id=f"b-{n}", weight=w) for n, w in (("c", 0.3), ("a", 0.1), ("b", 0.2))]
    stored = await store.memories.add(Memory(id="m", kind="k", content="c", created_at=ts(), basins=links))
    expected = sorted(links, key=lambda mb: mb.basin_id)
    assert stored.basins == expected
    assert (await store.memories.list())[0].basins == expected


async def test_add_memory_with_unknown_basin_raises_and_stores_nothing(store: Store):
    await store.basins.upsert(basin("x"))
    before = await store.memories.stats()
    bad = Memory(
        id="m1", kind="episodic", content="orphan", created_at=ts(),
        basins=[MemoryBasin(basin_id="b-x", weight=1.0), MemoryBasin(basin_id="b-missing", weight=1.0)],
    )
    with pytest.raises(StoreError):
        await store.memories.add(bad)
    assert await store.memories.list() == []
    assert await store.memories.counts_by_basin() == {}
    assert await store.memories.stats() == before
    # the id is still free: the failed write left nothing behind
    good = bad.model_copy(update={"basins": [MemoryBasin(basin_id="b-x", weight=1.0)]})
    assert await store.memories.add(good) == good


async def test_add_memory_with_existing_id_raises_and_keeps_the_first(store: Store):
    first = Memory(id="m1", kind="episodic", content="first", created_at=ts())
    await store.memories.add(first)
    with pytest.raises(StoreError):
        await store.memories.add(first.model_copy(update={"content": "second", "kind": "semantic"}))
    assert await store.memories.list() == [first]


async def test_memory_stats_revision_and_basin_counts(store: Store, open_store):
    await store.basins.upsert(basin("x"))
    await store.basins.upsert(basin("y"))
    await store.basins.upsert(basin("unused"))
    seen = {(await store.memories.stats()).revision}
    kinds = ["episodic", "semantic", "episodic", "procedural", "episodic"]
    for i, kind in enumerate(kinds):
        links = [MemoryBasin(basin_id="b-x", weight=0.5)] + ([MemoryBasin(basin_id="b-y", weight=0.5)] if i % 2 else [])
        await store.memories.add(Memory(id=f"m{i}", kind=kind, content=str(i), created_at=ts(i), basins=links))
        stats = await store.memories.stats()
        assert stats.revision not in seen, "revision must change with every added memory"
        seen.add(stats.revision)
        assert stats == await store.memories.stats(), "revision must be stable while nothing changes"
    stats = await store.memories.stats()
    assert stats.total == 5
    assert stats.by_kind == {"episodic": 3, "procedural": 1, "semantic": 1}
    assert await store.memories.counts_by_basin() == {"b-x": 5, "b-y": 2}
    # another store on the same data (another process) sees the same revision, and notices writes
    other = await open_store()
    assert (await other.memories.stats()).revision == stats.revision
    await store.memories.add(Memory(id="m-late", kind="episodic", content="late", created_at=ts(-100)))
    assert (await other.memories.stats()).revision != stats.revision


# --- update and delete ------------------------------------------------------------------------


async def test_update_memory_replaces_fields_and_links_and_changes_the_revision(open_store):
    store = await open_store()
    for name in ("x", "y"):
        await store.basins.upsert(basin(name))
    original = await store.memories.add(Memory(
        id="m1", kind="semantic", content="old", tags=["a"], importance=0.5, created_at=ts(),
        basins=[MemoryBasin(basin_id="b-x", weight=0.5)],
    ))
    before = await store.memories.stats()
    changed = original.model_copy(update={
        "content": "new", "kind": "episodic", "tags": ["b", "c"], "importance": 0.25,
        "basins": [MemoryBasin(basin_id="b-y", weight=1.0)],
    })
    assert await store.memories.update(changed) == changed
    assert await store.memories.get("m1") == changed
    after = await store.memories.stats()
    assert after.total == before.total and after.revision != before.revision and after.edits == before.edits + 1
    # another store on the same data sees the same revision
    assert (await (await open_store()).memories.stats()).revision == after.revision
    assert await store.memories.counts_by_basin() == {"b-y": 1}
    assert await store.memories.update(changed.model_copy(update={"id": "ghost"})) is None


async def test_update_memory_with_unknown_basin_changes_nothing(store: Store):
    await store.basins.upsert(basin("x"))
    original = await store.memories.add(Memory(
        id="m1", kind="semantic", content="old", created_at=ts(), basins=[MemoryBasin(basin_id="b-x", weight=1.0)]
    ))
    with pytest.raises(StoreError):
        await store.memories.update(original.model_copy(update={
            "content": "new", "basins": [MemoryBasin(basin_id="b-missing", weight=1.0)]
        }))
    assert await store.memories.get("m1") == original


async def test_delete_memory(store: Store):
    await store.basins.upsert(basin("x"))
    await store.memories.add(Memory(id="m1", kind="k", content="a", created_at=ts(), basins=[MemoryBasin(basin_id="b-x", weight=1.0)]))
    keep = await store.memories.add(Memory(id="m2", kind="k", content="b", created_at=ts(1)))
    before = await store.memories.stats()
    assert await store.memories.delete("m1") is True
    assert await store.memories.delete("m1") is False
    assert await store.memories.list() == [keep]
    assert await store.memories.get("m1") is None
    assert await store.memories.counts_by_basin() == {}
    after = await store.memories.stats()
    assert after.total == 1 and after.revision != before.revision
    # the id is free again
    await store.memories.add(Memory(id="m1", kind="k", content="again", created_at=ts(2)))

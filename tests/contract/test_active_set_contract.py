"""Contract: the reads `assess_coherence` makes — the active set, the links among it and its
memory counts — return exactly what filtering the whole store would, on every backend."""

from __future__ import annotations

import random

from dionysus_mcp.cognition.basins import ACTIVE_THRESHOLD, BasinService
from dionysus_mcp.store.base import Store
from schema.models import BasinLink, Memory, MemoryBasin
from tests.contract.builders import basin, ts

HALF_LIFE = 3600.0


async def _seed_basins(store: Store) -> None:
    rng = random.Random(13)
    # Activation and age chosen around the bound: some just above, some just below the
    # threshold now, some never activated (with and without a stored activation).
    for i in range(60):
        age = rng.choice([0, 60, HALF_LIFE, 3 * HALF_LIFE, 3.3 * HALF_LIFE, 3.33 * HALF_LIFE, 5 * HALF_LIFE])
        activation = rng.choice([0.0, 0.05, 0.0999999, 0.1, 0.2, 0.5, 1.0])
        never = i % 10 == 0
        await store.basins.upsert(
            basin(f"n{i:02d}", activation=activation, last_activated_at=None if never else ts(-age))
        )
    # Exactly at the edge: 1.0 decayed for log2(10) half-lives is 0.1 (rounded, as views are).
    await store.basins.upsert(basin("edge", activation=1.0, last_activated_at=ts(-HALF_LIFE * 3.321928094887362)))


async def test_active_set_equals_filtering_every_basin(store: Store):
    await _seed_basins(store)
    for offset in (0, 600, HALF_LIFE, 4 * HALF_LIFE):
        now = ts(offset)
        service = BasinService(store.basins, HALF_LIFE, clock=lambda now=now: now)
        everything = await service.current()
        expected = [v for v in everything if v.activation >= ACTIVE_THRESHOLD]
        assert await service.active() == expected
        if offset == 0:
            assert 5 < len(expected) < len(everything)  # the scenario exercises both sides


async def test_basins_activated_since_is_the_stored_bound(store: Store):
    await store.basins.upsert(basin("old", activation=0.9, last_activated_at=ts(-100)))
    await store.basins.upsert(basin("recent-low", activation=0.05, last_activated_at=ts(10)))
    await store.basins.upsert(basin("recent", activation=0.5, last_activated_at=ts(0)))
    await store.basins.upsert(basin("never-set", activation=0.3))
    await store.basins.upsert(basin("never-zero"))
    got = await store.basins.activated_since(ts(0), 0.1)
    assert [b.name for b in got] == ["never-set", "recent"]
    assert got[1] == await store.basins.get("recent")


async def test_links_among_and_counts_of_some_basins(store: Store):
    for name in "abcd":
        await store.basins.upsert(basin(name))
    for s, t, w in [("a", "b", 0.5), ("b", "a", 0.25), ("a", "c", 0.75), ("c", "d", 1.0), ("d", "a", 0.125)]:
        await store.basins.set_link(BasinLink(source_id=f"b-{s}", target_id=f"b-{t}", weight=w))
    among = await store.basins.links_among(["b-a", "b-b", "b-d"])
    assert among == [l for l in await store.basins.links() if {l.source_id, l.target_id} <= {"b-a", "b-b", "b-d"}]
    assert [(l.source_id, l.target_id) for l in among] == [("b-a", "b-b"), ("b-b", "b-a"), ("b-d", "b-a")]
    assert await store.basins.links_among([]) == []

    for i, names in enumerate(["a", "ab", "b", "c"]):
        await store.memories.add(
            Memory(id=f"m{i}", kind="episodic", content=f"memory {i}", created_at=ts(i),
                   basins=[MemoryBasin(basin_id=f"b-{n}", weight=1.0) for n in names])
        )
    assert await store.memories.counts_by_basin(["b-a", "b-b", "b-d"]) == {"b-a": 2, "b-b": 2}
    assert await store.memories.counts_by_basin([]) == {}
    assert await store.memories.counts_by_basin() == {"b-a": 2, "b-b": 2, "b-c": 1}

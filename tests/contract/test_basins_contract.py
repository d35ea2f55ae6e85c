"""Contract: basins and the links between them, the same on every backend.

Cognition writes are strict: a link or activation that refers to a basin that does not exist
raises `StoreError` and stores nothing (an activation batch is all or nothing).
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from dionysus_mcp.store.base import Store, StoreError
from schema.models import ActivationUpdate, Basin, BasinLink
from tests.contract.builders import basin, ts
from schema.trace_writes import CreateTrace, LinkTraceBasin


async def test_basin_round_trip(store: Store):
    full = basin(
        "curiosity",
        description="wants to know",
        keywords=["explore", "question", "ask"],
        activation=0.1 + 0.2,
        stability=0.75,
        depth=1.0 / 3.0,
        last_activated_at=ts(60, 999_999),
        created_at=ts(0, 1),
    )
    bare = basin("bare")
    assert await store.basins.upsert(full) == full
    assert await store.basins.upsert(bare) == bare
    assert await store.basins.get("b-curiosity") == full
    assert await store.basins.get("curiosity") == full
    assert (await store.basins.get("bare")).last_activated_at is None
    assert await store.basins.get("nope") is None
    got = await store.basins.get("curiosity")
    assert got.created_at.tzinfo is not None and got.created_at.utcoffset() == timedelta(0)


async def test_upsert_basin_by_name_keeps_identity_and_state(store: Store):
    original = await store.basins.upsert(
        basin("focus", description="old", keywords=["x"], activation=0.8, stability=0.3, depth=2.0,
              last_activated_at=ts(5), created_at=ts(1))
    )
    updated = await store.basins.upsert(
        Basin(id="other-id", name="focus", description="new", keywords=["y", "z"], activation=0.0,
              stability=0.9, depth=0.0, last_activated_at=None, created_at=ts(99))
    )
    expected = original.model_copy(update={"description": "new", "keywords": ["y", "z"], "stability": 0.9})
    assert updated == expected
    assert await store.basins.get("focus") == expected
    assert await store.basins.get("other-id") is None
    assert await store.basins.list() == [expected]


async def test_list_basins_ordered_by_name(store: Store):
    for name in ["mango", "apple", "Zebra", "kiwi"]:
        await store.basins.upsert(basin(name))
    assert [b.name for b in await store.basins.list()] == ["Zebra", "apple", "kiwi", "mango"]


async def test_links_create_replace_and_order(store: Store):
    for name in "abc":
        await store.basins.upsert(basin(name))
    assert await store.basins.set_link(BasinLink(source_id="b-b", target_id="b-a", weight=0.5)) == BasinLink(
        source_id="b-b", target_id="b-a", weight=0.5
    )
    await store.basins.set_link(BasinLink(source_id="b-a", target_id="b-c", weight=0.25))
    await store.basins.set_link(BasinLink(source_id="b-a", target_id="b-b", weight=0.125))
    replaced = await store.basins.set_link(BasinLink(source_id="b-b", target_id="b-a", weight=0.75))
    assert replaced.weight == 0.75
    assert await store.basins.links() == [
        BasinLink(source_id="b-a", target_id="b-b", weight=0.125),
        BasinLink(source_id="b-a", target_id="b-c", weight=0.25),
        BasinLink(source_id="b-b", target_id="b-a", weight=0.75),
    ]


async def test_link_to_unknown_basin_raises_and_stores_nothing(store: Store):
    await store.basins.upsert(basin("a"))
    with pytest.raises(StoreError):
        await store.basins.set_link(BasinLink(source_id="b-a", target_id="b-missing", weight=0.5))
    with pytest.raises(StoreError):
        await store.basins.set_link(BasinLink(source_id="b-missing", target_id="b-a", weight=0.5))
    assert await store.basins.links() == []


async def test_apply_activation_updates_basins_and_links(store: Store):
    a = await store.basins.upsert(basin("a", stability=0.4))
    b = await store.basins.upsert(basin("b"))
    await store.basins.set_link(BasinLink(source_id="b-a", target_id="b-b", weight=0.1))
    await store.basins.apply_activation(
        [
            ActivationUpdate(basin_id="b-a", activation=0.9, depth=1.5, last_activated_at=ts(10, 7)),
            ActivationUpdate(basin_id="b-b", activation=0.3, depth=0.25, last_activated_at=ts(10, 8)),
        ],
        [
            BasinLink(source_id="b-a", target_id="b-b", weight=0.2),  # existing: replaced
            BasinLink(source_id="b-b", target_id="b-a", weight=0.05),  # new: created
        ],
    )
    assert await store.basins.get("a") == a.model_copy(
        update={"activation": 0.9, "depth": 1.5, "last_activated_at": ts(10, 7)}
    )
    assert await store.basins.get("b") == b.model_copy(
        update={"activation": 0.3, "depth": 0.25, "last_activated_at": ts(10, 8)}
    )
    assert await store.basins.links() == [
        BasinLink(source_id="b-a", target_id="b-b", weight=0.2),
        BasinLink(source_id="b-b", target_id="b-a", weight=0.05),
    ]
    await store.basins.apply_activation([], [])  # nothing to do is fine


async def test_apply_activation_is_atomic(store: Store):
    a = await store.basins.upsert(basin("a"))
    with pytest.raises(StoreError):
        await store.basins.apply_activation(
            [ActivationUpdate(basin_id="b-a", activation=0.9, depth=1.0, last_activated_at=ts(1))],
            [BasinLink(source_id="b-a", target_id="b-missing", weight=0.5)],
        )
    assert await store.basins.get("a") == a
    assert await store.basins.links() == []


async def test_delete_basin_removes_its_links_and_attachments_but_keeps_memories(store: Store):
    from schema.models import Memory, MemoryBasin, TraceBasinLink
    from tests.contract.builders import trace

    for name in ("a", "b", "c"):
        await store.basins.upsert(basin(name))
    await store.basins.set_link(BasinLink(source_id="b-a", target_id="b-b", weight=0.5))
    await store.basins.set_link(BasinLink(source_id="b-c", target_id="b-a", weight=0.4))
    await store.basins.set_link(BasinLink(source_id="b-b", target_id="b-c", weight=0.3))
    links = [MemoryBasin(basin_id="b-a", weight=1.0), MemoryBasin(basin_id="b-b", weight=1.0)]
    memory = await store.memories.add(Memory(id="m1", kind="k", content="x", created_at=ts(), basins=links))
    await store.traces.write([CreateTrace(trace=trace("t1", ts()))])
    await store.traces.write([LinkTraceBasin(link=TraceBasinLink(trace_id="t1", basin_id="b-a", basin_name="a", strength=0.5, at_step=1))])
    revision = (await store.memories.stats()).revision

    assert await store.basins.delete("b-a") == {"links": 2, "memories_detached": 1, "trace_activations": 1}
    assert await store.basins.get("a") is None
    assert [b.name for b in await store.basins.list()] == ["b", "c"]
    assert await store.basins.links() == [BasinLink(source_id="b-b", target_id="b-c", weight=0.3)]
    assert await store.memories.list() == [memory.model_copy(update={"basins": links[1:]})]
    assert await store.traces.basins("t1") == []
    assert (await store.memories.stats()).revision != revision
    assert await store.basins.delete("b-a") is None
    # the name is free again
    await store.basins.upsert(basin("a", bid="b-a2"))

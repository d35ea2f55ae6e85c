"""Contract: wisdom principles and coherence snapshots, the same on every backend.

A second record with an existing id (principle or snapshot) raises `StoreError` and keeps the first.
"""

from __future__ import annotations

import random

import pytest

from dionysus_mcp.store.base import Store, StoreError
from schema.models import CoherenceSnapshot, WisdomPrinciple
from tests.contract.builders import ts


async def test_wisdom_round_trip_and_order(store: Store):
    later = WisdomPrinciple(id="w1", text="Slow is smooth.", domain="practice", confidence=0.9, created_at=ts(5))
    same_b = WisdomPrinciple(id="wb", text="b", domain="d", confidence=0.5, created_at=ts(1))
    same_a = WisdomPrinciple(id="wa", text="a", domain="d", confidence=1.0 / 7.0, created_at=ts(1))
    for p in (later, same_b, same_a):
        assert await store.wisdom.add(p) == p
    assert await store.wisdom.list() == [same_a, same_b, later]
    with pytest.raises(StoreError):
        await store.wisdom.add(later.model_copy(update={"text": "dup"}))
    assert await store.wisdom.list() == [same_a, same_b, later]


async def test_snapshots_round_trip_newest_first(store: Store):
    snaps = [
        CoherenceSnapshot(
            id=f"s{i}", created_at=ts(i, i), consciousness_level=i / 10, status="ok",
            components={"integration": 0.5 + i / 100, "stability": 1.0 / 3.0, "focus": 0.0}, active_basin_ids=[f"b{i}", "b-x"],
        )
        for i in range(5)
    ]
    snaps.append(
        CoherenceSnapshot(id="s-empty", created_at=ts(2, 2), consciousness_level=0.0, status="insufficient_data",
                          components={}, active_basin_ids=[])
    )
    for s in random.Random(3).sample(snaps, len(snaps)):
        await store.snapshots.add(s)
    newest_first = sorted(snaps, key=lambda s: (s.created_at, s.id), reverse=True)
    assert await store.snapshots.recent(100) == newest_first
    assert await store.snapshots.recent(2) == newest_first[:2]
    assert await store.snapshots.recent(0) == []
    with pytest.raises(StoreError):
        await store.snapshots.add(snaps[0])


async def test_delete_wisdom(store: Store):
    first = WisdomPrinciple(id="w1", text="rest", domain="health", confidence=0.5, created_at=ts())
    second = WisdomPrinciple(id="w2", text="plan", domain="work", confidence=0.5, created_at=ts(1))
    await store.wisdom.add(first)
    await store.wisdom.add(second)
    assert await store.wisdom.delete("w1") is True
    assert await store.wisdom.delete("w1") is False
    assert await store.wisdom.list() == [second]

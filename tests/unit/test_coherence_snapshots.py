"""Coherence reads only the active set, scores it as from the whole store, and writes a snapshot
only when the assessment changes meaningfully or the latest snapshot is old (docs/COGNITION.md)."""

from __future__ import annotations

from dionysus_mcp.cognition.basins import ACTIVE_THRESHOLD
from datetime import datetime, timedelta, timezone

from dionysus_mcp.cognition.coherence import SNAPSHOT_CHANGE, SNAPSHOT_INTERVAL_S, combine, score_components, snapshot_due
from schema.models import CoherenceSnapshot

T0 = datetime(2026, 12, 6, tzinfo=timezone.utc)


def _previous(level: float = 0.0, components: dict[str, float] | None = None, status: str = "ok") -> CoherenceSnapshot:
    return CoherenceSnapshot(
        id="s1", created_at=T0, consciousness_level=level, status=status,
        components={"a": 0.0} if components is None else components, active_basin_ids=["b1", "b2"],
    )


def _due(previous: CoherenceSnapshot, level: float = 0.0, components: dict[str, float] | None = None,
         status: str = "ok", active: tuple[str, ...] = ("b2", "b1")) -> bool:
    now = T0 + timedelta(seconds=1)
    return snapshot_due(previous, now, level, status, {"a": 0.0} if components is None else components, list(active))


def test_snapshot_due_at_each_edge_of_the_rule():
    # 0.0 → SNAPSHOT_CHANGE is a difference of exactly SNAPSHOT_CHANGE in floats: the change counts.
    assert not _due(_previous())  # same assessment, same set in another order, a second later
    assert _due(_previous(status="insufficient_data"))  # the status alone changed
    assert _due(_previous(), active=("b1",))  # the active set alone changed
    assert _due(_previous(), level=SNAPSHOT_CHANGE)
    assert not _due(_previous(), level=SNAPSHOT_CHANGE / 2)
    assert _due(_previous(), components={"a": SNAPSHOT_CHANGE})
    assert not _due(_previous(), components={"a": SNAPSHOT_CHANGE / 2})


def test_a_component_the_previous_snapshot_lacks_counts_from_zero():
    # An older snapshot without a component (one added later) compares it with 0, never raises.
    previous = _previous(components={})
    assert not _due(previous, components={"a": SNAPSHOT_CHANGE / 2})
    assert _due(previous, components={"a": 0.5})


async def _seed(runtime, clock, active: int, idle: int) -> None:
    for i in range(idle):
        await runtime.basins.upsert_basin(f"idle{i:03d}", keywords=[f"idle{i}"])
        if i % 2:
            await runtime.basins.activate_basin(f"idle{i:03d}", 0.5)
    clock.advance(6 * runtime.basins.half_life_s)  # the idle ones decay below the threshold
    for i in range(active):
        await runtime.basins.upsert_basin(f"act{i:03d}", keywords=[f"act{i}"])
        await runtime.memory.remember(f"note about act{i}") if i % 3 == 0 else None
        await runtime.basins.activate_basin(f"act{i:03d}", 0.2 + 0.01 * i)


async def test_scores_from_the_active_set_equal_scores_from_the_whole_store(runtime, clock):
    await _seed(runtime, clock, active=12, idle=30)
    clock.advance(1)
    result = await runtime.coherence.assess_coherence()
    # The same formulas over everything the store holds, filtered in Python.
    active = [v for v in await runtime.basins.current() if v.activation >= ACTIVE_THRESHOLD]
    full = score_components(active, await runtime.store.basins.links(), await runtime.store.memories.counts_by_basin(), None)
    assert result.active_count == len(active) > 0
    assert {b.name for b in result.active_basins} == {v.name for v in active}
    assert result.components == full and result.consciousness_level == combine(full)


async def test_snapshot_written_only_on_change_or_after_the_interval(runtime, clock):
    await _seed(runtime, clock, active=3, idle=0)
    await runtime.coherence.assess_coherence()  # continuity 0.5: nothing to compare with yet
    clock.advance(1)  # snapshots are ordered by time
    first = await runtime.coherence.assess_coherence()  # continuity 1.0: a change, recorded
    assert first.snapshot_written
    clock.advance(1)
    same = await runtime.coherence.assess_coherence()
    assert not same.snapshot_written and same.snapshot_id == first.snapshot_id
    assert len(await runtime.store.snapshots.recent(10)) == 2

    await runtime.basins.activate_basin("act000", 0.9)  # the level moves
    clock.advance(1)
    moved = await runtime.coherence.assess_coherence()
    assert moved.snapshot_written and moved.snapshot_id != first.snapshot_id

    clock.advance(SNAPSHOT_INTERVAL_S)  # nothing changes enough, but the latest is old now
    late = await runtime.coherence.assess_coherence()
    assert late.snapshot_written
    assert [s.id for s in await runtime.store.snapshots.recent(3)] == [late.snapshot_id, moved.snapshot_id, first.snapshot_id]


async def test_a_new_basin_in_the_active_set_is_always_recorded(runtime, clock):
    await _seed(runtime, clock, active=3, idle=0)
    await runtime.coherence.assess_coherence()
    clock.advance(1)
    await runtime.coherence.assess_coherence()
    clock.advance(1)
    await runtime.basins.upsert_basin("newcomer")
    await runtime.basins.activate_basin("newcomer", 0.11)
    result = await runtime.coherence.assess_coherence()
    assert result.snapshot_written
    latest = (await runtime.store.snapshots.recent(1))[0]
    assert len(latest.active_basin_ids) == result.active_count


async def test_a_snapshot_taken_at_the_same_instant_is_dated_after_the_one_it_follows(runtime, clock):
    # Two processes' clocks may agree to the microsecond (or the clock is still): newest by time
    # must stay newest written, so the second is dated one microsecond later.
    await _seed(runtime, clock, active=3, idle=0)
    first = await runtime.coherence.assess_coherence()
    await runtime.basins.activate_basin("act000", 0.9)  # the level moves; the clock does not
    second = await runtime.coherence.assess_coherence()
    assert first.snapshot_written and second.snapshot_written
    newest, older = await runtime.store.snapshots.recent(2)
    assert (newest.id, older.id) == (second.snapshot_id, first.snapshot_id)
    assert newest.created_at - older.created_at == timedelta(microseconds=1)


async def test_the_service_uses_its_own_snapshot_interval(runtime, clock):
    from dionysus_mcp.cognition.coherence import CoherenceService

    await _seed(runtime, clock, active=3, idle=0)
    service = CoherenceService(runtime.store.snapshots, runtime.basins, runtime.store.memories, clock=clock,
                               snapshot_interval_s=5.0)
    await service.assess_coherence()
    clock.advance(1)
    await service.assess_coherence()  # continuity settles: a change, recorded
    clock.advance(5)  # nothing changes, but the latest is older than this service's 5 s
    assert (await service.assess_coherence()).snapshot_written

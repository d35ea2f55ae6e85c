"""Contract: many writers, one store. Two stores opened on the same data (two processes sharing a
file or a database) write at once, and no update that depends on stored values is lost
(DESIGN.md "Many writers"): each read-modify-write happens inside one store transaction.

Every test runs on SQLite (two connections to one file) and on the Bolt server (two drivers on
one database). The services here are the real ones, each over its own store.
"""

from __future__ import annotations

import anyio
import pytest

from dionysus_mcp.cognition.basins import BasinService, plan_activation, saturate
from dionysus_mcp.cognition.coherence import CoherenceService
from dionysus_mcp.cognition.embedding import NoEmbedder
from dionysus_mcp.cognition.memory import UPDATE_TRIES, MemoryService
from dionysus_mcp.cognition.reindex import reindex
from dionysus_mcp.store.base import Embedding, Store, WriteConflict
from schema.models import BasinLink, Memory
from tests.contract.builders import basin, trace, ts
from schema.trace_writes import AddStep, CompleteTrace, CreateTrace
from tests.contract.builders import step

HALF_LIFE = 3600.0
NOW = ts(10)


def service(store: Store) -> BasinService:
    # A clock that stands still: decay plays no part, so the serial value is exact.
    return BasinService(store.basins, HALF_LIFE, clock=lambda: NOW)


async def test_concurrent_activations_from_two_stores_all_count(open_store):
    a, b = await open_store(), await open_store()
    await a.basins.upsert(basin("hub"))
    per_store, strength = 20, 0.05
    services = [service(a), service(b)]

    async with anyio.create_task_group() as tasks:
        for i in range(per_store * 2):
            tasks.start_soon(services[i % 2].activate_basin, "hub", strength)

    serial = 0.0
    for _ in range(per_store * 2):
        serial = saturate(serial, strength)
    stored = await b.basins.get("hub")
    assert stored.activation == pytest.approx(serial, abs=1e-9)
    assert stored.depth == pytest.approx(1 - (1 - 0.1 * strength) ** (per_store * 2), abs=1e-9)


async def test_concurrent_spreading_and_hebbian_all_count(open_store):
    """Activations of two linked basins from two stores: each spreads into the other, and each
    strengthens their link with the other as a co-active partner — read and written in one
    transaction, so the end state is that of some serial order of the same activations."""
    a, b = await open_store(), await open_store()
    for name in ("x", "y"):
        await a.basins.upsert(basin(name))
    await a.basins.set_link(BasinLink(source_id="b-x", target_id="b-y", weight=0.5))
    await service(a).activate_basin("x", 0.5)
    await service(b).activate_basin("y", 0.5)

    async with anyio.create_task_group() as tasks:
        for i in range(12):
            tasks.start_soon((service(a) if i % 2 else service(b)).activate_basin, "xy"[i % 2], 0.2)

    # Each activation raises the target by saturation and the other by a spread, both
    # monotone; a lost update would leave both below what 12 counted activations reach from
    # the same start, whatever their order: every order gives at least this.
    x, y = await b.basins.get("x"), await b.basins.get("y")
    low = 0.5
    for _ in range(6):
        low = saturate(low, 0.2)
    assert x.activation >= low - 1e-9 and y.activation >= low - 1e-9
    [link] = await b.basins.links()
    # Twelve Hebbian steps on the one x→y link, each adding to what the previous one stored.
    assert link.weight > 0.5 + 12 * 0.1 * 0.2 * 0.5 * 0.5 * 0.9


async def test_the_activation_rule_is_one_pure_function_both_stores_apply(open_store):
    """The store calls the rule on what it read inside its transaction and writes exactly the
    rule's plan: the stored values are the rule's, on every backend."""
    store = await open_store()
    for name in ("t", "n", "p"):
        await store.basins.upsert(basin(name, activation=0.4 if name == "p" else 0.0, last_activated_at=NOW))
    await store.basins.set_link(BasinLink(source_id="b-n", target_id="b-t", weight=0.8))
    seen = []

    def rule(snapshot):
        seen.append(snapshot)
        return plan_activation(snapshot, 0.6, NOW, HALF_LIFE)

    stored, plan = await store.basins.activate("t", ts(-100), 0.099999, rule)
    snapshot = seen[-1]
    assert snapshot.target.id == "b-t" and [(l.source_id, l.target_id) for l in snapshot.links] == [("b-n", "b-t")]
    assert snapshot.candidates == ["b-p"] and set(snapshot.basins) == {"b-t", "b-n", "b-p"}
    by_id = {u.basin_id: u for u in plan.updates}
    assert stored.activation == by_id["b-t"].activation == pytest.approx(0.6)
    assert (await store.basins.get("n")).activation == pytest.approx(0.6 * 0.8 * 0.5)
    assert await store.basins.links() == sorted(
        [BasinLink(source_id="b-n", target_id="b-t", weight=0.8), *plan.link_weights], key=lambda l: (l.source_id, l.target_id)
    )
    assert await store.basins.activate("nobody", ts(-100), 0.1, rule) is None


async def test_partial_upserts_from_two_stores_keep_each_others_fields(open_store):
    a, b = await open_store(), await open_store()
    sa, sb = service(a), service(b)
    await sa.upsert_basin("focus", description="first", keywords=["old"], stability=0.2)
    async with anyio.create_task_group() as tasks:
        for i in range(10):
            tasks.start_soon(lambda i=i: sa.upsert_basin("focus", description=f"d{i}"))
            tasks.start_soon(lambda i=i: sb.upsert_basin("focus", keywords=[f"k{i}"]))
        tasks.start_soon(lambda: sb.upsert_basin("focus", stability=0.9))
    stored = await a.basins.get("focus")
    assert stored.description.startswith("d") and stored.keywords[0].startswith("k") and stored.stability == 0.9


class _EditsWhileEmbedding(NoEmbedder):
    """An embedder with vectors whose first call lets another writer edit the memory — between
    update_memory's read and its write: the interleaving a second process produces."""

    name, dim = "probe-model", 3

    def __init__(self, edit, times: int = 1):
        self.edit, self.calls, self.times = edit, 0, times

    async def embed_async(self, texts):
        import numpy as np

        self.calls += 1
        if self.calls <= self.times:
            await self.edit()
        return np.ones((len(texts), 3), dtype="float32") / np.sqrt(3)


async def test_update_memory_is_a_compare_and_set_that_keeps_a_concurrent_edit(open_store):
    a, b = await open_store(), await open_store()
    await a.memories.add(Memory(id="m1", kind="semantic", content="the old text", tags=["t"], created_at=ts()))

    async def other_process_edits_importance():
        other = MemoryService(b.memories, service(b), clock=lambda: NOW)
        await other.update_memory("m1", importance=0.9)

    memories = MemoryService(a.memories, service(a), clock=lambda: NOW, embedder=_EditsWhileEmbedding(other_process_edits_importance))
    view = await memories.update_memory("m1", content="the new text")
    assert (view.content, view.importance) == ("the new text", 0.9)
    stored = await b.memories.get("m1")
    assert (stored.content, stored.importance, stored.tags) == ("the new text", 0.9, ["t"])

    # The store's half of it: a write against a stale read changes nothing.
    stale = await a.memories.get("m1")
    await b.memories.update(stale.model_copy(update={"kind": "episodic"}), keep_embedding=True)
    with pytest.raises(WriteConflict):
        await a.memories.update(stale.model_copy(update={"importance": 0.1}), keep_embedding=True, expected=stale)
    assert (await a.memories.get("m1")).model_dump() == stale.model_copy(update={"kind": "episodic"}).model_dump()


@pytest.mark.parametrize("edits", [UPDATE_TRIES - 1, UPDATE_TRIES])
async def test_update_memory_tries_again_up_to_its_limit_then_says_it_lost(open_store, edits):
    a, b = await open_store(), await open_store()
    await a.memories.add(Memory(id="m1", kind="semantic", content="the old text", created_at=ts()))
    other = MemoryService(b.memories, service(b), clock=lambda: NOW)
    importance = iter(range(1, 100))

    async def other_process_edits_again():  # a writer that edits between each read and write
        await other.update_memory("m1", importance=next(importance) / 100)

    embedder = _EditsWhileEmbedding(other_process_edits_again, times=edits)
    memories = MemoryService(a.memories, service(a), clock=lambda: NOW, embedder=embedder)
    if edits < UPDATE_TRIES:
        view = await memories.update_memory("m1", content="the new text")
        assert (view.content, view.importance) == ("the new text", edits / 100) and embedder.calls == edits + 1
    else:
        with pytest.raises(WriteConflict):
            await memories.update_memory("m1", content="the new text")
        assert embedder.calls == UPDATE_TRIES  # one read and one write per round, no more rounds
        stored = await b.memories.get("m1")
        assert (stored.content, stored.importance) == ("the old text", edits / 100)


async def test_reindex_never_overwrites_the_vector_of_a_concurrent_edit(open_store):
    a, b = await open_store(), await open_store()
    await a.memories.add(Memory(id="m1", kind="semantic", content="before the edit", created_at=ts()))
    await a.memories.add(Memory(id="m2", kind="semantic", content="untouched", created_at=ts(1)))
    edited = Embedding("probe-model", __import__("numpy").array([1.0, 0.0, 0.0], dtype="float32"))

    async def other_process_edits():
        memory = await b.memories.get("m1")
        await b.memories.update(memory.model_copy(update={"content": "after the edit"}), edited)

    result = await reindex(a.memories, _EditsWhileEmbedding(other_process_edits))
    assert result.embedded == 1  # m2; m1 was edited, with its own vector, after it was read
    found = await b.memories.search([], edited, None, 5)
    assert found.semantic[0] == ("m1", pytest.approx(1.0))
    assert await a.memories.embedding_counts() == {"probe-model": 2}


async def test_concurrent_assessments_write_the_snapshots_a_serial_order_would(open_store):
    a, b = await open_store(), await open_store()
    await a.basins.upsert(basin("calm", activation=0.8, last_activated_at=NOW))
    coherence = [CoherenceService(s.snapshots, service(s), s.memories, clock=lambda: NOW) for s in (a, b)]
    async with anyio.create_task_group() as tasks:
        for i in range(8):
            tasks.start_soon(coherence[i % 2].assess_coherence)
    # In any serial order: the first (no history: continuity 0.5), then one continuous with it
    # (continuity 1.0); the other six change nothing and write nothing.
    newest, first = await b.snapshots.recent(10)
    assert (first.components["continuity"], newest.components["continuity"]) == (0.5, 1.0)
    assert newest.active_basin_ids == first.active_basin_ids == ["b-calm"]


async def test_cancel_requests_cross_stores_and_progress_moves(open_store):
    owner, other = await open_store(), await open_store()
    await owner.traces.write([CreateTrace(trace=trace("root", ts())), CreateTrace(trace=trace("sub", ts(1), parent_id="root"))])
    await owner.traces.write([CreateTrace(trace=trace("done", ts()))])
    await owner.traces.write([CompleteTrace(trace_id="done", status="success", completed_at=ts(2), totals={})])
    seen = [await other.lifecycle.progress(["root", "done", "nope"])]
    assert set(seen[0]) == {"root", "done"}

    assert await owner.lifecycle.cancel_requested(["root", "done"]) == []
    assert await other.lifecycle.request_cancel("root", ts(3)) is True
    assert await other.lifecycle.request_cancel("root", ts(4)) is True  # asked twice: still one request
    assert await other.lifecycle.request_cancel("done", ts(3)) is False  # it has ended: nothing to cancel
    assert await other.lifecycle.request_cancel("nope", ts(3)) is False
    assert await owner.lifecycle.cancel_requested(["root", "done", "sub"]) == ["root"]

    for write in (AddStep(step=step("root", 1)), AddStep(step=step("sub", 1)),
                  CompleteTrace(trace_id="sub", status="success", completed_at=ts(5), totals={}),
                  CompleteTrace(trace_id="root", status="cancelled", completed_at=ts(6), totals={})):
        await owner.traces.write([write])
        now = await other.lifecycle.progress(["root"])
        assert now["root"] != seen[-1]["root"], write
        seen.append(now)
    assert seen[-1]["root"].startswith("cancelled:")
    assert (await other.lifecycle.progress(["done"]))["done"] == seen[0]["done"]
    assert await owner.traces.delete(["root"]) == {"traces": 2, "steps": 2}
    assert await other.lifecycle.cancel_requested(["root"]) == []


async def test_basin_revision_moves_with_activations_and_deletions(open_store):
    a, b = await open_store(), await open_store()
    await a.basins.upsert(basin("zero"))
    seen = [await b.basins.revision()]
    for write in (lambda: a.basins.upsert(basin("one")), lambda: service(a).activate_basin("one", 0.3),
                  lambda: a.basins.delete("b-one")):
        await write()
        seen.append(await b.basins.revision())
    assert all(before != after for before, after in zip(seen, seen[1:])), seen


async def test_import_adds_only_what_is_absent(open_store):
    a, b = await open_store(), await open_store()
    await a.basins.upsert(basin("kept", description="the target's own"))
    stored, added = await b.basins.add_if_absent(basin("kept", bid="b-other", description="imported"))
    assert (added, stored.id, stored.description) == (False, "b-kept", "the target's own")
    stored, added = await b.basins.add_if_absent(basin("new"))
    assert added and await a.basins.get("new") == stored
    assert await a.basins.add_link_if_absent(BasinLink(source_id="b-kept", target_id="b-new", weight=0.3)) is True
    assert await b.basins.add_link_if_absent(BasinLink(source_id="b-kept", target_id="b-new", weight=0.9)) is False
    assert [l.weight for l in await b.basins.links()] == [0.3]

"""One contract suite for every store backend: same inputs, same outputs.

Each test runs once per backend (see conftest.py). It pins the behaviour the services rely on
and that could differ between backends: exact round-trips (timestamps to the microsecond,
nested values decoded and typed), upsert and idempotency rules, atomicity, ordering, filters
and keyset pagination.

Behaviour fixed here where the interface leaves room:
- cognition writes are strict: a memory, activation or link that refers to a basin that does
  not exist, or a second record with an existing id (memory, wisdom, snapshot), raises
  `StoreError` and stores nothing;
- trace writes are tolerant (the outbox replays them): creating an existing trace is a no-op,
  a step or child written before its trace is found once the trace exists, and
  `link_trace_basin` to a basin that does not exist is ignored;
- a memory's basin links come back ordered by basin_id.
"""

from __future__ import annotations

import asyncio
import random
from datetime import datetime, timedelta, timezone

import pytest

from dionysus_mcp.store.base import Store, StoreError
from schema.models import (
    ActivationUpdate,
    Basin,
    BasinLink,
    CoherenceSnapshot,
    Memory,
    MemoryBasin,
    StepRecord,
    ToolCallRecord,
    TraceBasinLink,
    TraceFilter,
    TraceRecord,
    WisdomPrinciple,
)

UTC = timezone.utc
T0 = datetime(2026, 3, 4, 5, 6, 7, 123456, tzinfo=UTC)


def ts(seconds: float = 0, micro: int = 0) -> datetime:
    return T0 + timedelta(seconds=seconds, microseconds=micro)


def basin(name: str, bid: str | None = None, **kw) -> Basin:
    return Basin(id=bid or f"b-{name}", name=name, created_at=kw.pop("created_at", ts()), **kw)


def trace(tid: str, started: datetime, **kw) -> TraceRecord:
    kw.setdefault("run_id", f"run-{tid}")
    kw.setdefault("agent_name", "heartbeat")
    return TraceRecord(id=tid, started_at=started, **kw)


def step(trace_id: str, number: int, step_type: str = "action", **kw) -> StepRecord:
    return StepRecord(
        id=f"{trace_id}:{step_type}:{number}", trace_id=trace_id, step_number=number, step_type=step_type, **kw
    )


HOSTILE = [
    "it's \"quoted\" `back` \\ slash",
    "'); DROP TABLE traces; --",
    "\"; DROP TABLE basins; /*",
    "}) DETACH DELETE n //",
    "MATCH (n) DETACH DELETE n RETURN $password {x: 1}",
    "ünïcödé — 日本語 — עברית — 🧠🌀 — e\u0301 — \u2028\u2029",
    "tab\there\r\nnew line\n",
    "%s %d {0} ${x} $1 ? :name",
    "",
    " leading and trailing spaces ",
]


# --- lifecycle -----------------------------------------------------------------------------------


async def test_new_store_is_empty_and_schema_is_idempotent(store: Store):
    assert isinstance(await store.describe(), str) and await store.describe()
    first = await store.apply_schema()
    second = await store.apply_schema()
    assert first and first == second
    assert await store.list_basins() == []
    assert await store.list_links() == []
    assert await store.list_memories() == []
    assert await store.list_wisdom() == []
    assert await store.recent_snapshots(10) == []
    assert await store.count_traces() == 0
    assert await store.list_traces(TraceFilter(), 10) == []
    assert await store.token_totals(TraceFilter()) == []
    assert await store.basin_memory_counts() == {}
    stats = await store.memory_stats()
    assert (stats.total, stats.by_kind) == (0, {})


async def test_data_survives_a_second_store_on_the_same_data(store: Store, open_store):
    b = await store.upsert_basin(basin("focus", keywords=["a"]))
    await store.create_trace(trace("t1", ts()))
    other = await open_store()
    assert await other.get_basin("focus") == b
    assert await other.get_trace("t1") == trace("t1", ts())


# --- basins --------------------------------------------------------------------------------------


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
    assert await store.upsert_basin(full) == full
    assert await store.upsert_basin(bare) == bare
    assert await store.get_basin("b-curiosity") == full
    assert await store.get_basin("curiosity") == full
    assert (await store.get_basin("bare")).last_activated_at is None
    assert await store.get_basin("nope") is None
    got = await store.get_basin("curiosity")
    assert got.created_at.tzinfo is not None and got.created_at.utcoffset() == timedelta(0)


async def test_upsert_basin_by_name_keeps_identity_and_state(store: Store):
    original = await store.upsert_basin(
        basin("focus", description="old", keywords=["x"], activation=0.8, stability=0.3, depth=2.0,
              last_activated_at=ts(5), created_at=ts(1))
    )
    updated = await store.upsert_basin(
        Basin(id="other-id", name="focus", description="new", keywords=["y", "z"], activation=0.0,
              stability=0.9, depth=0.0, last_activated_at=None, created_at=ts(99))
    )
    expected = original.model_copy(update={"description": "new", "keywords": ["y", "z"], "stability": 0.9})
    assert updated == expected
    assert await store.get_basin("focus") == expected
    assert await store.get_basin("other-id") is None
    assert await store.list_basins() == [expected]


async def test_list_basins_ordered_by_name(store: Store):
    for name in ["mango", "apple", "Zebra", "kiwi"]:
        await store.upsert_basin(basin(name))
    assert [b.name for b in await store.list_basins()] == ["Zebra", "apple", "kiwi", "mango"]


async def test_links_create_replace_and_order(store: Store):
    for name in "abc":
        await store.upsert_basin(basin(name))
    assert await store.set_link(BasinLink(source_id="b-b", target_id="b-a", weight=0.5)) == BasinLink(
        source_id="b-b", target_id="b-a", weight=0.5
    )
    await store.set_link(BasinLink(source_id="b-a", target_id="b-c", weight=0.25))
    await store.set_link(BasinLink(source_id="b-a", target_id="b-b", weight=0.125))
    replaced = await store.set_link(BasinLink(source_id="b-b", target_id="b-a", weight=0.75))
    assert replaced.weight == 0.75
    assert await store.list_links() == [
        BasinLink(source_id="b-a", target_id="b-b", weight=0.125),
        BasinLink(source_id="b-a", target_id="b-c", weight=0.25),
        BasinLink(source_id="b-b", target_id="b-a", weight=0.75),
    ]


async def test_link_to_unknown_basin_raises_and_stores_nothing(store: Store):
    await store.upsert_basin(basin("a"))
    with pytest.raises(StoreError):
        await store.set_link(BasinLink(source_id="b-a", target_id="b-missing", weight=0.5))
    with pytest.raises(StoreError):
        await store.set_link(BasinLink(source_id="b-missing", target_id="b-a", weight=0.5))
    assert await store.list_links() == []


async def test_apply_activation_updates_basins_and_links(store: Store):
    a = await store.upsert_basin(basin("a", stability=0.4))
    b = await store.upsert_basin(basin("b"))
    await store.set_link(BasinLink(source_id="b-a", target_id="b-b", weight=0.1))
    await store.apply_activation(
        [
            ActivationUpdate(basin_id="b-a", activation=0.9, depth=1.5, last_activated_at=ts(10, 7)),
            ActivationUpdate(basin_id="b-b", activation=0.3, depth=0.25, last_activated_at=ts(10, 8)),
        ],
        [
            BasinLink(source_id="b-a", target_id="b-b", weight=0.2),  # existing: replaced
            BasinLink(source_id="b-b", target_id="b-a", weight=0.05),  # new: created
        ],
    )
    assert await store.get_basin("a") == a.model_copy(
        update={"activation": 0.9, "depth": 1.5, "last_activated_at": ts(10, 7)}
    )
    assert await store.get_basin("b") == b.model_copy(
        update={"activation": 0.3, "depth": 0.25, "last_activated_at": ts(10, 8)}
    )
    assert await store.list_links() == [
        BasinLink(source_id="b-a", target_id="b-b", weight=0.2),
        BasinLink(source_id="b-b", target_id="b-a", weight=0.05),
    ]
    await store.apply_activation([], [])  # nothing to do is fine


async def test_apply_activation_is_atomic(store: Store):
    a = await store.upsert_basin(basin("a"))
    with pytest.raises(StoreError):
        await store.apply_activation(
            [ActivationUpdate(basin_id="b-a", activation=0.9, depth=1.0, last_activated_at=ts(1))],
            [BasinLink(source_id="b-a", target_id="b-missing", weight=0.5)],
        )
    assert await store.get_basin("a") == a
    assert await store.list_links() == []


# --- memories ------------------------------------------------------------------------------------


async def test_memory_round_trip_and_order(store: Store):
    for name in ("x", "y"):
        await store.upsert_basin(basin(name))
    linked = Memory(
        id="m2", kind="episodic", content="saw a fox", tags=["fox", "forest"], importance=0.875,
        created_at=ts(1, 1), basins=[MemoryBasin(basin_id="b-x", weight=0.5), MemoryBasin(basin_id="b-y", weight=1.0)],
    )
    plain = Memory(id="m1", kind="semantic", content="foxes are canids", created_at=ts(1, 1))
    early = Memory(id="m9", kind="episodic", content="dawn", created_at=ts(0, 999_999))
    assert await store.add_memory(linked) == linked
    assert await store.add_memory(plain) == plain
    assert await store.add_memory(early) == early
    # ordered by (created_at, id): same timestamp falls back to id
    assert await store.list_memories() == [early, plain, linked]
    assert await store.list_memories(["episodic"]) == [early, linked]
    assert await store.list_memories(["semantic", "procedural"]) == [plain]
    assert await store.list_memories([]) == []


async def test_memory_basins_come_back_ordered_by_basin_id(store: Store):
    for name in ("c", "a", "b"):
        await store.upsert_basin(basin(name))
    links = [MemoryBasin(basin_id=f"b-{n}", weight=w) for n, w in (("c", 0.3), ("a", 0.1), ("b", 0.2))]
    stored = await store.add_memory(Memory(id="m", kind="k", content="c", created_at=ts(), basins=links))
    expected = sorted(links, key=lambda mb: mb.basin_id)
    assert stored.basins == expected
    assert (await store.list_memories())[0].basins == expected


async def test_add_memory_with_unknown_basin_raises_and_stores_nothing(store: Store):
    await store.upsert_basin(basin("x"))
    before = await store.memory_stats()
    bad = Memory(
        id="m1", kind="episodic", content="orphan", created_at=ts(),
        basins=[MemoryBasin(basin_id="b-x", weight=1.0), MemoryBasin(basin_id="b-missing", weight=1.0)],
    )
    with pytest.raises(StoreError):
        await store.add_memory(bad)
    assert await store.list_memories() == []
    assert await store.basin_memory_counts() == {}
    assert await store.memory_stats() == before
    # the id is still free: the failed write left nothing behind
    good = bad.model_copy(update={"basins": [MemoryBasin(basin_id="b-x", weight=1.0)]})
    assert await store.add_memory(good) == good


async def test_add_memory_with_existing_id_raises_and_keeps_the_first(store: Store):
    first = Memory(id="m1", kind="episodic", content="first", created_at=ts())
    await store.add_memory(first)
    with pytest.raises(StoreError):
        await store.add_memory(first.model_copy(update={"content": "second", "kind": "semantic"}))
    assert await store.list_memories() == [first]


async def test_memory_stats_revision_and_basin_counts(store: Store, open_store):
    await store.upsert_basin(basin("x"))
    await store.upsert_basin(basin("y"))
    await store.upsert_basin(basin("unused"))
    seen = {(await store.memory_stats()).revision}
    kinds = ["episodic", "semantic", "episodic", "procedural", "episodic"]
    for i, kind in enumerate(kinds):
        links = [MemoryBasin(basin_id="b-x", weight=0.5)] + ([MemoryBasin(basin_id="b-y", weight=0.5)] if i % 2 else [])
        await store.add_memory(Memory(id=f"m{i}", kind=kind, content=str(i), created_at=ts(i), basins=links))
        stats = await store.memory_stats()
        assert stats.revision not in seen, "revision must change with every added memory"
        seen.add(stats.revision)
        assert stats == await store.memory_stats(), "revision must be stable while nothing changes"
    stats = await store.memory_stats()
    assert stats.total == 5
    assert stats.by_kind == {"episodic": 3, "procedural": 1, "semantic": 1}
    assert await store.basin_memory_counts() == {"b-x": 5, "b-y": 2}
    # another store on the same data (another process) sees the same revision, and notices writes
    other = await open_store()
    assert (await other.memory_stats()).revision == stats.revision
    await store.add_memory(Memory(id="m-late", kind="episodic", content="late", created_at=ts(-100)))
    assert (await other.memory_stats()).revision != stats.revision


# --- wisdom and coherence snapshots --------------------------------------------------------------


async def test_wisdom_round_trip_and_order(store: Store):
    later = WisdomPrinciple(id="w1", text="Slow is smooth.", domain="practice", confidence=0.9, created_at=ts(5))
    same_b = WisdomPrinciple(id="wb", text="b", domain="d", confidence=0.5, created_at=ts(1))
    same_a = WisdomPrinciple(id="wa", text="a", domain="d", confidence=1.0 / 7.0, created_at=ts(1))
    for p in (later, same_b, same_a):
        assert await store.add_wisdom(p) == p
    assert await store.list_wisdom() == [same_a, same_b, later]
    with pytest.raises(StoreError):
        await store.add_wisdom(later.model_copy(update={"text": "dup"}))
    assert await store.list_wisdom() == [same_a, same_b, later]


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
        await store.add_snapshot(s)
    newest_first = sorted(snaps, key=lambda s: (s.created_at, s.id), reverse=True)
    assert await store.recent_snapshots(100) == newest_first
    assert await store.recent_snapshots(2) == newest_first[:2]
    assert await store.recent_snapshots(0) == []
    with pytest.raises(StoreError):
        await store.add_snapshot(snaps[0])


# --- execution traces ----------------------------------------------------------------------------


async def test_trace_round_trip(store: Store):
    full = TraceRecord(
        id="t-full", run_id="run-1", agent_name="perception", parent_id="t-parent", parent_step=3,
        model="scripted", task="observe the room", status="success", summary="done", error="minor",
        started_at=datetime(2026, 3, 4, 10, 0, 0, 1, tzinfo=timezone(timedelta(hours=5, minutes=30))),
        completed_at=ts(100, 999_999), input_tokens=2**40, output_tokens=7, pruned_tokens_saved=3, step_count=4,
        metadata={"nested": {"list": [1, 2.5, "three", None, True]}, "empty": {}, "n": 0},
    )
    minimal = trace("t-min", ts())
    await store.create_trace(full)
    await store.create_trace(minimal)
    got = await store.get_trace("t-full")
    assert got == full
    assert got.started_at.utcoffset() == timedelta(0)  # comes back in UTC, same instant
    assert await store.get_trace("t-min") == minimal
    assert await store.get_trace("t-none") is None
    assert await store.count_traces() == 2


async def test_create_trace_twice_is_a_noop(store: Store):
    original = trace("t1", ts(), task="first")
    await store.create_trace(original)
    await store.create_trace(original.model_copy(update={"task": "second", "agent_name": "other", "started_at": ts(9)}))
    await store.create_trace(original)
    assert await store.get_trace("t1") == original
    assert await store.count_traces() == 1


async def test_complete_trace(store: Store):
    original = trace("t1", ts(), model="m", task="t", metadata={"k": "v"})
    await store.create_trace(original)
    await store.complete_trace(
        "t1", "error", ts(30, 5), "summary text", "boom",
        {"input_tokens": 100, "output_tokens": 20, "pruned_tokens_saved": 7, "step_count": 3},
    )
    assert await store.get_trace("t1") == original.model_copy(
        update={"status": "error", "completed_at": ts(30, 5), "summary": "summary text", "error": "boom",
                "input_tokens": 100, "output_tokens": 20, "pruned_tokens_saved": 7, "step_count": 3}
    )
    await store.complete_trace("t1", "success", ts(31), None, None, {"input_tokens": 1, "output_tokens": 2,
                                                                     "pruned_tokens_saved": 0, "step_count": 1})
    got = await store.get_trace("t1")
    assert (got.status, got.completed_at, got.summary, got.error) == ("success", ts(31), None, None)
    assert (got.input_tokens, got.output_tokens, got.pruned_tokens_saved, got.step_count) == (1, 2, 0, 1)
    await store.complete_trace("t-unknown", "success", ts(1), None, None, {})  # no-op, no error
    assert await store.get_trace("t-unknown") is None


async def test_step_round_trip_and_replace(store: Store):
    await store.create_trace(trace("t1", ts()))
    full = step(
        "t1", 2, "action", started_at=ts(1, 1), completed_at=ts(2, 2), duration_ms=1001.5,
        model_output="thinking…", code_action="print('hi')",
        tool_calls=[
            ToolCallRecord(id="c1", name="semantic_recall", arguments={"query": "fox", "limit": 3, "opts": {"a": [1, None]}}),
            ToolCallRecord(id="c2", name="final_answer", arguments="plain string"),
            ToolCallRecord(id="c3", name="noop", arguments=None),
            ToolCallRecord(id="c4", name="list", arguments=[1, "two", {"three": 3.0}]),
        ],
        observations="obs", plan=None, error="err", final_answer=None,
        input_tokens=120, output_tokens=30, unpruned_input_tokens=150,
    )
    await store.add_step(full)
    assert await store.get_steps("t1") == [full]
    replaced = full.model_copy(update={"observations": "[PRUNED] obs", "tool_calls": [], "error": None, "input_tokens": 90})
    await store.add_step(replaced)
    await store.add_step(replaced)
    assert await store.get_steps("t1") == [replaced]
    assert await store.get_steps("t-none") == []


async def test_steps_ordered_by_number_then_type(store: Store):
    await store.create_trace(trace("t1", ts()))
    expected = [
        step("t1", 0, "task"),
        step("t1", 1, "planning", plan="p1"),
        step("t1", 1, "action"),
        step("t1", 2, "action"),
        step("t1", 3, "planning"),
        step("t1", 3, "action"),
        step("t1", 3, "final_answer", final_answer="42"),
        step("t1", 10, "action"),
    ]
    for s in random.Random(7).sample(expected, len(expected)):
        await store.add_step(s)
    await store.add_step(step("t2", 1, "action"))  # another trace's step stays out
    assert await store.get_steps("t1") == expected


async def test_step_and_child_written_before_their_trace_are_found(store: Store):
    # outbox replays may deliver writes out of the usual order
    early_step = step("t-late", 1, "action", observations="early")
    await store.add_step(early_step)
    child = trace("t-child", ts(5), parent_id="t-late", parent_step=1, agent_name="reasoning")
    await store.create_trace(child)
    await store.create_trace(trace("t-late", ts()))
    assert await store.get_steps("t-late") == [early_step]
    assert await store.get_children("t-late") == [child]


async def test_children_ordered_by_start(store: Store):
    parent = trace("p", ts())
    await store.create_trace(parent)
    kids = [
        trace("c-b", ts(2), parent_id="p", parent_step=1, agent_name="perception"),
        trace("c-a", ts(2), parent_id="p", parent_step=1, agent_name="reasoning"),
        trace("c-0", ts(1), parent_id="p", parent_step=1, agent_name="metacognition"),
    ]
    for k in kids:
        await store.create_trace(k)
    await store.create_trace(trace("grandchild", ts(3), parent_id="c-a", parent_step=2))
    assert await store.get_children("p") == [kids[2], kids[1], kids[0]]
    assert [c.id for c in await store.get_children("c-a")] == ["grandchild"]
    assert await store.get_children("grandchild") == []


async def test_trace_basin_links(store: Store):
    await store.upsert_basin(basin("zeta", bid="b1"))
    await store.upsert_basin(basin("alpha", bid="b2"))
    await store.create_trace(trace("t1", ts()))
    await store.create_trace(trace("t2", ts()))
    await store.link_trace_basin(TraceBasinLink(trace_id="t1", basin_id="b1", strength=0.5, at_step=2))
    await store.link_trace_basin(TraceBasinLink(trace_id="t1", basin_id="b1", strength=0.5, at_step=2))
    await store.link_trace_basin(TraceBasinLink(trace_id="t1", basin_id="b1", strength=0.25, at_step=1))
    await store.link_trace_basin(TraceBasinLink(trace_id="t1", basin_id="b2", strength=0.75, at_step=2, basin_name="ignored"))
    await store.link_trace_basin(TraceBasinLink(trace_id="t2", basin_id="b2", strength=1.0, at_step=1))
    # a basin that does not exist: ignored, no error (trace writes are replayed, never wedge)
    await store.link_trace_basin(TraceBasinLink(trace_id="t1", basin_id="b-missing", strength=1.0, at_step=1))
    assert await store.get_trace_basins("t1") == [
        TraceBasinLink(trace_id="t1", basin_id="b1", basin_name="zeta", strength=0.25, at_step=1),
        TraceBasinLink(trace_id="t1", basin_id="b2", basin_name="alpha", strength=0.75, at_step=2),
        TraceBasinLink(trace_id="t1", basin_id="b1", basin_name="zeta", strength=0.5, at_step=2),
    ]
    # the same (trace, basin, at_step) again is stored once, with the latest strength
    await store.link_trace_basin(TraceBasinLink(trace_id="t1", basin_id="b1", strength=0.9, at_step=2))
    links = await store.get_trace_basins("t1")
    assert [(tb.basin_id, tb.at_step, tb.strength) for tb in links] == [("b1", 1, 0.25), ("b2", 2, 0.75), ("b1", 2, 0.9)]
    assert await store.get_trace_basins("t-none") == []


async def _many_traces(store: Store) -> list[TraceRecord]:
    """25 traces over three agents; pairs share a started_at so the id breaks ties."""
    traces = []
    for i in range(25):
        traces.append(
            trace(
                f"t{i:02d}",
                ts(i // 2 * 10, 1),
                agent_name=["heartbeat", "perception", "reasoning"][i % 3],
                model=["scripted", "openai:gpt"][i % 2],
                status=["success", "error", "running", "max_steps"][i % 4],
                parent_id=None if i < 15 else f"t{i - 15:02d}",
                parent_step=None if i < 15 else 1,
                input_tokens=i * 10,
                output_tokens=i,
                pruned_tokens_saved=i % 5,
            )
        )
    for t in random.Random(11).sample(traces, len(traces)):
        await store.create_trace(t)
    return traces


def _newest_first(traces: list[TraceRecord]) -> list[TraceRecord]:
    return sorted(traces, key=lambda t: (t.started_at, t.id), reverse=True)


async def test_list_traces_pages_newest_first_each_exactly_once(store: Store):
    traces = await _many_traces(store)
    pages, after = [], None
    for _ in range(10):  # bounded: a cursor that does not advance must fail, not loop forever
        page = await store.list_traces(TraceFilter(), 10, after)
        if not page:
            break
        pages.append(page)
        after = (page[-1].started_at, page[-1].id)
    assert [len(p) for p in pages] == [10, 10, 5]
    assert [t for p in pages for t in p] == _newest_first(traces)
    assert await store.count_traces() == 25
    assert await store.list_traces(TraceFilter(), 0) == []


async def test_list_traces_filters(store: Store):
    traces = await _many_traces(store)

    async def ids(flt: TraceFilter, limit: int = 100, after=None) -> list[str]:
        return [t.id for t in await store.list_traces(flt, limit, after)]

    def expect(pred) -> list[str]:
        return [t.id for t in _newest_first(traces) if pred(t)]

    assert await ids(TraceFilter(agent_name="perception")) == expect(lambda t: t.agent_name == "perception")
    assert await ids(TraceFilter(status="error")) == expect(lambda t: t.status == "error")
    assert await ids(TraceFilter(since=ts(30, 1))) == expect(lambda t: t.started_at >= ts(30, 1))  # inclusive
    assert await ids(TraceFilter(until=ts(30, 1))) == expect(lambda t: t.started_at <= ts(30, 1))  # inclusive
    assert await ids(TraceFilter(since=ts(30, 1), until=ts(50, 1))) == expect(lambda t: ts(30, 1) <= t.started_at <= ts(50, 1))
    assert await ids(TraceFilter(parent_id="t03")) == ["t18"]
    assert await ids(TraceFilter(roots_only=True)) == expect(lambda t: t.parent_id is None)
    assert await ids(TraceFilter(agent_name="heartbeat", roots_only=True, status="success")) == expect(
        lambda t: t.agent_name == "heartbeat" and t.parent_id is None and t.status == "success"
    )
    assert await ids(TraceFilter(agent_name="nobody")) == []
    # filter + keyset pagination together
    roots = expect(lambda t: t.parent_id is None)
    first = await store.list_traces(TraceFilter(roots_only=True), 4)
    rest = await ids(TraceFilter(roots_only=True), 100, (first[-1].started_at, first[-1].id))
    assert [t.id for t in first] + rest == roots


async def test_token_totals(store: Store):
    traces = await _many_traces(store)

    def expected(pred) -> list[dict]:
        groups: dict[tuple[str, str], dict] = {}
        for t in traces:
            if not pred(t):
                continue
            g = groups.setdefault(
                (t.agent_name, t.model),
                {"agent_name": t.agent_name, "model": t.model, "runs": 0, "input_tokens": 0, "output_tokens": 0,
                 "pruned_tokens_saved": 0},
            )
            g["runs"] += 1
            g["input_tokens"] += t.input_tokens
            g["output_tokens"] += t.output_tokens
            g["pruned_tokens_saved"] += t.pruned_tokens_saved
        return [groups[k] for k in sorted(groups)]

    assert await store.token_totals(TraceFilter()) == expected(lambda t: True)
    assert await store.token_totals(TraceFilter(agent_name="reasoning")) == expected(lambda t: t.agent_name == "reasoning")
    assert await store.token_totals(TraceFilter(since=ts(60, 1), roots_only=True)) == expected(
        lambda t: t.started_at >= ts(60, 1) and t.parent_id is None
    )
    assert await store.token_totals(TraceFilter(agent_name="nobody")) == []
    # completing a trace changes its totals
    await store.complete_trace("t00", "success", ts(999), None, None,
                               {"input_tokens": 5000, "output_tokens": 1, "pruned_tokens_saved": 9, "step_count": 2})
    row = next(r for r in await store.token_totals(TraceFilter(agent_name="heartbeat")) if r["model"] == "scripted")
    assert row["input_tokens"] == sum(t.input_tokens for t in traces if (t.agent_name, t.model) == ("heartbeat", "scripted")) + 5000


# --- hostile input, concurrency ------------------------------------------------------------------


async def test_hostile_strings_round_trip_unchanged(store: Store):
    big = ("0123456789abcdef'\"}) DETACH DELETE n // ünï 🧠\n" * 2200)[:100_000]
    assert len(big) == 100_000
    values = HOSTILE + [big]
    for i, text in enumerate(values):
        name = f"{text[:200]}#{i}"
        b = basin(name, bid=f"{text[:50]}|id{i}", description=text, keywords=[text, name, ""])
        assert await store.upsert_basin(b) == b
        assert await store.get_basin(name) == b
        assert await store.get_basin(b.id) == b
        m = Memory(id=f"m{i}:{text[:40]}", kind=text[:60] or "empty", content=text, tags=[text, "ok"],
                   created_at=ts(i), basins=[MemoryBasin(basin_id=b.id, weight=0.5)])
        assert await store.add_memory(m) == m
        assert await store.list_memories([m.kind]) == [m]
        w = WisdomPrinciple(id=f"w{i}{text[:30]}", text=text, domain=text[:80], confidence=0.5, created_at=ts(i))
        assert await store.add_wisdom(w) == w
        s = CoherenceSnapshot(id=f"s{i}", created_at=ts(i), consciousness_level=0.5, status="ok",
                              components={text[:100]: 0.5}, active_basin_ids=[b.id])
        await store.add_snapshot(s)
        assert (await store.recent_snapshots(1))[0] == s
        t = trace(f"t{i}{text[:30]}", ts(i), agent_name=f"agent {text[:100]}", model=text[:50], task=text,
                  summary=text, error=text, metadata={text[:100]: text, "list": [text]})
        await store.create_trace(t)
        assert await store.get_trace(t.id) == t
        assert await store.list_traces(TraceFilter(agent_name=t.agent_name), 5) == [t]
        st = step(t.id, 1, "action", model_output=text, code_action=text, observations=text, plan=text, error=text,
                  final_answer=text, tool_calls=[ToolCallRecord(id=text[:20], name=text[:40], arguments={text[:100]: [text]})])
        await store.add_step(st)
        assert await store.get_steps(t.id) == [st]
        await store.link_trace_basin(TraceBasinLink(trace_id=t.id, basin_id=b.id, strength=0.5, at_step=1))
        assert [tb.basin_name for tb in await store.get_trace_basins(t.id)] == [name]
    # nothing was dropped or altered by any of it
    assert len(await store.list_basins()) == len(values)
    assert len(await store.list_memories()) == len(values)
    assert await store.count_traces() == len(values)


async def test_concurrent_writes_from_many_tasks(store: Store):
    await store.upsert_basin(basin("shared"))

    async def run(i: int) -> None:
        tid = f"t{i:03d}"
        await store.create_trace(trace(tid, ts(i)))
        await store.add_step(step(tid, 1, "action", observations=str(i)))
        await store.add_memory(Memory(id=f"m{i:03d}", kind="episodic", content=str(i), created_at=ts(i),
                                      basins=[MemoryBasin(basin_id="b-shared", weight=0.5)]))
        await store.link_trace_basin(TraceBasinLink(trace_id=tid, basin_id="b-shared", strength=0.5, at_step=1))

    await asyncio.gather(*(run(i) for i in range(30)))
    assert await store.count_traces() == 30
    assert (await store.memory_stats()).total == 30
    assert await store.basin_memory_counts() == {"b-shared": 30}
    for i in (0, 17, 29):
        assert [s.observations for s in await store.get_steps(f"t{i:03d}")] == [str(i)]

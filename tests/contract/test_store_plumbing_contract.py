"""Contract: what every backend does whatever the aggregate: open and schema, a second store
on the same data, hostile strings stored unchanged, concurrent writers.
"""

from __future__ import annotations

import asyncio

from dionysus_mcp.store.base import Store
from schema.models import (
    CoherenceSnapshot,
    Memory,
    MemoryBasin,
    ToolCallRecord,
    TraceBasinLink,
    TraceFilter,
    WisdomPrinciple,
)
from tests.contract.builders import basin, step, trace, ts
from schema.trace_writes import AddStep, CreateTrace, LinkTraceBasin


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
    assert await store.basins.list() == []
    assert await store.basins.links() == []
    assert await store.memories.list() == []
    assert await store.wisdom.list() == []
    assert await store.snapshots.recent(10) == []
    assert await store.traces.count() == 0
    assert await store.traces.list(TraceFilter(), 10) == []
    assert await store.traces.token_totals(TraceFilter()) == []
    assert await store.memories.counts_by_basin() == {}
    stats = await store.memories.stats()
    assert (stats.total, stats.by_kind) == (0, {})


async def test_data_survives_a_second_store_on_the_same_data(store: Store, open_store):
    b = await store.basins.upsert(basin("focus", keywords=["a"]))
    await store.traces.write([CreateTrace(trace=trace("t1", ts()))])
    other = await open_store()
    assert await other.basins.get("focus") == b
    assert await other.traces.get("t1") == trace("t1", ts())


# --- hostile input, concurrency ------------------------------------------------------------------


async def test_hostile_strings_round_trip_unchanged(store: Store):
    big = ("0123456789abcdef'\"}) DETACH DELETE n // ünï 🧠\n" * 2200)[:100_000]
    assert len(big) == 100_000
    values = HOSTILE + [big]
    for i, text in enumerate(values):
        name = f"{text[:200]}#{i}"
        b = basin(name, bid=f"{text[:50]}|id{i}", description=text, keywords=[text, name, ""])
        assert await store.basins.upsert(b) == b
        assert await store.basins.get(name) == b
        assert await store.basins.get(b.id) == b
        m = Memory(id=f"m{i}:{text[:40]}", kind=text[:60] or "empty", content=text, tags=[text, "ok"],
                   created_at=ts(i), basins=[MemoryBasin(basin_id=b.id, weight=0.5)])
        assert await store.memories.add(m) == m
        assert await store.memories.list([m.kind]) == [m]
        w = WisdomPrinciple(id=f"w{i}{text[:30]}", text=text, domain=text[:80], confidence=0.5, created_at=ts(i))
        assert await store.wisdom.add(w) == w
        s = CoherenceSnapshot(id=f"s{i}", created_at=ts(i), consciousness_level=0.5, status="ok",
                              components={text[:100]: 0.5}, active_basin_ids=[b.id])
        await store.snapshots.add(s)
        assert (await store.snapshots.recent(1))[0] == s
        t = trace(f"t{i}{text[:30]}", ts(i), agent_name=f"agent {text[:100]}", model=text[:50], task=text,
                  summary=text, error=text, metadata={text[:100]: text, "list": [text]})
        await store.traces.write([CreateTrace(trace=t)])
        assert await store.traces.get(t.id) == t
        assert await store.traces.list(TraceFilter(agent_name=t.agent_name), 5) == [t]
        st = step(t.id, 1, "action", model_output=text, code_action=text, observations=text, plan=text, error=text,
                  final_answer=text, tool_calls=[ToolCallRecord(id=text[:20], name=text[:40], arguments={text[:100]: [text]})])
        await store.traces.write([AddStep(step=st)])
        assert await store.traces.steps(t.id) == [st]
        await store.traces.write([LinkTraceBasin(link=TraceBasinLink(trace_id=t.id, basin_id=b.id, strength=0.5, at_step=1))])
        assert [tb.basin_name for tb in await store.traces.basins(t.id)] == [name]
    # nothing was dropped or altered by any of it
    assert len(await store.basins.list()) == len(values)
    assert len(await store.memories.list()) == len(values)
    assert await store.traces.count() == len(values)


async def test_concurrent_writes_from_many_tasks(store: Store):
    await store.basins.upsert(basin("shared"))

    async def run(i: int) -> None:
        tid = f"t{i:03d}"
        await store.traces.write([CreateTrace(trace=trace(tid, ts(i)))])
        await store.traces.write([AddStep(step=step(tid, 1, "action", observations=str(i)))])
        await store.memories.add(Memory(id=f"m{i:03d}", kind="episodic", content=str(i), created_at=ts(i),
                                      basins=[MemoryBasin(basin_id="b-shared", weight=0.5)]))
        await store.traces.write([LinkTraceBasin(link=TraceBasinLink(trace_id=tid, basin_id="b-shared", strength=0.5, at_step=1))])

    await asyncio.gather(*(run(i) for i in range(30)))
    assert await store.traces.count() == 30
    assert (await store.memories.stats()).total == 30
    assert await store.memories.counts_by_basin() == {"b-shared": 30}
    for i in (0, 17, 29):
        assert [s.observations for s in await store.traces.steps(f"t{i:03d}")] == [str(i)]

"""Contract: execution traces and their steps, children, basin links, filters, keyset pagination
and token totals, the same on every backend.

Trace writes are tolerant (the outbox replays them): creating an existing trace is a no-op, a
step or child written before its trace is found once the trace exists, and `link_trace_basin`
to a basin that does not exist is ignored.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

from dionysus_mcp.store.base import Store
from schema.models import ToolCallRecord, TraceBasinLink, TraceFilter, TraceRecord
from tests.contract.builders import basin, step, trace, ts
from schema.trace_writes import AddStep, CompleteTrace, CreateTrace, LinkTraceBasin, SetTraceOwner


async def test_trace_round_trip(store: Store):
    full = TraceRecord(
        id="t-full", run_id="run-1", agent_name="perception", parent_id="t-parent", parent_step=3,
        model="scripted", task="observe the room", status="success", summary="done", error="minor",
        started_at=datetime(2026, 3, 4, 10, 0, 0, 1, tzinfo=timezone(timedelta(hours=5, minutes=30))),
        completed_at=ts(100, 999_999), input_tokens=2**40, output_tokens=7, pruned_tokens_saved=3, step_count=4,
        metadata={"nested": {"list": [1, 2.5, "three", None, True]}, "empty": {}, "n": 0},
    )
    minimal = trace("t-min", ts())
    await store.traces.write([CreateTrace(trace=full)])
    await store.traces.write([CreateTrace(trace=minimal)])
    got = await store.traces.get("t-full")
    assert got == full
    assert got.started_at.utcoffset() == timedelta(0)  # comes back in UTC, same instant
    assert await store.traces.get("t-min") == minimal
    assert await store.traces.get("t-none") is None
    assert await store.traces.count() == 2


async def test_create_trace_twice_is_a_noop(store: Store):
    original = trace("t1", ts(), task="first")
    await store.traces.write([CreateTrace(trace=original)])
    await store.traces.write([CreateTrace(trace=original.model_copy(update={"task": "second", "agent_name": "other", "started_at": ts(9)}))])
    await store.traces.write([CreateTrace(trace=original)])
    assert await store.traces.get("t1") == original
    assert await store.traces.count() == 1


async def test_complete_trace(store: Store):
    original = trace("t1", ts(), model="m", task="t", metadata={"k": "v"})
    await store.traces.write([CreateTrace(trace=original)])
    await store.traces.write([CompleteTrace(trace_id="t1", status="error", completed_at=ts(30, 5), summary="summary text", error="boom", totals={"input_tokens": 100, "output_tokens": 20, "pruned_tokens_saved": 7, "step_count": 3})])
    assert await store.traces.get("t1") == original.model_copy(
        update={"status": "error", "completed_at": ts(30, 5), "summary": "summary text", "error": "boom",
                "input_tokens": 100, "output_tokens": 20, "pruned_tokens_saved": 7, "step_count": 3}
    )
    await store.traces.write([CompleteTrace(trace_id="t1", status="success", completed_at=ts(31), summary=None, error=None, totals={"input_tokens": 1, "output_tokens": 2,
                                                                     "pruned_tokens_saved": 0, "step_count": 1})])
    got = await store.traces.get("t1")
    assert (got.status, got.completed_at, got.summary, got.error) == ("success", ts(31), None, None)
    assert (got.input_tokens, got.output_tokens, got.pruned_tokens_saved, got.step_count) == (1, 2, 0, 1)
    await store.traces.write([CompleteTrace(trace_id="t-unknown", status="success", completed_at=ts(1), summary=None, error=None, totals={})])  # no-op, no error
    assert await store.traces.get("t-unknown") is None


async def test_step_round_trip_and_replace(store: Store):
    await store.traces.write([CreateTrace(trace=trace("t1", ts()))])
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
    await store.traces.write([AddStep(step=full)])
    assert await store.traces.steps("t1") == [full]
    replaced = full.model_copy(update={"observations": "[PRUNED] obs", "tool_calls": [], "error": None, "input_tokens": 90})
    await store.traces.write([AddStep(step=replaced)])
    await store.traces.write([AddStep(step=replaced)])
    assert await store.traces.steps("t1") == [replaced]
    assert await store.traces.steps("t-none") == []


async def test_steps_ordered_by_number_then_type(store: Store):
    await store.traces.write([CreateTrace(trace=trace("t1", ts()))])
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
        await store.traces.write([AddStep(step=s)])
    await store.traces.write([AddStep(step=step("t2", 1, "action"))])  # another trace's step stays out
    assert await store.traces.steps("t1") == expected


async def test_step_and_child_written_before_their_trace_are_found(store: Store):
    # outbox replays may deliver writes out of the usual order
    early_step = step("t-late", 1, "action", observations="early")
    await store.traces.write([AddStep(step=early_step)])
    child = trace("t-child", ts(5), parent_id="t-late", parent_step=1, agent_name="reasoning")
    await store.traces.write([CreateTrace(trace=child)])
    await store.traces.write([CreateTrace(trace=trace("t-late", ts()))])
    assert await store.traces.steps("t-late") == [early_step]
    assert await store.traces.children("t-late") == [child]


async def test_one_write_call_holds_a_whole_drain(store: Store):
    # A drain of the write-behind queue is one call: writes of different kinds, some of them in
    # a row of the same kind, all stored as if written one by one.
    steps = [step("t1", n, "action", observations=f"obs {n}") for n in (1, 2, 3)]
    child = trace("t-child", ts(1), parent_id="t1", parent_step=2, agent_name="reasoning")
    await store.traces.write([
        CreateTrace(trace=trace("t1", ts())), AddStep(step=steps[0]), AddStep(step=steps[1]),
        CreateTrace(trace=child), AddStep(step=steps[2]),
        CompleteTrace(trace_id="t1", status="success", completed_at=ts(5), summary="done", error=None,
                      totals={"step_count": 3}),
    ])
    assert await store.traces.steps("t1") == steps
    assert await store.traces.children("t1") == [child]
    got = await store.traces.get("t1")
    assert (got.status, got.summary, got.step_count) == ("success", "done", 3)


async def test_children_ordered_by_start(store: Store):
    parent = trace("p", ts())
    await store.traces.write([CreateTrace(trace=parent)])
    kids = [
        trace("c-b", ts(2), parent_id="p", parent_step=1, agent_name="perception"),
        trace("c-a", ts(2), parent_id="p", parent_step=1, agent_name="reasoning"),
        trace("c-0", ts(1), parent_id="p", parent_step=1, agent_name="metacognition"),
    ]
    for k in kids:
        await store.traces.write([CreateTrace(trace=k)])
    await store.traces.write([CreateTrace(trace=trace("grandchild", ts(3), parent_id="c-a", parent_step=2))])
    assert await store.traces.children("p") == [kids[2], kids[1], kids[0]]
    assert [c.id for c in await store.traces.children("c-a")] == ["grandchild"]
    assert await store.traces.children("grandchild") == []


async def test_trace_basin_links(store: Store):
    await store.basins.upsert(basin("zeta", bid="b1"))
    await store.basins.upsert(basin("alpha", bid="b2"))
    await store.traces.write([CreateTrace(trace=trace("t1", ts()))])
    await store.traces.write([CreateTrace(trace=trace("t2", ts()))])
    await store.traces.write([LinkTraceBasin(link=TraceBasinLink(trace_id="t1", basin_id="b1", strength=0.5, at_step=2))])
    await store.traces.write([LinkTraceBasin(link=TraceBasinLink(trace_id="t1", basin_id="b1", strength=0.5, at_step=2))])
    await store.traces.write([LinkTraceBasin(link=TraceBasinLink(trace_id="t1", basin_id="b1", strength=0.25, at_step=1))])
    await store.traces.write([LinkTraceBasin(link=TraceBasinLink(trace_id="t1", basin_id="b2", strength=0.75, at_step=2, basin_name="ignored"))])
    await store.traces.write([LinkTraceBasin(link=TraceBasinLink(trace_id="t2", basin_id="b2", strength=1.0, at_step=1))])
    # a basin that does not exist: ignored, no error (trace writes are replayed, never wedge)
    await store.traces.write([LinkTraceBasin(link=TraceBasinLink(trace_id="t1", basin_id="b-missing", strength=1.0, at_step=1))])
    assert await store.traces.basins("t1") == [
        TraceBasinLink(trace_id="t1", basin_id="b1", basin_name="zeta", strength=0.25, at_step=1),
        TraceBasinLink(trace_id="t1", basin_id="b2", basin_name="alpha", strength=0.75, at_step=2),
        TraceBasinLink(trace_id="t1", basin_id="b1", basin_name="zeta", strength=0.5, at_step=2),
    ]
    # the same (trace, basin, at_step) again is stored once, with the latest strength
    await store.traces.write([LinkTraceBasin(link=TraceBasinLink(trace_id="t1", basin_id="b1", strength=0.9, at_step=2))])
    links = await store.traces.basins("t1")
    assert [(tb.basin_id, tb.at_step, tb.strength) for tb in links] == [("b1", 1, 0.25), ("b2", 2, 0.75), ("b1", 2, 0.9)]
    assert await store.traces.basins("t-none") == []


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
        await store.traces.write([CreateTrace(trace=t)])
    return traces


def _newest_first(traces: list[TraceRecord]) -> list[TraceRecord]:
    return sorted(traces, key=lambda t: (t.started_at, t.id), reverse=True)


async def test_list_traces_pages_newest_first_each_exactly_once(store: Store):
    traces = await _many_traces(store)
    pages, after = [], None
    for _ in range(10):  # bounded: a cursor that does not advance must fail, not loop forever
        page = await store.traces.list(TraceFilter(), 10, after)
        if not page:
            break
        pages.append(page)
        after = (page[-1].started_at, page[-1].id)
    assert [len(p) for p in pages] == [10, 10, 5]
    assert [t for p in pages for t in p] == _newest_first(traces)
    assert await store.traces.count() == 25
    assert await store.traces.list(TraceFilter(), 0) == []


async def test_list_traces_filters(store: Store):
    traces = await _many_traces(store)

    async def ids(flt: TraceFilter, limit: int = 100, after=None) -> list[str]:
        return [t.id for t in await store.traces.list(flt, limit, after)]

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
    first = await store.traces.list(TraceFilter(roots_only=True), 4)
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

    assert await store.traces.token_totals(TraceFilter()) == expected(lambda t: True)
    assert await store.traces.token_totals(TraceFilter(agent_name="reasoning")) == expected(lambda t: t.agent_name == "reasoning")
    assert await store.traces.token_totals(TraceFilter(since=ts(60, 1), roots_only=True)) == expected(
        lambda t: t.started_at >= ts(60, 1) and t.parent_id is None
    )
    assert await store.traces.token_totals(TraceFilter(agent_name="nobody")) == []
    # completing a trace changes its totals
    await store.traces.write([CompleteTrace(trace_id="t00", status="success", completed_at=ts(999), summary=None, error=None, totals={"input_tokens": 5000, "output_tokens": 1, "pruned_tokens_saved": 9, "step_count": 2})])
    row = next(r for r in await store.traces.token_totals(TraceFilter(agent_name="heartbeat")) if r["model"] == "scripted")
    assert row["input_tokens"] == sum(t.input_tokens for t in traces if (t.agent_name, t.model) == ("heartbeat", "scripted")) + 5000


# --- trace lifecycle: owners, leases, interrupted runs (issue 12) -------------------------------

from schema.models import TraceOwner  # noqa: E402


def owner(token: str, lease_s: float = 60, pid: int = 4242, host: str = "h1") -> TraceOwner:
    return TraceOwner(host=host, pid=pid, token=token, lease_until=ts(lease_s))


async def test_owner_round_trip_and_running_traces(store: Store):
    await store.traces.write([CreateTrace(trace=trace("t-owned", ts()))])
    await store.traces.write([CreateTrace(trace=trace("t-orphan", ts(1)))])
    await store.traces.write([CreateTrace(trace=trace("t-done", ts(2)))])
    await store.traces.write([CompleteTrace(trace_id="t-done", status="success", completed_at=ts(3), summary=None, error=None, totals={})])
    await store.traces.write([SetTraceOwner(trace_id="t-owned", owner=owner("tok-a", 30))])
    await store.traces.write([SetTraceOwner(trace_id="t-done", owner=owner("tok-a", 30))])
    running = await store.lifecycle.running()
    assert [(r.id, r.started_at, r.owner) for r in running] == [
        ("t-orphan", ts(1), None), ("t-owned", ts(), owner("tok-a", 30))
    ]
    assert [r.id for r in await store.lifecycle.running(["t-owned", "t-done", "t-missing"])] == ["t-owned"]
    assert await store.lifecycle.running([]) == []
    # A second owner record replaces the first (a trace has one owner).
    await store.traces.write([SetTraceOwner(trace_id="t-owned", owner=owner("tok-b", 45, pid=7, host="h2"))])
    assert (await store.lifecycle.running(["t-owned"]))[0].owner == owner("tok-b", 45, pid=7, host="h2")


async def test_renew_leases_touches_only_running_traces_of_that_owner(store: Store):
    for i, tid in enumerate(["a1", "a2", "b1", "a-done"]):
        await store.traces.write([CreateTrace(trace=trace(tid, ts(i)))])
    for tid in ["a1", "a2", "a-done"]:
        await store.traces.write([SetTraceOwner(trace_id=tid, owner=owner("tok-a", 10))])
    await store.traces.write([SetTraceOwner(trace_id="b1", owner=owner("tok-b", 10))])
    await store.traces.write([CompleteTrace(trace_id="a-done", status="success", completed_at=ts(5), summary=None, error=None, totals={})])
    assert await store.lifecycle.renew_leases("tok-a", ts(100)) == 2
    leases = {r.id: r.owner.lease_until for r in await store.lifecycle.running()}
    assert leases == {"a1": ts(100), "a2": ts(100), "b1": ts(10)}


async def test_interrupt_trace_only_while_running_under_the_judged_owner(store: Store):
    for tid in ["t1", "t2", "t3"]:
        await store.traces.write([CreateTrace(trace=trace(tid, ts()))])
    await store.traces.write([SetTraceOwner(trace_id="t1", owner=owner("tok-dead"))])
    await store.traces.write([SetTraceOwner(trace_id="t2", owner=owner("tok-live"))])
    await store.traces.write([AddStep(step=step("t1", 0, "task"))])
    totals = {"input_tokens": 11, "output_tokens": 4, "pruned_tokens_saved": 2, "step_count": 1}
    # The owner changed since it was judged (or never matched): left alone.
    assert not await store.lifecycle.interrupt("t2", "tok-dead", ts(9), "gone", totals)
    assert not await store.lifecycle.interrupt("t3", "tok-dead", ts(9), "gone", totals)
    assert await store.lifecycle.interrupt("t1", "tok-dead", ts(9), "gone", totals)
    # Once marked it is no longer running: a second mark does nothing.
    assert not await store.lifecycle.interrupt("t1", "tok-dead", ts(10), "again", totals)
    # No owner recorded: matched by None.
    assert await store.lifecycle.interrupt("t3", None, ts(11), "gone too", {"step_count": 0})
    got = await store.traces.get("t1")
    assert (got.status, got.completed_at, got.error, got.step_count, got.input_tokens, got.output_tokens,
            got.pruned_tokens_saved) == ("interrupted", ts(9), "gone", 1, 11, 4, 2)
    assert (await store.traces.get("t2")).status == "running"
    assert (await store.traces.get("t3")).status == "interrupted"
    assert [s.step_type for s in await store.traces.steps("t1")] == ["task"]
    # Same start time: newest-first order falls back to id, descending.
    assert [t.id for t in await store.traces.list(TraceFilter(status="interrupted"), 10)] == ["t3", "t1"]


async def test_list_traces_limit_is_exact_at_its_edges(store: Store):
    for i in range(3):
        await store.traces.write([CreateTrace(trace=trace(f"t{i}", ts(i)))])
    assert [t.id for t in await store.traces.list(TraceFilter(), 1)] == ["t2"]
    assert [t.id for t in await store.traces.list(TraceFilter(), 2)] == ["t2", "t1"]
    assert await store.traces.list(TraceFilter(), 0) == []

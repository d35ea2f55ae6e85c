"""Reading traces back through the trace service on a real SQLite store: input rules, page
boundaries, nesting depth and token breakdowns, value by value."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from dionysus_mcp.errors import InvalidInput, NotFound
from dionysus_mcp.traces import MAX_DEPTH


async def test_trace_ids_are_checked_before_the_store_is_asked(runtime):
    for bad in ("", "   ", "x" * 201):
        with pytest.raises(InvalidInput, match="^trace_id must be 1 to 200 characters: use an id from list_traces$"):
            await runtime.traces.get_trace(bad)
    with pytest.raises(NotFound, match="Unknown trace '" + "x" * 200):
        await runtime.traces.get_trace("x" * 200)
    trace_id = await runtime.traces.create_trace("HeartbeatAgent")
    assert (await runtime.traces.get_trace(f"  {trace_id} ")).id == trace_id


async def test_sub_runs_nest_to_max_depth_and_no_deeper(runtime):
    ids = [await runtime.traces.create_trace("ConsciousnessManager", model="scripted")]
    for level in range(1, MAX_DEPTH + 2):
        ids.append(await runtime.traces.create_trace(f"agent{level}", parent_id=ids[-1], parent_step=1))
    detail, depth = await runtime.traces.get_trace(ids[0]), 0
    while detail.sub_runs:
        [detail] = detail.sub_runs
        depth += 1
    assert MAX_DEPTH == 5 and depth == MAX_DEPTH and detail.id == ids[MAX_DEPTH]
    # Opened one level down, the same rule counts from there.
    detail, depth = await runtime.traces.get_trace(ids[1]), 0
    while detail.sub_runs:
        [detail] = detail.sub_runs
        depth += 1
    assert detail.id == ids[MAX_DEPTH + 1]


async def test_pages_end_exactly_when_the_runs_do(runtime, clock):
    ids = []
    for _ in range(6):
        clock.advance(1)
        ids.append(await runtime.traces.create_trace("HeartbeatAgent"))
    newest_first = ids[::-1]
    first = await runtime.traces.list_traces(limit=3)
    assert [t.id for t in first.traces] == newest_first[:3] and first.next_cursor
    second = await runtime.traces.list_traces(limit=3, cursor=first.next_cursor)
    assert [t.id for t in second.traces] == newest_first[3:] and second.next_cursor is None
    assert (await runtime.traces.list_traces(limit=6)).next_cursor is None
    assert len((await runtime.traces.list_traces(limit=1)).traces) == 1
    assert len((await runtime.traces.list_traces(limit=500)).traces) == 6
    assert len((await runtime.traces.list_traces()).traces) == 6
    for limit in (0, 501):
        with pytest.raises(InvalidInput, match=f"^limit must be between 1 and 500, got {limit}$"):
            await runtime.traces.list_traces(limit=limit)


async def test_time_windows_take_naive_times_as_utc_and_refuse_an_empty_window(runtime, clock):
    start = clock.now
    ids = []
    for _ in range(4):
        ids.append(await runtime.traces.create_trace("HeartbeatAgent"))
        clock.advance(60)
    naive = start.replace(tzinfo=None)
    window = await runtime.traces.list_traces(since=naive + timedelta(seconds=60), until=naive + timedelta(seconds=120))
    assert [t.id for t in window.traces] == [ids[2], ids[1]]
    assert [t.id for t in (await runtime.traces.list_traces(until=naive)).traces] == [ids[0]]
    assert [t.id for t in (await runtime.traces.list_traces(since=start + timedelta(seconds=180))).traces] == [ids[3]]
    same = naive + timedelta(seconds=60)
    assert [t.id for t in (await runtime.traces.list_traces(since=same, until=same)).traces] == [ids[1]]
    with pytest.raises(InvalidInput, match="^since is after until: nothing can match$"):
        await runtime.traces.list_traces(since=same, until=naive)


async def test_token_usage_sums_across_models_and_agents(runtime, clock):
    async def run(agent, model, inp, out, unpruned):
        trace_id = await runtime.traces.create_trace(agent, model=model)
        await runtime.traces.add_step(trace_id, {"step_number": 1, "step_type": "action", "input_tokens": inp,
                                                 "output_tokens": out, "unpruned_input_tokens": unpruned})
        await runtime.traces.complete_trace(trace_id, "success")

    assert (await runtime.traces.token_usage()).pruning_saved_pct == 0.0  # nothing yet: no division
    await run("A", "m1", 100, 10, 150)
    await run("A", "m2", 200, 20, 200)
    clock.advance(3600)
    await run("B", "m1", 300, 30, 400)
    report = await runtime.traces.token_usage()
    assert report.runs == 3 and report.totals.input_tokens == 600 and report.totals.output_tokens == 60
    assert [(r.name, r.runs, r.input_tokens, r.output_tokens, r.pruned_tokens_saved) for r in report.by_agent] == [
        ("A", 2, 300, 30, 50), ("B", 1, 300, 30, 100)]
    assert [(r.name, r.runs, r.input_tokens, r.output_tokens, r.pruned_tokens_saved) for r in report.by_model] == [
        ("m1", 2, 400, 40, 150), ("m2", 1, 200, 20, 0)]
    assert report.pruning_saved_pct == round(100 * 150 / 750, 2)

    only_a = await runtime.traces.token_usage(agent_name="A")
    assert only_a.runs == 2 and only_a.agent_name == "A" and [r.name for r in only_a.by_agent] == ["A"]
    later = clock.now.replace(tzinfo=None) - timedelta(seconds=1)  # naive: taken as UTC
    recent = await runtime.traces.token_usage(since=later)
    assert recent.runs == 1 and [r.name for r in recent.by_agent] == ["B"]
    assert recent.since is not None and recent.since.tzinfo is not None


async def test_defaults_and_a_run_closed_by_another_service(runtime):
    import re

    from dionysus_mcp.traces import TraceService

    trace_id = await runtime.traces.create_trace("HeartbeatAgent")
    record = await runtime.store.traces.get(trace_id)
    assert (record.model, record.task, record.metadata, record.status) == ("", "", {}, "running")
    assert re.fullmatch(r"trace-[0-9a-f]{32}", trace_id) and re.fullmatch(r"run-[0-9a-f]{12}", record.run_id)
    await runtime.traces.add_step(trace_id, {"step_number": 1, "step_type": "action", "input_tokens": 7,
                                             "output_tokens": 2, "unpruned_input_tokens": 9})
    # A service that did not open the run (another process, a restart) takes the totals from the store.
    await TraceService(runtime.store.traces, runtime.store.lifecycle, clock=runtime.traces.clock).complete_trace(trace_id, "success")
    trace = await runtime.traces.get_trace(trace_id)
    assert (trace.status, trace.step_count, trace.tokens.input_tokens, trace.tokens.pruned_tokens_saved) == ("success", 1, 7, 2)


async def test_a_full_read_is_paged_exactly_and_an_empty_page_is_refused(runtime):
    trace_id = await runtime.traces.create_trace("HeartbeatAgent")
    for n in range(1, 6):
        await runtime.traces.add_step(trace_id, {"step_number": n, "step_type": "action", "observations": f"step {n}"})
    # A page that leaves exactly one step says where it starts; that page says there is no more.
    page = await runtime.traces.read_trace(trace_id, "full", 0, 4)
    assert (len(page.steps), page.steps_total, page.next_steps_from) == (4, 5, 4)
    last = await runtime.traces.read_trace(trace_id, "full", page.next_steps_from, 4)
    assert [s.observations for s in last.steps] == ["step 5"] and last.next_steps_from is None
    whole = await runtime.traces.read_trace(trace_id, "full", 0, 5)
    assert len(whole.steps) == 5 and whole.next_steps_from is None
    # steps_limit=0 would be an empty page pointing at itself: a paging client would never end.
    for bad in (0, -1, 501):
        with pytest.raises(InvalidInput, match=f"^steps_limit must be from 1 to 500, got {bad}$"):
            await runtime.traces.read_trace(trace_id, "full", 0, bad)
    assert len((await runtime.traces.read_trace(trace_id, "full", 0, 500)).steps) == 5


async def test_retention_deletes_what_is_older_than_the_days_exactly_fractions_included(runtime, clock):
    from dionysus_mcp.traces.retention import TraceRetention
    from schema.models import TraceRecord
    from schema.trace_writes import CreateTrace

    now = clock()
    ages = {"day-and-a-minute": timedelta(days=1, minutes=1), "a-day-less-a-minute": timedelta(days=1) - timedelta(minutes=1),
            "thirteen-hours": timedelta(hours=13), "eleven-hours": timedelta(hours=11), "an-hour": timedelta(hours=1)}
    await runtime.store.traces.write([
        CreateTrace(trace=TraceRecord(id=tid, run_id=tid, agent_name="a", started_at=now - age)) for tid, age in ages.items()
    ])
    retention = TraceRetention(runtime.store.traces, clock=clock)

    async def left() -> set[str]:
        return {t.id for t in (await runtime.traces.list_traces(limit=50)).traces}

    assert (await retention.apply_retention(1)).matched == ["day-and-a-minute"]
    assert await left() == {"a-day-less-a-minute", "thirteen-hours", "eleven-hours", "an-hour"}
    # Half a day is twelve hours, not zero days: a run an hour old stays.
    assert sorted((await retention.apply_retention(0.5)).matched) == ["a-day-less-a-minute", "thirteen-hours"]
    assert await left() == {"eleven-hours", "an-hour"}

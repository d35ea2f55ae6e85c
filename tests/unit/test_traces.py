"""The trace service on a real SQLite store."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from dionysus_mcp.errors import InvalidInput, NotFound
from schema.models import ToolCallRecord, from_iso, to_iso
from tests.helpers import trace_news


async def record_run(runtime, clock):
    traces = runtime.traces
    basin = await runtime.basins.upsert_basin("sleep", keywords=["sleep"])
    root = await traces.create_trace("ConsciousnessManager", run_id="run-1", model="scripted", task="Decide about sleep")
    await traces.add_step(root, {"step_number": 1, "step_type": "planning", "plan": "1. observe\n2. decide",
                                 "input_tokens": 100, "output_tokens": 20, "unpruned_input_tokens": 100})
    clock.advance(1)
    child = await traces.create_trace("perception", run_id="run-1", parent_id=root, parent_step=1, model="scripted")
    await traces.add_step(child, {"step_number": 1, "step_type": "action",
                                  "tool_calls": [ToolCallRecord(id="c1", name="semantic_recall", arguments={"query": "sleep"})],
                                  "observations": "Slept badly. " * 50, "input_tokens": 300, "output_tokens": 10,
                                  "unpruned_input_tokens": 500})
    await traces.link_basin(child, basin.id, 0.8, 1, basin_name="sleep")
    await traces.complete_trace(child, "success", summary="sleep is poor")
    step = {"step_number": 1, "step_type": "action", "code_action": "perception(task='look')",
            "observations": "sleep is poor", "input_tokens": 200, "output_tokens": 30, "unpruned_input_tokens": 200}
    await traces.add_step(root, step)
    await traces.add_step(root, step)  # written twice, stored once
    clock.advance(1)
    await traces.complete_trace(root, "success", summary="Go to bed early")
    return root, child


async def test_get_trace_assembles_steps_sub_runs_basins_and_totals(runtime, clock):
    root, child = await record_run(runtime, clock)
    detail = await runtime.traces.get_trace(root)
    assert [(s.step_number, s.step_type) for s in detail.steps] == [(1, "planning"), (1, "action")]
    assert detail.status == "success" and detail.duration_s == pytest.approx(2.0)
    assert detail.tokens.input_tokens == 300 and detail.step_count == 2
    [sub] = detail.sub_runs
    assert sub.id == child and sub.parent_step == 1
    assert sub.steps[0].tool_calls[0].arguments == {"query": "sleep"}
    assert sub.steps[0].observations == "Slept badly. " * 50  # full text, never pruned
    assert [(b.basin_name, b.strength, b.at_step) for b in sub.activated_basins] == [("sleep", 0.8, 1)]
    assert detail.total_tokens.input_tokens == 600 and detail.total_tokens.output_tokens == 60
    assert detail.total_tokens.pruned_tokens_saved == 200


async def test_replay_is_a_narrative_with_the_sub_run_in_place(runtime, clock):
    root, _ = await record_run(runtime, clock)
    text = await runtime.traces.replay(root)
    assert text.startswith("# ConsciousnessManager — success")
    assert text.index("Step 1 · action") < text.index("perception — success") < text.index("Go to bed early")
    assert "called `semantic_recall`(query=\"sleep\")" in text and "activated basin `sleep`" in text


async def test_list_traces_pages_filters_and_rejects_bad_cursor(runtime, clock):
    await record_run(runtime, clock)
    ids = []
    for i in range(5):
        clock.advance(1)
        ids.append(await runtime.traces.create_trace("HeartbeatAgent", model="scripted"))
    seen, cursor = [], None
    for _ in range(10):  # bounded: a cursor that does not advance must fail, not loop forever
        page = await runtime.traces.list_traces(agent_name="HeartbeatAgent", limit=2, cursor=cursor)
        seen += [t.id for t in page.traces]
        if not (cursor := page.next_cursor):
            break
    assert seen == ids[::-1]
    roots = await runtime.traces.list_traces(roots_only=True, limit=50)
    assert "perception" not in {t.agent_name for t in roots.traces}
    running = await runtime.traces.list_traces(status="running")
    assert len(running.traces) == 5
    with pytest.raises(InvalidInput):
        await runtime.traces.list_traces(cursor="garbage")


async def test_token_usage_breaks_down_by_agent_and_model(runtime, clock):
    await record_run(runtime, clock)
    report = await runtime.traces.token_usage()
    assert report.runs == 2 and report.totals.input_tokens == 600
    assert [(r.name, r.input_tokens) for r in report.by_agent] == [("ConsciousnessManager", 300), ("perception", 300)]
    assert report.by_model[0].name == "scripted"
    assert report.pruning_saved_pct == pytest.approx(100 * 200 / 800)


async def test_unknown_trace_is_a_clear_error(runtime):
    with pytest.raises(NotFound, match="Unknown trace 'nope'"):
        await runtime.traces.get_trace("nope")


async def test_times_with_and_without_a_zone_compare_as_utc(runtime, clock):
    await record_run(runtime, clock)
    from datetime import datetime

    page = await runtime.traces.list_traces(since=datetime(2025, 12, 31), until=clock.now)
    assert len(page.traces) == 2
    assert (await runtime.traces.token_usage(since=datetime(2025, 12, 31))).runs == 2


async def test_a_write_the_store_refuses_is_set_aside_not_blocking_the_queue(runtime):
    from dionysus_mcp.traces import TraceRecord

    from schema.trace_writes import CreateTrace
    from tests.helpers import queue_old_outbox_row

    queue_old_outbox_row(runtime.outbox, "not_an_operation", {})
    good = TraceRecord(id="trace-queued", run_id="r", agent_name="HeartbeatAgent", started_at=runtime.traces.clock())
    runtime.outbox.put(CreateTrace(trace=good))
    result = await runtime.traces.flush()
    assert result == {"delivered": 1, "set_aside": 1, "pending": 0}
    assert (await runtime.traces.get_trace("trace-queued")).agent_name == "HeartbeatAgent"
    import sqlite3

    with sqlite3.connect(runtime.outbox.path) as db:
        assert db.execute("SELECT op FROM set_aside").fetchall() == [("not_an_operation",)]


@pytest.mark.parametrize("value", [
    datetime(2026, 12, 1, 17, 3, 4, 5, tzinfo=timezone.utc),
    datetime(2026, 12, 1, 23, 30, tzinfo=timezone(timedelta(hours=-5, minutes=-30))),  # next day in UTC
    datetime(1999, 1, 2, 3, 4, 5),  # naive: taken as UTC
    datetime(1000, 1, 1, tzinfo=timezone.utc),
])
def test_timestamps_are_fixed_width_utc_and_read_back(value):
    text = to_iso(value)
    utc = (value if value.tzinfo else value.replace(tzinfo=timezone.utc)).astimezone(timezone.utc)
    assert len(text) == 27 and text.endswith("Z") and text == utc.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    assert from_iso(text) == utc


async def one_run(runtime, clock, agent: str, input_tokens: int, unpruned: int, status: str = "success") -> str:
    tid = await runtime.traces.create_trace(agent, run_id=f"run-{agent}-{clock.now.isoformat()}", model="scripted")
    await runtime.traces.add_step(tid, {"step_number": 1, "step_type": "action", "input_tokens": input_tokens,
                                        "output_tokens": 1, "unpruned_input_tokens": unpruned})
    await runtime.traces.complete_trace(tid, status)
    clock.advance(1)
    return tid


async def test_the_share_pruning_saved_is_rounded_to_two_places(runtime, clock):
    await one_run(runtime, clock, "thirds", 200, 300)  # 100 saved of 300
    await one_run(runtime, clock, "halves", 100, 200)  # as many saved as sent
    assert (await runtime.traces.token_usage(agent_name="thirds")).pruning_saved_pct == 33.33
    assert (await runtime.traces.token_usage(agent_name="halves")).pruning_saved_pct == 50.0
    assert (await runtime.traces.token_usage(agent_name="nobody")).pruning_saved_pct == 0.0


async def test_a_page_of_runs_is_twenty_by_default_and_a_status_is_filtered_in_the_store(runtime, clock):
    failed = await one_run(runtime, clock, "heartbeat", 1, 1, status="error")
    for _ in range(20):
        await one_run(runtime, clock, "heartbeat", 1, 1)
    page = await runtime.traces.list_traces()
    assert len(page.traces) == 20 and page.next_cursor is not None
    # The failed run is the oldest: a filter applied only after the newest two were read finds nothing.
    assert [t.id for t in (await runtime.traces.list_traces(status="error", limit=2)).traces] == [failed]


async def test_read_trace_gives_the_summary_unless_asked_and_checks_its_pages(runtime, clock):
    root, _ = await record_run(runtime, clock)
    assert await runtime.traces.read_trace(root) == await runtime.traces.read_trace(root, detail="summary")
    assert (await runtime.traces.read_trace(root)) != (await runtime.traces.read_trace(root, detail="full"))
    with pytest.raises(InvalidInput, match=r"^steps_from must be 0 or more, got -1$"):
        await runtime.traces.read_trace(root, detail="full", steps_from=-1)


async def test_each_flush_counts_only_the_writes_it_set_aside(runtime):
    from tests.helpers import queue_old_outbox_row

    for _ in range(2):
        queue_old_outbox_row(runtime.outbox, "not_an_operation", {})
        assert await runtime.traces.flush() == {"delivered": 0, "set_aside": 1, "pending": 0}


async def test_a_run_keeps_the_task_and_metadata_it_was_opened_with(runtime):
    tid = await runtime.traces.create_trace("heartbeat", task="Check the basins", metadata={"cycle": 3})
    stored = await runtime.store.traces.get(tid)
    assert (stored.task, stored.metadata) == ("Check the basins", {"cycle": 3})


async def test_the_followers_of_a_run_hear_its_sub_runs_at_every_depth(runtime):
    heard = trace_news(runtime.traces.changes)
    root = await runtime.traces.create_trace("ConsciousnessManager")
    child = await runtime.traces.create_trace("perception", parent_id=root, parent_step=1)
    grandchild = await runtime.traces.create_trace("helper", parent_id=child, parent_step=1)
    heard.clear()
    await runtime.traces.add_step(grandchild, {"step_number": 1, "step_type": "action"})
    assert sorted(heard) == sorted([grandchild, root])  # the trace itself, and the run it belongs to
    await runtime.traces.add_step(root, {"step_number": 1, "step_type": "action"})
    await runtime.traces.complete_trace(child, "success")
    heard.clear()
    await runtime.traces.add_step(grandchild, {"step_number": 2, "step_type": "action"})
    assert sorted(heard) == sorted([grandchild, root])  # neither the root's steps nor a sub-run's end forget it
    await runtime.traces.complete_trace(root, "success")
    heard.clear()
    await runtime.traces.add_step(child, {"step_number": 1, "step_type": "action"})  # a late write
    assert heard == [child]  # the root run is over: its family is forgotten


async def test_a_sub_run_of_a_run_opened_elsewhere_is_news_for_that_run(runtime):
    # Its parent was opened by another process (or before a restart): the parent is its root here.
    heard = trace_news(runtime.traces.changes)
    child = await runtime.traces.create_trace("perception", parent_id="trace-opened-elsewhere", parent_step=1)
    heard.clear()
    await runtime.traces.add_step(child, {"step_number": 1, "step_type": "action"})
    assert sorted(heard) == sorted([child, "trace-opened-elsewhere"])

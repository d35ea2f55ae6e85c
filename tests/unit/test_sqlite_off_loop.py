"""SQLite work never runs on the event loop's thread, and one drain of trace writes is one
transaction (issue 13). Checked with SQLite's own statement trace on a real file: which thread
ran each statement, and how many write transactions began."""

from __future__ import annotations

import threading
from types import SimpleNamespace
from datetime import datetime, timezone

import pytest

from dionysus_mcp.store.base import StoreError
from dionysus_mcp.store.sqlite import SQLiteStore
from dionysus_mcp.traces import TraceService
from schema.models import Basin, Memory, MemoryBasin, StepRecord, TraceRecord
from schema.trace_writes import AddStep, CompleteTrace, CreateTrace
from tests.helpers import trace_news

T0 = datetime(2026, 5, 1, tzinfo=timezone.utc)


class StatementLog:
    """Every statement the connection runs, with the thread that ran it."""

    def __init__(self, store: SQLiteStore):
        self.seen: list[tuple[int, str]] = []
        store.db._conn.set_trace_callback(lambda sql: self.seen.append((threading.get_ident(), sql)))

    def begins(self, kind: str = "BEGIN IMMEDIATE") -> int:
        return sum(sql.strip().upper() == kind for _, sql in self.seen)


@pytest.fixture
async def store(tmp_path):
    s = SQLiteStore(tmp_path / "s.db")
    await s.open()
    yield s
    await s.close()


async def test_every_store_call_runs_in_a_worker_thread(store):
    log = StatementLog(store)
    loop_thread = threading.get_ident()
    await store.basins.upsert(Basin(id="b1", name="focus", created_at=T0))
    await store.memories.add(Memory(id="m1", kind="semantic", content="x", created_at=T0, basins=[MemoryBasin(basin_id="b1", weight=1.0)]))
    await store.basins.list()
    await store.memories.counts_by_basin(["b1"])
    await store.basins.links_among(["b1"])
    await store.traces.write([CreateTrace(trace=TraceRecord(id="t1", run_id="r1", agent_name="a", started_at=T0))])
    await store.traces.get("t1")
    threads = {thread for thread, _ in log.seen}
    assert len(log.seen) >= 14 and loop_thread not in threads


async def test_opening_and_closing_run_in_a_worker_thread_too(tmp_path):
    calls: list[int] = []
    store = SQLiteStore(tmp_path / "o.db")
    original = store.db._connect

    def connect() -> bool:
        calls.append(threading.get_ident())
        return original()

    store.db._connect = connect
    await store.open()
    await store.close()
    assert calls and threading.get_ident() not in calls


async def test_a_batch_of_trace_writes_is_one_transaction(store):
    log = StatementLog(store)
    trace = TraceRecord(id="t1", run_id="r1", agent_name="a", started_at=T0)
    steps = [StepRecord(id=f"t1:action:{n}", trace_id="t1", step_number=n, step_type="action") for n in range(1, 6)]
    await store.traces.write([CreateTrace(trace=trace), *[AddStep(step=s) for s in steps],
                                    CompleteTrace(trace_id="t1", status="success", completed_at=T0, summary="done",
                                                  totals={"step_count": 5})])
    assert log.begins() == 1
    assert [s.step_number for s in await store.traces.steps("t1")] == [1, 2, 3, 4, 5]
    assert (await store.traces.get("t1")).status == "success"
    with pytest.raises(StoreError):
        await store.traces.write([SimpleNamespace(kind="drop_everything")])


async def test_write_batch_stores_a_drain_in_one_transaction_and_charges_a_failure_to_its_write(store):
    traces = TraceService(store.traces, store.lifecycle)
    log = StatementLog(store)
    trace_id = "t-batch"
    writes = [
        *traces.opening("heartbeat", trace_id=trace_id),
        *[traces.step(trace_id, {"step_number": n, "step_type": "action"}) for n in (1, 2, 3)],
        traces.completion(trace_id, "success", summary="ok"),
    ]
    assert await traces.write_batch(writes) == [None] * len(writes)
    assert log.begins() == 1
    stored = await store.traces.get(trace_id)
    assert stored.status == "success" and stored.step_count == 3

    # A batch the store refuses is written one by one: the refusal is charged to its write.
    store.db._conn.execute(
        "CREATE TRIGGER refuse_one_step BEFORE INSERT ON trace_steps WHEN NEW.id = 't-two:action:2'"
        " BEGIN SELECT RAISE(ABORT, 'refused by a test trigger'); END"
    )
    writes = [*traces.opening("heartbeat", trace_id="t-two"), *[traces.step("t-two", {"step_number": n, "step_type": "action"}) for n in (1, 2, 3)]]
    results = await traces.write_batch(writes)
    assert [type(r).__name__ if r else None for r in results] == [None, None, None, "StoreError", None]
    assert [s.step_number for s in await store.traces.steps("t-two")] == [1, 3]


async def test_a_trace_is_announced_once_its_creation_is_stored_and_never_when_refused(store):
    # A background start (agents/background.py) waits on this event before it returns the run's id.
    traces = TraceService(store.traces, store.lifecycle)
    heard = trace_news(traces.changes)
    first = traces.created("t-first")
    assert traces.created("t-first") is first  # one event per trace, however many wait on it
    other = traces.created("t-other")
    log = StatementLog(store)
    batch = [*traces.opening("heartbeat", trace_id="t-first"), *traces.opening("heartbeat", trace_id="t-unwatched")]
    assert await traces.write_batch(batch) == [None] * 4  # a creation nobody waits on is no error
    assert first.is_set() and not other.is_set()
    assert log.begins() == 1 and heard == ["t-first", "t-unwatched"]  # announced from the batch, not written again
    assert not traces.created("t-first").is_set()  # announced once: a later wait starts afresh
    traces.forget_created("t-first")

    # A refused batch is written one by one: the refused creation is not announced, the other is.
    store.db._conn.execute(
        "CREATE TRIGGER refuse_trace BEFORE INSERT ON traces WHEN NEW.id = 't-refused'"
        " BEGIN SELECT RAISE(ABORT, 'refused by a test trigger'); END"
    )
    refused = traces.created("t-refused")
    writes = [*traces.opening("heartbeat", trace_id="t-refused"), *traces.opening("heartbeat", trace_id="t-other")]
    heard.clear()
    results = await traces.write_batch(writes)
    assert isinstance(results[0], StoreError) and results[2:] == [None, None]
    assert other.is_set() and not refused.is_set()
    # What was stored is news, in order: the refused trace's owner row was stored, its trace not.
    assert heard == ["t-refused", "t-other"]
    assert (await store.traces.get("t-other")).agent_name == "heartbeat"

"""The trace service while its store is unavailable, on a real SQLite store made unavailable for
real: another connection holds the database's write lock, so the store's writes fail at once
with "database is locked" (StoreUnavailable). The retry interval runs on the runtime's clock,
which the test moves: nothing sleeps.
"""

from __future__ import annotations

import sqlite3

import pytest

from dionysus_mcp.traces import RETRY_EVERY_S
from tests.helpers import queue_old_outbox_row


class Lock:
    """Another writer holding the database: the store's writes fail at once while it is held."""

    def __init__(self, runtime):
        runtime.store.db._conn.execute("PRAGMA busy_timeout = 0")  # fail at once instead of waiting
        self.db = sqlite3.connect(runtime.settings.db_path, isolation_level=None)

    def hold(self):
        self.db.execute("BEGIN EXCLUSIVE")

    def release(self):
        self.db.execute("ROLLBACK")


def step(n: int, tokens: int = 10) -> dict:
    return {"step_number": n, "step_type": "action", "observations": f"step {n}", "input_tokens": tokens,
            "output_tokens": 1, "unpruned_input_tokens": tokens}


async def stored_steps(runtime, trace_id):
    return [s.step_number for s in await runtime.store.traces.steps(trace_id)]


async def test_writes_queue_in_order_while_the_store_is_locked_and_drain_after_the_interval(runtime, clock):
    traces, lock = runtime.traces, Lock(runtime)
    trace_id = await traces.create_trace("HeartbeatAgent", model="scripted", task="t")
    await traces.add_step(trace_id, step(1))
    assert await stored_steps(runtime, trace_id) == [1] and runtime.outbox.count() == 0

    lock.hold()
    await traces.add_step(trace_id, step(2))  # refused: queued, the run goes on
    assert runtime.outbox.count() == 1
    clock.advance(RETRY_EVERY_S)
    await traces.add_step(trace_id, step(3))  # the interval has passed: tries, still locked
    assert runtime.outbox.count() == 2
    lock.release()
    await traces.add_step(trace_id, step(4))  # store back, but the retry was just now: queued behind
    assert runtime.outbox.count() == 3 and await stored_steps(runtime, trace_id) == [1]
    assert [op for _, op, _ in runtime.outbox.pending()] == ["step"] * 3

    clock.advance(RETRY_EVERY_S - 0.001)
    await traces.add_step(trace_id, step(5))  # not yet a whole interval: still queued
    assert runtime.outbox.count() == 4
    clock.advance(0.001)  # exactly RETRY_EVERY_S since the last try: delivers the queue in order
    await traces.add_step(trace_id, step(6))
    assert runtime.outbox.count() == 0 and await stored_steps(runtime, trace_id) == [1, 2, 3, 4, 5, 6]
    await traces.add_step(trace_id, step(7))  # back to writing straight through
    assert runtime.outbox.count() == 0 and await stored_steps(runtime, trace_id) == list(range(1, 8))


async def test_a_run_closed_while_the_store_is_locked_keeps_its_totals(runtime, clock):
    traces, lock = runtime.traces, Lock(runtime)
    trace_id = await traces.create_trace("HeartbeatAgent", model="scripted", task="t")
    lock.hold()
    for n in (1, 2, 2):  # step 2 written twice counts once
        await traces.add_step(trace_id, step(n, tokens=10 * n))
    await traces.complete_trace(trace_id, "success", summary="done", error="none really")
    lock.release()
    assert await traces.flush() == {"delivered": 4, "set_aside": 0, "pending": 0}
    trace = await traces.get_trace(trace_id)
    assert (trace.status, trace.summary, trace.error) == ("success", "done", "none really")
    assert trace.step_count == 2 and trace.tokens.input_tokens == 30 and trace.tokens.output_tokens == 2


async def test_deliver_pending_delivers_what_is_queued_and_is_quiet_otherwise(runtime, clock):
    traces, lock = runtime.traces, Lock(runtime)
    await traces.deliver_pending()  # nothing queued, store up: nothing to do
    trace_id = await traces.create_trace("HeartbeatAgent", model="scripted")
    lock.hold()
    await traces.add_step(trace_id, step(1))
    await traces.deliver_pending()  # still locked: kept, and no error
    assert runtime.outbox.count() == 1
    lock.release()
    await traces.deliver_pending()  # the end of a run: delivered without waiting for the interval
    assert runtime.outbox.count() == 0 and await stored_steps(runtime, trace_id) == [1]
    # A queue left by an earlier process (this service never saw the store fail) is delivered
    # too, even one an older version wrote (a store method's name and its arguments).
    queue_old_outbox_row(runtime.outbox, "add_step", {**step(2), "id": f"{trace_id}:action:2", "trace_id": trace_id})
    await traces.deliver_pending()
    assert runtime.outbox.count() == 0 and await stored_steps(runtime, trace_id) == [1, 2]


async def test_without_an_outbox_a_failed_write_raises(runtime):
    from dionysus_mcp.store.base import StoreUnavailable
    from dionysus_mcp.traces import TraceService

    bare = TraceService(runtime.store.traces, runtime.store.lifecycle)
    lock = Lock(runtime)
    lock.hold()
    try:
        with pytest.raises(StoreUnavailable):
            await bare.create_trace("HeartbeatAgent")
    finally:
        lock.release()
    assert await bare.flush() == {"delivered": 0, "set_aside": 0, "pending": 0}


async def test_an_outbox_left_by_an_older_version_drains_every_kind_of_write(runtime, clock):
    """Rows as versions before typed trace writes queued them: the store method's name and its
    arguments as JSON. Delivered as the records they stand for, in order."""
    await runtime.basins.upsert_basin("focus")
    basin = await runtime.store.basins.get("focus")
    at = clock.now.isoformat(timespec="microseconds").replace("+00:00", "Z")
    lease = (clock.now.replace(year=2030)).isoformat(timespec="microseconds").replace("+00:00", "Z")
    rows = [
        ("create_trace", {"id": "t-old", "run_id": "r-old", "agent_name": "HeartbeatAgent", "started_at": at}),
        ("set_trace_owner", {"trace_id": "t-old", "owner": {"host": "h", "pid": 1, "token": "random:x", "lease_until": lease}}),
        ("add_step", {**step(1, tokens=12), "id": "t-old:action:1", "trace_id": "t-old"}),
        ("link_trace_basin", {"trace_id": "t-old", "basin_id": basin.id, "basin_name": "focus", "strength": 0.5, "at_step": 1}),
        ("complete_trace", {"trace_id": "t-old", "status": "success", "completed_at": at, "summary": "done", "error": None,
                            "totals": {"input_tokens": 12, "output_tokens": 1, "pruned_tokens_saved": 0, "step_count": 1}}),
    ]
    for op, payload in rows:
        queue_old_outbox_row(runtime.outbox, op, payload)
    assert await runtime.traces.flush() == {"delivered": 5, "set_aside": 0, "pending": 0}
    run = await runtime.traces.get_trace("t-old")
    assert (run.status, run.summary, run.step_count, run.tokens.input_tokens) == ("success", "done", 1, 12)
    assert [(s.step_number, s.observations) for s in run.steps] == [(1, "step 1")]
    assert [(b.basin_name, b.strength) for b in run.activated_basins] == [("focus", 0.5)]

"""The write-behind queue of trace writes (callbacks/write_behind.py) on a real runtime and SQLite
file: writes are put from a worker thread, as the agents do, and read back from the store. The
run context is reduced to what a write needs of it (its runtime)."""

from __future__ import annotations

import time
from types import SimpleNamespace

import anyio

from callbacks.write_behind import LINGER_S, Queued, WriteBehind
from tests.helpers import counting_batches


def create(ctx, trace_id: str) -> list[Queued]:
    return [Queued(ctx, w, "test", 0) for w in ctx.runtime.traces.opening("Probe", trace_id=trace_id)]


def step(ctx, trace_id: str, number: int) -> Queued:
    record = {"step_type": "action", "step_number": number, "observations": f"step {number}"}
    return Queued(ctx, ctx.runtime.traces.step(trace_id, record), "test", number)


def put_all(queue, writes) -> None:
    queue.put(*writes)  # together, as the trace callback queues a trace with its owner


async def until_stored(runtime, trace_id: str, steps: int = 0) -> None:
    with anyio.fail_after(10):
        while (await runtime.store.traces.get(trace_id)) is None or len(await runtime.store.traces.steps(trace_id)) < steps:
            await anyio.sleep(0.01)


async def test_a_lone_write_is_stored_while_the_queue_is_open(runtime):
    # Nothing follows it: it must not wait for a later write, or for the run's end, to be stored.
    failures: list = []
    queue, ctx = WriteBehind(lambda w, e: failures.append(e)), SimpleNamespace(runtime=runtime)
    async with queue.open():
        await anyio.to_thread.run_sync(put_all, queue, create(ctx, "t-lone"))
        await until_stored(runtime, "t-lone")
        await anyio.to_thread.run_sync(queue.put, step(ctx, "t-lone", 1))
        await until_stored(runtime, "t-lone", steps=1)
    assert failures == []


async def test_writes_made_during_the_linger_are_stored_as_one_batch_in_order(runtime):
    batches = counting_batches(runtime)
    queue, ctx = WriteBehind(lambda w, e: None), SimpleNamespace(runtime=runtime)
    async with queue.open():
        await anyio.to_thread.run_sync(put_all, queue, create(ctx, "t-burst"))
        await until_stored(runtime, "t-burst")  # the first batch goes at once

        def burst():
            for n in range(1, 21):
                queue.put(step(ctx, "t-burst", n))

        started = time.monotonic()
        await anyio.to_thread.run_sync(burst)
        elapsed = time.monotonic() - started  # a few µs per write: far below one linger, unless starved
        await until_stored(runtime, "t-burst", steps=20)
    assert batches[0] == ["create", "set_owner"]
    assert [m for batch in batches[1:] for m in batch] == ["step"] * 20
    assert len(batches) - 1 <= 1 + int(elapsed / LINGER_S), (batches, elapsed)
    stored = await runtime.store.traces.steps("t-burst")
    assert [s.step_number for s in stored] == list(range(1, 21))


async def test_leaving_stores_what_is_still_queued(runtime):
    queue, ctx = WriteBehind(lambda w, e: None), SimpleNamespace(runtime=runtime)
    async with queue.open():
        await anyio.to_thread.run_sync(put_all, queue, create(ctx, "t-end"))
        await until_stored(runtime, "t-end")
        for n in (1, 2, 3):
            await anyio.to_thread.run_sync(queue.put, step(ctx, "t-end", n))
    # Out of the block: no waiting — the lingering batch was stored on the way out.
    assert [s.step_number for s in await runtime.store.traces.steps("t-end")] == [1, 2, 3]


async def test_without_an_open_queue_each_write_is_stored_before_put_returns(runtime):
    # A RunGroup wired by hand: the agent's thread drains through the runtime, blocking.
    queue, ctx = WriteBehind(lambda w, e: None), SimpleNamespace(runtime=runtime)

    def writes():
        put_all(queue, create(ctx, "t-blocking"))
        queue.put(step(ctx, "t-blocking", 1))

    await anyio.to_thread.run_sync(writes)
    assert (await runtime.store.traces.get("t-blocking")) is not None
    assert len(await runtime.store.traces.steps("t-blocking")) == 1


async def test_a_write_the_store_refuses_is_reported_and_the_next_is_still_stored(runtime):
    import sqlite3

    from dionysus_mcp.traces import TraceService

    # Without an outbox (which would keep the refused write for later), as a bare service writes.
    with sqlite3.connect(runtime.settings.db_path) as db:
        db.execute(
            "CREATE TRIGGER refuse_one_step BEFORE INSERT ON trace_steps WHEN NEW.id = 't-refused:action:1'"
            " BEGIN SELECT RAISE(ABORT, 'refused by a test trigger'); END"
        )
    failures: list[tuple[str, str]] = []
    bare = SimpleNamespace(traces=TraceService(runtime.store.traces, runtime.store.lifecycle), call=runtime.call)
    queue, ctx = WriteBehind(lambda w, e: failures.append((w.write.kind, type(e).__name__))), SimpleNamespace(runtime=bare)
    async with queue.open():
        for writes in (create(ctx, "t-refused"), [step(ctx, "t-refused", 1)], [step(ctx, "t-refused", 2)]):
            await anyio.to_thread.run_sync(put_all, queue, writes)
    assert failures == [("step", "StoreError")]
    assert [s.step_number for s in await runtime.store.traces.steps("t-refused")] == [2]

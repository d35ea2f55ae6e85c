"""Cancel requests through the store, on a real SQLite file and a clock the test moves: the
owner's check runs every CANCEL_CHECK_S only while it has runs in flight and cancels the run
asked for; a request for another process's run is recorded and waited on; a run whose owner is
gone is interrupted (the lease covers it), not waited on."""

from __future__ import annotations

import anyio
import pytest

from agents.background import BackgroundRuns
from dionysus_mcp.errors import InvalidInput
from dionysus_mcp.traces import lifecycle
from dionysus_mcp.traces.owner import ProcessIdentity
from schema.trace_writes import CompleteTrace, SetTraceOwner


async def settle() -> None:
    for _ in range(50):  # let woken tasks run their store calls (worker threads) to the next wait
        await anyio.sleep(0.01)


async def test_the_owner_cancels_a_run_asked_for_in_the_store(runtime, clock):
    runs = BackgroundRuns()
    run_id = runs.new_run_id()
    outcome: list = []

    async def in_flight() -> None:
        await runtime.traces.create_trace("heartbeat", trace_id=run_id, run_id=run_id)
        await anyio.sleep_forever()

    async def waiter() -> None:
        outcome.append(await runs.run_here(runtime, run_id, in_flight()))

    async with runs.serving(), anyio.create_task_group() as tasks:
        tasks.start_soon(waiter)
        await settle()
        clock.advance(lifecycle.CANCEL_CHECK_S)  # a check with nothing asked: the run goes on
        await settle()
        assert not outcome and runs.is_running(run_id)
        assert await lifecycle.request_cancel(runtime.traces, run_id)  # e.g. from another process
        clock.advance(lifecycle.CANCEL_CHECK_S)
        with anyio.fail_after(10):
            while not outcome:
                await anyio.sleep(0.01)
    assert outcome == [(None, True)] and not runs.is_running(run_id)
    await settle()
    assert not runs._watching  # no run in flight: no check any more


async def test_a_request_for_another_process_run_is_recorded_and_waited_on(runtime, clock):
    runs = BackgroundRuns()
    trace_id = await runtime.traces.create_trace("heartbeat")
    other = ProcessIdentity("elsewhere", 99, "random:x")
    await runtime.store.traces.write([SetTraceOwner(trace_id=trace_id, owner=other.owner(clock(), lease_s=60))])
    runtime.traces._open.pop(trace_id)  # not this process's run
    answer: list = []

    async def cancel() -> None:
        answer.append(await runs.cancel_anywhere(runtime, trace_id))

    async with anyio.create_task_group() as tasks:
        tasks.start_soon(cancel)
        await settle()
        assert await runtime.store.lifecycle.cancel_requested([trace_id]) == [trace_id]
        # The owner stops it and closes its trace; the next check of the waiting caller sees it.
        await runtime.store.traces.write([CompleteTrace(trace_id=trace_id, status="cancelled", completed_at=clock(), totals={})])
        clock.advance(lifecycle.CANCEL_CHECK_S)
        with anyio.fail_after(10):
            while not answer:
                await anyio.sleep(0.01)
    assert answer[0].status == "cancelled"


async def test_a_run_whose_owner_is_gone_is_interrupted_not_waited_on(runtime, clock):
    trace_id = await runtime.traces.create_trace("heartbeat")
    gone = ProcessIdentity("elsewhere", 99, "random:x")
    await runtime.store.traces.write([SetTraceOwner(trace_id=trace_id, owner=gone.owner(clock(), lease_s=60))])
    runtime.traces._open.pop(trace_id)
    clock.advance(61)  # its lease ran out
    with pytest.raises(InvalidInput, match=r"already ended \(interrupted\)"):
        await BackgroundRuns().cancel_anywhere(runtime, trace_id)
    assert await runtime.store.lifecycle.cancel_requested([trace_id]) == []

"""dionysus_mcp/warm_up.py: loads start once the first request is answered, or when idle; never
beside a request; a failing load is swallowed (a warm-up is an optimization)."""

from __future__ import annotations

import asyncio
import threading

from dionysus_mcp.warm_up import WarmUp


async def test_loads_start_when_the_first_request_is_answered_not_before():
    ran: list[str] = []
    warm = WarmUp([lambda: ran.append("model"), lambda: ran.append("tokenizer")], idle_s=3600)
    warm.arm()
    warm.request_started()
    warm.request_started()  # two calls in flight
    warm.request_finished()
    assert warm.thread is None  # one still running: nothing competes with it
    warm.request_finished()
    assert warm.thread is not None
    warm.thread.join(10)
    assert ran == ["model", "tokenizer"]
    first = warm.thread
    warm.request_started()
    warm.request_finished()
    assert warm.thread is first  # once per process


async def test_an_idle_server_warms_up_without_any_request():
    done = threading.Event()
    warm = WarmUp([done.set], idle_s=0.0)
    warm.arm()
    while warm.thread is None:
        await asyncio.sleep(0)  # the timer fires on the loop
    assert await asyncio.to_thread(done.wait, 10)


async def test_a_request_in_flight_when_idle_time_ends_defers_the_loads():
    warm = WarmUp([lambda: None], idle_s=0.0)
    warm.request_started()
    warm.arm()
    for _ in range(5):
        await asyncio.sleep(0)
    assert warm.thread is None
    warm.request_finished()
    assert warm.thread is not None


async def test_a_failing_load_is_swallowed_and_the_next_still_runs():
    ran = threading.Event()

    def broken() -> None:
        raise RuntimeError("can't register atexit after shutdown")

    warm = WarmUp([broken, ran.set], idle_s=3600)
    warm.start()
    warm.thread.join(10)
    assert ran.is_set()


async def test_cancel_stops_the_idle_timer():
    warm = WarmUp([lambda: None], idle_s=0.0)
    warm.arm()
    warm.cancel()
    for _ in range(5):
        await asyncio.sleep(0)
    assert warm.thread is None

"""Write-behind for trace writes: the agent's thread queues, one task on the event loop stores.

The agent's worker thread appends each write (`put`) to one thread-safe FIFO and goes straight
back to the agent. While a run holds `open()`, ONE drainer task on the event loop stores the
queue in order, woken by a non-blocking `call_soon_threadsafe` — one per batch, not per write,
since each wake-up makes the loop thread compete with the agent for the interpreter. Woken, the
drainer lingers LINGER_S gathering what follows, then stores the lot as one batch
(`TraceService.write_batch`: one transaction): a scripted OODA cycle's ~50 writes take one or
two transactions instead of ~40. The first batch of a run is stored at once (the run's trace:
listed, and a `wait=false` start returned, without delay), and leaving `open()` cuts the linger
short and waits — shielded, on success, error or cancellation alike — until the queue is
empty, so a run's trace is complete when the runner returns.

So the order is the order things happened in (a trace's create before its steps, steps before
its completion, a child's create after its parent's), the agent never waits for the store (a
blocking thread→loop hop per write cost the agent's thread a store round trip: docs/benchmarks.md), and a crash loses
at most the last LINGER_S of writes. Without an open `open()` (a RunGroup wired by hand, or a
worker still running after the runner gave up on it) each `put` drains the FIFO through a
blocking `Runtime.call`.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections import deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import anyio

from callbacks.context import RunContext
from schema.trace_writes import TraceWrite

LINGER_S = 0.1  # how long the drainer gathers writes before storing them


@dataclass
class Queued:
    """One trace write record of a run; `origin` names the hook it came from, for the failure log."""

    ctx: RunContext
    write: TraceWrite
    origin: str
    step_number: int


class WriteBehind:
    """The queue of one run group's trace writes. `on_failure(write, exc)` hears of each write
    the store did not take (the drain never raises)."""

    def __init__(self, on_failure: Callable[[Queued, Exception], None]):
        self._on_failure = on_failure
        # All guarded by _lock: the FIFO the worker thread appends to, and while a drainer runs,
        # its loop and wake-up event (None: no drainer, drain blocking).
        self._lock = threading.Lock()
        self._queue: deque[Queued] = deque()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        self._closing = False
        self._woken = False  # a wake-up is on its way to the drainer: later writes need none
        self._draining = False  # touched on the event loop only

    def put(self, *writes: Queued) -> None:
        """Queue writes, together (worker thread): records built for them (redacted text), so
        storing them later stores what is true now."""
        if not writes:
            return
        with self._lock:
            self._queue.extend(writes)
            loop, wake = self._loop, self._wake
            woken, self._woken = self._woken, True
        if loop is not None and wake is not None:
            if not woken:
                loop.call_soon_threadsafe(wake.set)
        else:
            # No drainer: drain here, blocking, still in FIFO order.
            writes[0].ctx.runtime.call(self.drain)

    async def drain(self) -> None:
        """Store every queued write, oldest first (event loop)."""
        if self._draining:  # the drain already running on this loop will reach what was added
            return
        self._draining = True
        try:
            while writes := self._take():
                await self._store(writes)
        finally:
            self._draining = False

    def _take(self) -> list[Queued]:
        # The lock is held only to take the batch, never across the awaits storing it.
        with self._lock:
            writes = list(self._queue)
            self._queue.clear()
            self._woken = False  # the next write wakes the drainer again
        return writes

    async def _store(self, writes: list[Queued]) -> None:
        for traces, group in _by_service(writes):
            results = await traces.write_batch([w.write for w in group])
            for write, exc in zip(group, results):
                if exc is not None:
                    self._on_failure(write, exc)

    @asynccontextmanager
    async def open(self) -> AsyncIterator[None]:
        """Hold open around a run: writes queue and one drainer task stores them; leaving waits
        until every write is stored."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # not asyncio: keep the blocking writes
            yield
            return
        wake, closing = asyncio.Event(), asyncio.Event()

        async def drainer() -> None:
            first = True
            while True:
                await wake.wait()
                if not first and not closing.is_set():
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(closing.wait(), LINGER_S)
                first = False
                wake.clear()
                # One batch: what arrives while it is stored wakes the drainer again, and waits
                # its linger — except at the end, when the run's last writes are all stored now.
                await self._store(self._take())
                if closing.is_set():
                    await self.drain()
                with self._lock:
                    if self._closing and not self._queue:
                        # From now on a late write drains itself (blocking), still in order.
                        self._loop = self._wake = None
                        self._woken = False
                        return

        with self._lock:
            self._loop, self._wake, self._closing, self._woken = loop, wake, False, False
        # A plain asyncio task, outside the runner's cancel scopes: a cancelled runner still
        # waits for its agents to stop, and what they write while stopping (the run closed
        # `cancelled`) must be stored too. (Not a task group: it would wrap the run's own
        # exception in an ExceptionGroup.)
        task = loop.create_task(drainer())
        try:
            yield
        finally:
            with self._lock:
                self._closing = True
            closing.set()  # we are on the loop
            wake.set()
            with anyio.CancelScope(shield=True):
                await task


def _by_service(writes: list[Queued]) -> list[tuple[Any, list[Queued]]]:
    """Consecutive writes grouped by the TraceService they go to (one per runtime), in order."""
    groups: list[tuple[Any, list[Queued]]] = []
    for write in writes:
        traces = write.ctx.runtime.traces
        if groups and groups[-1][0] is traces:
            groups[-1][1].append(write)
        else:
            groups.append((traces, [write]))
    return groups

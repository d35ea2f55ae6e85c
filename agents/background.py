"""Runs started now and read later: `run_ooda_cycle` / `run_heartbeat` with `wait=false`.

With a real model an OODA cycle takes minutes, longer than clients wait for one tool call. A
background run is a task in the server's task group (`serving()`, held by the server's
lifespan; the agents themselves run in a worker thread, as always); the caller gets the run's
trace id at once and follows it with `get_trace`, whose step count grows as steps are stored.
`start` returns when the trace service reports the run's trace stored (an event, no polling).
`cancel` cancels the run's scope: the runner stops the agents at their next step boundary and
the trace closes as `cancelled`. `stop` (the server shutting down) cancels every run still
going, so none is left `running`; a run that does not stop in time is marked `interrupted`
when the runtime closes (dionysus_mcp/traces/lifecycle.py).

Any process can cancel a run (replicas, two stdio servers on one file): `cancel_anywhere`
cancels a run of this process at once, and for a run another process owns records a cancel
request in the store (traces/lifecycle.py) and waits for the run to end. While this process has
runs in flight — started here with wait=false, or awaited by a tools/call (`run_here`) — one
task checks the store for requests to them every CANCEL_CHECK_S and cancels those it finds.

The MCP Tasks extension (`io.modelcontextprotocol/tasks`) would be the protocol's own way to
do this; the mcp 2.3 SDK does not ship it (only `mcp.server.apps`), so `wait=false` it is.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator, Coroutine
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import anyio
import anyio.abc

from dionysus_mcp.config import BACKGROUND_STOP_WAIT_S, STARTED_WAIT_S
from dionysus_mcp.errors import DionysusError, InvalidInput, NotFound
from dionysus_mcp.store.base import StoreError
from dionysus_mcp.traces import lifecycle

if TYPE_CHECKING:
    from dionysus_mcp.runtime import Runtime

log = logging.getLogger(__name__)

STOP_WAIT_S = BACKGROUND_STOP_WAIT_S  # a cancelled run gets this long to reach a step boundary
# A run another process owns: its check for requests, then its stop, then its trace closing.
REMOTE_STOP_WAIT_S = STOP_WAIT_S + 2 * lifecycle.CANCEL_CHECK_S


@dataclass
class _Run:
    scope: anyio.CancelScope = field(default_factory=anyio.CancelScope)
    done: anyio.Event = field(default_factory=anyio.Event)
    error: BaseException | None = None


class BackgroundRuns:
    """The background runs of one server, by root trace id."""

    def __init__(self) -> None:
        self._runs: dict[str, _Run] = {}
        self._tasks: anyio.abc.TaskGroup | None = None
        self._watching = False

    @staticmethod
    def new_run_id() -> str:
        # The format of callbacks.context.new_id, not imported from there: this module loads
        # with the server, and callbacks pull in smolagents (kept off start-up).
        return f"run-{uuid.uuid4().hex[:16]}"

    @asynccontextmanager
    async def serving(self) -> AsyncIterator[None]:
        """Hold open while the server runs (its lifespan): background runs live in this task
        group; leaving stops them (`stop`) first."""
        async with anyio.create_task_group() as tasks:
            self._tasks = tasks
            try:
                yield
            finally:
                with anyio.CancelScope(shield=True):
                    await self.stop()
                self._tasks = None
                tasks.cancel_scope.cancel()  # what is left: the check for cancel requests

    async def start(self, runtime: "Runtime", run_id: str, run: Coroutine[Any, Any, Any]) -> str:
        """Start `run` (a runner call made with `run_id`) and return once its trace is stored,
        so the id can be read at once; an error before that is raised here."""
        if self._tasks is None:
            run.close()
            raise RuntimeError("background runs need BackgroundRuns.serving() held open (the server's lifespan)")
        entry = self._runs[run_id] = _Run()
        self._watch(runtime)
        stored = runtime.traces.created(run_id)
        ready = anyio.Event()

        async def relay() -> None:
            await stored.wait()
            ready.set()

        self._tasks.start_soon(self._guard, run_id, run, entry, ready, name=f"dionysus-run-{run_id}")
        async with anyio.create_task_group() as waiting:
            waiting.start_soon(relay)
            with anyio.move_on_after(STARTED_WAIT_S) as timer:
                await ready.wait()
            waiting.cancel_scope.cancel()
        runtime.traces.forget_created(run_id)
        if entry.done.is_set() and entry.error is not None and not stored.is_set():
            raise entry.error  # what stopped the run before its trace was written
        if timer.cancelled_caught:
            log.warning("background run %s: its trace is not stored yet; returning its id anyway", run_id)
        return run_id

    async def _guard(self, run_id: str, run: Coroutine[Any, Any, Any], entry: _Run, ready: anyio.Event) -> None:
        try:
            with entry.scope:
                await run
            if entry.scope.cancelled_caught:
                log.info("background run %s cancelled", run_id)
        except DionysusError as exc:  # the trace holds the error; nobody awaits this task
            entry.error = exc
            log.warning("background run %s failed: %s", run_id, exc)
        except Exception as exc:
            entry.error = exc
            log.exception("background run %s failed", run_id)
        finally:
            self._runs.pop(run_id, None)
            entry.done.set()
            ready.set()

    def is_running(self, run_id: str) -> bool:
        return run_id in self._runs

    async def run_here(self, runtime: "Runtime", run_id: str, run: Coroutine[Any, Any, Any]) -> tuple[Any, bool]:
        """Await `run` (a runner call made with `run_id`) in the caller's task, cancellable by
        cancel_run from any process meanwhile. Returns (its result, False), or (None, True)
        when cancel_run stopped it (the caller's own cancellation propagates as usual)."""
        entry = self._runs[run_id] = _Run()
        self._watch(runtime)
        try:
            with entry.scope:
                return await run, False
            return None, True
        finally:
            self._runs.pop(run_id, None)
            entry.done.set()

    def _watch(self, runtime: "Runtime") -> None:
        """Make sure the check for cancel requests runs while runs are in flight."""
        if not self._watching and self._tasks is not None:
            self._watching = True
            self._tasks.start_soon(self._watch_cancels, runtime, name="dionysus-cancel-requests")

    async def _watch_cancels(self, runtime: "Runtime") -> None:
        try:
            while self._runs:
                await runtime.clock.sleep(lifecycle.CANCEL_CHECK_S)
                ids = sorted(rid for rid, entry in self._runs.items() if not entry.scope.cancel_called)
                try:
                    requested = await lifecycle.cancel_requested(runtime.traces, ids)
                except StoreError as exc:  # the next check tries again
                    log.warning("could not check for cancel requests: %s", exc)
                    continue
                for run_id in requested:
                    entry = self._runs.get(run_id)
                    if entry is not None:
                        log.info("run %s: cancel requested through the store", run_id)
                        entry.scope.cancel()
        finally:
            self._watching = False  # no await since the loop saw no run: a new run restarts it

    async def cancel_anywhere(self, runtime: "Runtime", trace_id: str) -> Any:
        """Cancel the run, whichever process runs it; returns its trace as it ends (or, for
        another process's run that has not ended within REMOTE_STOP_WAIT_S, as it is)."""
        if await self.cancel(trace_id):
            return await runtime.traces.get_trace(trace_id)
        if await runtime.store.traces.get(trace_id) is None:
            raise await explain_not_cancellable(runtime, trace_id)
        trace = await runtime.traces.get_trace(trace_id)  # a run whose owner is gone is marked here
        if trace.status != "running" or trace.parent_id:
            raise await explain_not_cancellable(runtime, trace_id)
        if not await lifecycle.request_cancel(runtime.traces, trace_id):
            raise await explain_not_cancellable(runtime, trace_id)  # it ended meanwhile
        await lifecycle.wait_ended(runtime.traces, trace_id, REMOTE_STOP_WAIT_S)
        return await runtime.traces.get_trace(trace_id)

    async def cancel(self, run_id: str) -> bool:
        """Cancel a background run and wait for it to stop; False when it is not one of ours."""
        entry = self._runs.get(run_id)
        if entry is None:
            return False
        entry.scope.cancel()
        with anyio.move_on_after(STOP_WAIT_S):
            await entry.done.wait()
        return True

    async def stop(self) -> None:
        """The server is stopping: cancel every background run, wait for them to close."""
        entries = list(self._runs.values())
        if not entries:
            return
        log.info("stopping %d background run(s)", len(entries))
        for entry in entries:
            entry.scope.cancel()
        with anyio.move_on_after(STOP_WAIT_S):
            for entry in entries:
                await entry.done.wait()


async def explain_not_cancellable(runtime: "Runtime", trace_id: str) -> DionysusError:
    """Why `cancel_run(trace_id)` cannot cancel: the error to give the caller."""
    trace = await runtime.store.traces.get(trace_id)
    if trace is None:
        return NotFound(f"Unknown run {trace_id!r}: list_traces shows the stored runs")
    if trace.status != "running":
        return InvalidInput(f"run {trace_id!r} has already ended ({trace.status}): nothing to cancel")
    if trace.parent_id:
        return InvalidInput(f"{trace_id!r} is a delegated sub-run: cancel its root run {trace.parent_id!r}")
    return InvalidInput(f"run {trace_id!r} is running and cannot be cancelled right now: try again")

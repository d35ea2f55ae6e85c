"""One object holding the store and the services, built once at start-up and shared.

Agents (smolagents is synchronous) run in worker threads; their tools reach the async services
through `Runtime.call`, which hops back onto the event loop that owns the store connection.
"""

from __future__ import annotations

import functools
import gc
import logging
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, Protocol, TypeVar

import anyio
import anyio.from_thread
import anyio.lowlevel

from dionysus_mcp.cognition.basins import BasinService
from dionysus_mcp.cognition.coherence import CoherenceService
from dionysus_mcp.cognition.embedding import create_embedder
from dionysus_mcp.cognition.environment import EnvironmentService
from dionysus_mcp.cognition.memory import MemoryService
from dionysus_mcp.cognition.mosaeic import MosaeicService
from dionysus_mcp.cognition.wisdom import WisdomService
from dionysus_mcp import tokenizer
from dionysus_mcp.changes import Changes
from dionysus_mcp.clock import SYSTEM_CLOCK, Clock
from dionysus_mcp.config import Settings
from dionysus_mcp.errors import CallCancelled
from dionysus_mcp.secrets import ProcessSecrets
from dionysus_mcp.store.base import Store, StoreError
from dionysus_mcp.store.outbox import Outbox
from dionysus_mcp.traces import TraceService, lifecycle
from dionysus_mcp.traces.retention import TraceRetention
from dionysus_mcp.warm_up import WarmUp

log = logging.getLogger(__name__)
T = TypeVar("T")


class Runtime:
    def __init__(self, settings: Settings, store: Store, clock: Clock | None = None):
        self.settings = settings
        self.store = store
        self.clock = clock or SYSTEM_CLOCK  # the one clock of every service and timer
        self.embedder = create_embedder(settings.embedder)
        self.secrets = ProcessSecrets([settings.neo4j_password, settings.http_token])
        # What the services wrote, for the resource subscriptions of the MCP surface.
        self.changes = Changes()
        # Each service gets the store aggregates it uses (and only those).
        clock = self.clock
        self.basins = BasinService(store.basins, settings.basin_half_life_s, clock, embedder=self.embedder, changes=self.changes)
        self.memory = MemoryService(store.memories, self.basins, clock, embedder=self.embedder, secrets=self.secrets)
        self.coherence = CoherenceService(store.snapshots, self.basins, store.memories, clock)
        self.wisdom = WisdomService(store.wisdom, clock, embedder=self.embedder, secrets=self.secrets)
        self.mosaeic = MosaeicService(self.memory)
        self.environment = EnvironmentService(store, self.basins, clock)
        self.outbox = Outbox(settings.outbox_path or settings.db_path.parent / "outbox.db")
        self.traces = TraceService(store.traces, store.lifecycle, self.outbox, clock, changes=self.changes)
        self.retention = TraceRetention(store.traces, clock)
        # The embedding model and the token counter's vocabulary load when the server is idle
        # (warm_up.py); a server arms this once it serves. Without it they load when first used.
        self.warm_up = WarmUp([self.embedder.warm_up, tokenizer.encoding])
        self._token: anyio.lowlevel.EventLoopToken | None = None
        self._loop_thread: int | None = None

    async def start(self, read_only: bool = False) -> None:
        await self.store.open()
        self._token = anyio.lowlevel.current_token()
        self._loop_thread = threading.get_ident()
        if not read_only and self.outbox.count():
            try:
                result = await self.traces.flush()
                log.info("delivered %d queued trace writes (%d pending)", result["delivered"], result["pending"])
            except StoreError as exc:  # a bad queue must not stop the server
                log.warning("could not deliver queued trace writes: %s", exc)
        self.traces.read_only = read_only  # then orphaned runs are shown interrupted, not marked
        if not read_only:
            # After the outbox: a dead process's queued writes may have closed its runs already.
            await lifecycle.reap(self.traces)
        log.info("runtime ready on %s (%s)", self.store.backend, await self.store.describe())

    @asynccontextmanager
    async def timers(self) -> AsyncIterator[None]:
        """While held: the runtime's periodic work in a task group on its clock — renewing the
        leases of this process's running traces. Held by whoever runs agents for long (the
        server's lifespan, a CLI run), entered and left in one task."""
        if self.traces.read_only:
            yield
            return
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(lifecycle.keep_leases, self.traces)
            try:
                yield
            finally:
                tasks.cancel_scope.cancel()

    async def close(self) -> None:
        self.warm_up.cancel()
        try:
            await lifecycle.close_in_flight(self.traces)
        except Exception as exc:  # closing must go on: the next start marks them from their owner
            log.warning("could not mark in-flight runs at shutdown: %s", exc)
        self.outbox.close()
        await self.store.close()

    def call(self, fn: Callable[..., Awaitable[T]], *args: Any, **kwargs: Any) -> T:
        """Run an async service call from a worker thread, on the runtime's event loop."""
        if self._token is None:
            raise RuntimeError("Runtime.start() has not run")
        return anyio.from_thread.run(functools.partial(fn, *args, **kwargs), token=self._token)

    def call_unless(self, cancelled: CancelFlag, fn: Callable[..., Awaitable[T]], *args: Any, **kwargs: Any) -> T:
        """`call`, for a run's cognition: raises CallCancelled as soon as `cancelled` is set,
        even while the call waits for the store (a slot, a lock held by another process) —
        a cancelled run must reach its step boundary in bounded time, and a thread blocked in
        `call` cannot see its flag. What the call had done stays done (each service call is
        one transaction); what it had not, it does not do."""
        if cancelled.is_set():
            raise CallCancelled("the run was cancelled")
        if self._token is None:
            raise RuntimeError("Runtime.start() has not run")
        call = functools.partial(fn, *args, **kwargs)
        stopper = _ScopeStopper(self._token, self._loop_thread)

        async def unless_cancelled() -> T:
            # Shielded: the run's flag decides, not the scope the run's thread was started in.
            with anyio.CancelScope(shield=True):
                with anyio.CancelScope() as scope:
                    stopper.attach(scope)
                    return await call()
            raise CallCancelled("the run was cancelled")  # only the flag's cancel gets here

        cancelled.link(stopper)
        try:
            return anyio.from_thread.run(unless_cancelled, token=self._token)
        finally:
            cancelled.unlink(stopper)


class CancelFlag(Protocol):
    """A run's cancellation flag (`callbacks.context.CancelSignal`): settable from any thread,
    and it sets what is linked to it."""

    def is_set(self) -> bool: ...
    def link(self, event: Any) -> None: ...
    def unlink(self, event: Any) -> None: ...


class _ScopeStopper:
    """Linked to a run's flag while one call is pending: setting it cancels that call's scope
    on the event loop, from whichever thread sets the flag (no polling, no task per call)."""

    def __init__(self, token: anyio.lowlevel.EventLoopToken, loop_thread: int | None):
        self._token, self._loop_thread = token, loop_thread
        self._scope: anyio.CancelScope | None = None
        self._set = False
        self._lock = threading.Lock()

    def attach(self, scope: anyio.CancelScope) -> None:  # on the loop, as the call starts
        with self._lock:
            self._scope = scope
            if self._set:  # the flag was set between the check and now
                scope.cancel()

    def set(self) -> None:
        with self._lock:
            self._set = True
            scope = self._scope
        if scope is None:
            return  # attach() cancels it
        if threading.get_ident() == self._loop_thread:
            scope.cancel()
            return
        try:
            anyio.from_thread.run_sync(scope.cancel, token=self._token)
        except RuntimeError:  # the loop is gone: nothing is waiting on it
            pass


def freeze_startup_objects() -> None:
    """For a process entry point (the CLI's `serve`), once the server is started: everything
    imported so far lives as long as the process, so move it out of the cyclic collector's
    reach, or every full collection rescans the libraries' objects and a tool's tail latency
    grows with it during concurrent OODA cycles (docs/benchmarks.md, "Figures behind the code"). Process-global: never called by
    the runtime itself."""
    gc.freeze()


def build_store(settings: Settings, read_only: bool = False) -> Store:
    from dionysus_mcp.store import create_store

    return create_store(settings, read_only=read_only)


@asynccontextmanager
async def open_runtime(
    settings: Settings | None = None, store: Store | None = None, read_only: bool = False,
    clock: Clock | None = None,
) -> AsyncIterator[Runtime]:
    """`read_only`: for callers that only read: the store's schema is not applied and queued
    trace writes are not delivered (the outbox file is not even opened). `clock`: the one clock
    every service and timer uses. Its timers run while `Runtime.timers()` is held (the server's
    lifespan, a CLI run): this context holds no task group, so it may be entered and left in
    different tasks (pytest fixtures do)."""
    settings = settings or Settings.from_env()
    runtime = Runtime(settings, store or build_store(settings, read_only), clock=clock)
    try:
        await runtime.start(read_only)
        yield runtime
    finally:
        with anyio.CancelScope(shield=True):
            await runtime.close()

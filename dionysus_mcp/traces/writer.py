"""Writing execution traces: typed write records, stored in batches, never lost to an outage.

A trace is written only through the records of `schema.trace_writes` (a discriminated union).
`TraceWriter` builds them (`opening`, `step`, `completion`, `basin_link`: plain methods, safe to
call from an agent's worker thread) and stores a list of them with `write_batch` — one store
call, one transaction (`Traces.write`, the store's traces aggregate). The async shorthands `create_trace`,
`add_step`, `complete_trace` and `link_basin` build and write at once.

Writes are idempotent and, when the store is unreachable, go to the durable outbox
(store/outbox.py) as the union's JSON, so a store outage never fails an agent run and never
loses a step; the queue is delivered in order once the store answers again.
"""

from __future__ import annotations

import logging
import threading

import anyio
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any, NamedTuple

from dionysus_mcp.changes import Changes
from dionysus_mcp.clock import SYSTEM_CLOCK, Clock
from dionysus_mcp.store.base import StoreError, StoreUnavailable, TraceLifecycle, Traces
from dionysus_mcp.store.outbox import Outbox
from dionysus_mcp.traces.owner import LEASE_S, ProcessIdentity
from dionysus_mcp.traces.cursors import step_id, step_totals
from schema.models import StepRecord, TraceBasinLink, TraceRecord, TraceStatus
from schema.trace_writes import (
    AddStep, CompleteTrace, CreateTrace, LinkTraceBasin, SetTraceOwner, TraceWrite, from_outbox,
)

log = logging.getLogger(__name__)

RETRY_EVERY_S = 2.0  # while the store is down, try it again at most this often
SET_ASIDE_AFTER = 3  # refusals of one queued write (tries RETRY_EVERY_S apart) before it is set aside


def _trace_of(write: TraceWrite) -> str:
    if isinstance(write, CreateTrace):
        return write.trace.id
    if isinstance(write, AddStep):
        return write.step.trace_id
    if isinstance(write, LinkTraceBasin):
        return write.link.trace_id
    return write.trace_id  # CompleteTrace, SetTraceOwner


class StepTokens(NamedTuple):
    """What closing a trace needs of each of its steps (`step_totals`): kept for open traces
    instead of the whole record, so a run's observations do not live on in the collector's
    oldest generation until it ends."""

    input_tokens: int
    output_tokens: int
    unpruned_input_tokens: int


class TraceWriter:
    def __init__(
        self, traces: Traces, lifecycle: TraceLifecycle | None = None, outbox: Outbox | None = None,
        clock: Clock = SYSTEM_CLOCK, identity: ProcessIdentity | None = None, lease_s: float = LEASE_S,
        changes: Changes | None = None,
    ):
        self.stored = traces  # the store's traces aggregate
        self.changes = changes or Changes()  # told which traces each stored batch wrote
        self.leases = lifecycle  # the store's trace-lifecycle aggregate (None: nothing to reap)
        self.identity = identity or ProcessIdentity.current()  # the owner of the runs it creates
        self.lease_s = lease_s
        self.outbox = outbox
        self.clock = clock
        self._down_since: float | None = None
        self._set_aside = 0  # writes set aside (kept in the outbox file's set_aside table)
        self._refusals: dict[int, int] = {}  # outbox seq -> how often the store refused it
        # The steps of open traces by step id (a step written twice counts once), so a run's
        # totals are known even when it is closed while the store is down. Records are built in
        # agents' worker threads: guarded.
        self._open: dict[str, dict[str, StepTokens]] = {}
        self._open_lock = threading.Lock()
        # Trace id -> the root run it belongs to, for the runs this writer opened: a step of a
        # sub-run is news for whoever follows the root run.
        self._roots: dict[str, str] = {}
        self._created: dict[str, anyio.Event] = {}  # trace id -> set once its creation is stored

    def created(self, trace_id: str) -> anyio.Event:
        """An event set once the creation of this trace is stored (or queued in the outbox):
        what a caller that announces a run's id waits for (event loop)."""
        return self._created.setdefault(trace_id, anyio.Event())

    def forget_created(self, trace_id: str) -> None:
        self._created.pop(trace_id, None)

    def _announce(self, writes: Sequence[TraceWrite], results: list[Exception | None]) -> None:
        if not self._created:
            return
        for write, failure in zip(writes, results):
            if failure is None and isinstance(write, CreateTrace):
                event = self._created.pop(write.trace.id, None)
                if event is not None:
                    event.set()

    # --- building write records (any thread) ---------------------------------------------------
    def opening(
        self,
        agent_name: str,
        run_id: str | None = None,
        parent_id: str | None = None,
        parent_step: int | None = None,
        model: str = "",
        task: str = "",
        trace_id: str | None = None,
        metadata: dict[str, Any] | None = None,
        started_at: datetime | None = None,
    ) -> list[TraceWrite]:
        """The writes that open a trace: the trace, then this process as its owner."""
        trace = TraceRecord(
            id=trace_id or f"trace-{uuid.uuid4().hex}",
            run_id=run_id or f"run-{uuid.uuid4().hex[:12]}",
            agent_name=agent_name,
            parent_id=parent_id,
            parent_step=parent_step,
            model=model,
            task=task,
            started_at=started_at or self.clock(),
            metadata=metadata or {},
        )
        with self._open_lock:
            self._roots[trace.id] = self._roots.get(parent_id, parent_id) if parent_id else trace.id
            self._open[trace.id] = {}
        owner = self.identity.owner(self.clock(), self.lease_s)  # the lease runs from the write, not the run's start
        return [CreateTrace(trace=trace), SetTraceOwner(trace_id=trace.id, owner=owner)]

    def step(self, trace_id: str, step: StepRecord | dict[str, Any]) -> AddStep:
        """A completed step; writing the same (trace, type, number) again replaces it."""
        record = step if isinstance(step, StepRecord) else StepRecord(
            **{"id": step_id(trace_id, step["step_type"], step["step_number"]), "trace_id": trace_id, **step}
        )
        with self._open_lock:
            if trace_id in self._open:
                self._open[trace_id][record.id] = StepTokens(record.input_tokens, record.output_tokens, record.unpruned_input_tokens)
        return AddStep(step=record)

    def completion(
        self, trace_id: str, status: TraceStatus, summary: str | None = None, error: str | None = None,
        *, steps: Sequence[Any] | None = None, completed_at: datetime | None = None,
    ) -> CompleteTrace:
        """The write closing a trace, with the totals of its steps: those this writer saw, for a
        trace it opened; else `steps` (its stored steps)."""
        with self._open_lock:
            running = self._open.pop(trace_id, None)
        seen = list(running.values()) if running is not None else list(steps or [])
        return CompleteTrace(
            trace_id=trace_id, status=status, completed_at=completed_at or self.clock(), summary=summary,
            error=error, totals=step_totals(seen),
        )

    @staticmethod
    def basin_link(trace_id: str, basin_id: str, strength: float, at_step: int, basin_name: str = "") -> LinkTraceBasin:
        return LinkTraceBasin(
            link=TraceBasinLink(trace_id=trace_id, basin_id=basin_id, basin_name=basin_name, strength=strength, at_step=at_step)
        )

    def open_traces(self) -> list[str]:
        with self._open_lock:
            return list(self._open)

    def is_open(self, trace_id: str) -> bool:
        with self._open_lock:
            return trace_id in self._open

    # --- build and write at once ---------------------------------------------------------------
    async def create_trace(self, agent_name: str, **fields: Any) -> str:
        writes = self.opening(agent_name, **fields)
        await self._write_all(writes)
        return writes[0].trace.id

    async def add_step(self, trace_id: str, step: StepRecord | dict[str, Any]) -> str:
        write = self.step(trace_id, step)
        await self._write_all([write])
        return write.step.id

    async def complete_trace(
        self, trace_id: str, status: TraceStatus, summary: str | None = None, error: str | None = None
    ) -> None:
        steps = None if self.is_open(trace_id) else await self.stored.steps(trace_id)
        await self._write_all([self.completion(trace_id, status, summary, error, steps=steps)])

    async def link_basin(self, trace_id: str, basin_id: str, strength: float, at_step: int, basin_name: str = "") -> None:
        await self._write_all([self.basin_link(trace_id, basin_id, strength, at_step, basin_name)])

    async def _write_all(self, writes: list[TraceWrite]) -> None:
        for failure in await self.write_batch(writes):
            if failure is not None:
                raise failure

    # --- storing -------------------------------------------------------------------------------
    async def write_batch(self, writes: Sequence[TraceWrite]) -> list[Exception | None]:
        """Store the writes in ONE store call (one transaction on SQLite). Returns, per write,
        the exception it ended with (None: stored, or queued in the outbox). If the batch fails,
        its writes are made one by one, with the outbox as usual, so a failure is charged to the
        write that caused it."""
        results: list[Exception | None] = [None] * len(writes)
        if not writes:
            return results
        if self._down_since is None:
            try:
                await self.stored.write(list(writes))
                self._announce(writes, results)
                self._publish(writes)
                return results
            except Exception as exc:
                log.debug("a batch of %d trace writes failed (%s): writing them one by one", len(writes), exc)
        for i, write in enumerate(writes):
            try:
                await self._write(write)
            except Exception as exc:
                results[i] = exc
        self._announce(writes, results)
        if self._down_since is None:  # stored, not queued: readers can see them
            self._publish([w for w, failure in zip(writes, results) if failure is None])
        return results

    def _publish(self, writes: Sequence[TraceWrite]) -> None:
        """Tell the followers which traces the stored writes changed (each, and its root)."""
        touched: dict[str, None] = {}
        ended: list[str] = []
        with self._open_lock:
            for write in writes:
                trace_id = _trace_of(write)
                touched[trace_id] = None
                root = self._roots.get(trace_id)
                if root is not None:
                    touched[root] = None
                if isinstance(write, CompleteTrace) and root == trace_id:
                    ended.append(trace_id)
            for root in ended:  # the root run is over: forget its family
                for tid in [t for t, r in self._roots.items() if r == root]:
                    del self._roots[tid]
        for trace_id in touched:
            self.changes.publish("trace", trace_id)

    async def _write(self, write: TraceWrite) -> None:
        if self.outbox is None:
            await self.stored.write([write])
            return
        if self._down_since is not None:
            # Order matters (a step needs its trace): while anything is queued, queue behind it,
            # then deliver the queue in order when the store may be back.
            self.outbox.put(write)
            if self.clock.monotonic() - self._down_since >= RETRY_EVERY_S:
                await self._drain()
            return
        try:
            await self.stored.write([write])
        except StoreError as exc:
            # Unreachable, or refusing while it goes down or comes up (ArcadeDB answers a write
            # cut by its own shutdown with a DatabaseError): either way the write is kept, in
            # order, and retried; _drain sets aside only what is refused again and again.
            log.warning("store failed a trace write (%s): trace writes go to the outbox %s", exc, self.outbox.path)
            self._down_since = self.clock.monotonic()
            self.outbox.put(write)

    async def _drain(self) -> bool:
        """Deliver queued writes in order; True when the queue is empty."""
        assert self.outbox is not None
        for seq, op, payload in self.outbox.pending():
            try:
                write = from_outbox(op, payload)
            except ValueError as exc:  # a queued row that no longer makes sense: never will
                self._set_aside_write(seq, op, exc)
                continue
            try:
                await self.stored.write([write])
            except StoreUnavailable:
                self._down_since = self.clock.monotonic()
                return False
            except StoreError as exc:
                # The store answered but refused. A server still starting up does that too, so
                # keep the write queued and try again later; only a write refused on several
                # tries is set aside, so that it cannot block every write behind it.
                refusals = self._refusals[seq] = self._refusals.get(seq, 0) + 1
                if refusals < SET_ASIDE_AFTER:
                    log.warning("trace write %s refused (try %d), kept queued: %s", op, refusals, exc)
                    self._down_since = self.clock.monotonic()
                    return False
                self._set_aside_write(seq, op, exc)
                continue
            self._refusals.pop(seq, None)
            self.outbox.done(seq)
        self._down_since = None
        return True

    def _set_aside_write(self, seq: int, op: str, exc: Exception) -> None:
        assert self.outbox is not None
        log.error("trace write %s refused by the store, set aside in %s: %s", op, self.outbox.path, exc)
        self.outbox.set_aside(seq, str(exc))
        self._refusals.pop(seq, None)
        self._set_aside += 1

    async def deliver_pending(self) -> None:
        """Deliver what the outbox holds, if anything (the end of a run); never raises."""
        if self.outbox is None or self._down_since is None and not self.outbox.count():
            return
        try:
            await self._drain()
        except StoreError as exc:
            log.warning("queued trace writes not delivered yet: %s", exc)

    async def flush(self) -> dict[str, int]:
        """Deliver the outbox now (start-up, `dionysus-mcp traces flush`)."""
        if self.outbox is None:
            return {"delivered": 0, "set_aside": 0, "pending": 0}
        before, aside = self.outbox.count(), self._set_aside
        await self._drain()
        pending, aside = self.outbox.count(), self._set_aside - aside
        return {"delivered": before - pending - aside, "set_aside": aside, "pending": pending}

"""Execution traces: every agent run, step by step, readable back.

Writes are idempotent and, when the store is unreachable, go to the durable outbox
(store/outbox.py) so a store outage never fails an agent run and never loses a step. Reads
assemble a run with its delegated sub-runs, activated basins and token totals.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from datetime import datetime
from typing import Any, NamedTuple

import anyio
import anyio.to_thread
from pydantic import BaseModel

from dionysus_mcp.errors import InvalidInput, NotFound
from dionysus_mcp.store.base import Store, StoreError, StoreUnavailable
from dionysus_mcp.store.outbox import Outbox
from dionysus_mcp.traces import lifecycle
from dionysus_mcp.traces.diff import TraceDiff, diff_runs
from dionysus_mcp.traces.digest import TraceDigest, check_read, digest, page_steps
from dionysus_mcp.traces.models import (
    TokenUsageReport,
    TraceDetail,
    TracePage,
    UsageRow,
    token_totals,
    summarize,
)
from dionysus_mcp.traces.owner import LEASE_S, ProcessIdentity
from dionysus_mcp.traces.records import (
    as_utc,
    decode_cursor,
    encode_cursor,
    jsonable,
    step_id,
    step_totals,
    store_call,
)
from dionysus_mcp.traces.replay import render
from schema.models import (
    StepRecord,
    TraceBasinLink,
    TraceFilter,
    TraceRecord,
    TraceStatus,
    to_iso,
    utcnow,
)

log = logging.getLogger(__name__)

RETRY_EVERY_S = 2.0  # while the store is down, try it again at most this often
SET_ASIDE_AFTER = 3  # refusals of one queued write (tries RETRY_EVERY_S apart) before it is set aside
MAX_DEPTH = 5  # sub-runs nest manager → sub-agent; deeper is a bug, not a reason to recurse forever


class StepTokens(NamedTuple):
    """What closing a trace needs of each of its steps (`step_totals`): kept for open traces
    instead of the whole record, so a run's observations do not live on in the collector's
    oldest generation until it ends."""

    input_tokens: int
    output_tokens: int
    unpruned_input_tokens: int


# The writes of the write_batch running in this task (None: write at once).
_BATCH: ContextVar[list[tuple[str, Any, int]] | None] = ContextVar("trace_write_batch", default=None)


class TraceService:
    def __init__(
        self, store: Store, outbox: Outbox | None = None, clock: Callable[[], datetime] = utcnow,
        identity: ProcessIdentity | None = None, lease_s: float = LEASE_S,
    ):
        self.store = store
        self.identity = identity or ProcessIdentity.current()  # the owner of the runs it creates
        self.lease_s = lease_s
        self.read_only = False  # a read-only store: orphaned runs are reported, never marked
        self.outbox = outbox
        self.clock = clock
        self._down_since: float | None = None
        self._set_aside = 0  # writes set aside (kept in the outbox file's set_aside table)
        self._refusals: dict[int, int] = {}  # outbox seq -> how often the store refused it
        # The steps of open traces by step id (a step written twice counts once), so a run's
        # totals are known even when it is closed while the store is down.
        self._open: dict[str, dict[str, StepTokens]] = {}

    # --- writes ------------------------------------------------------------------------------
    async def create_trace(
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
    ) -> str:
        """`started_at`: when the run began (the write may be stored later, in a batch behind
        the run: callbacks/write_behind.py); now when not given."""
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
        self._open[trace.id] = {}
        await self._write("create_trace", trace)
        owner = self.identity.owner(self.clock(), self.lease_s)  # the lease runs from the write
        await self._write("set_trace_owner", {"trace_id": trace.id, "owner": owner.model_dump(mode="json")})
        return trace.id

    async def add_step(self, trace_id: str, step: StepRecord | dict[str, Any]) -> str:
        """Persist a completed step; writing the same (trace, type, number) again replaces it."""
        record = step if isinstance(step, StepRecord) else StepRecord(
            **{"id": step_id(trace_id, step["step_type"], step["step_number"]), "trace_id": trace_id, **step}
        )
        if trace_id in self._open:
            self._open[trace_id][record.id] = StepTokens(record.input_tokens, record.output_tokens, record.unpruned_input_tokens)
        await self._write("add_step", record)
        return record.id

    async def complete_trace(
        self, trace_id: str, status: TraceStatus, summary: str | None = None, error: str | None = None,
        completed_at: datetime | None = None,
    ) -> None:
        """`completed_at`: when the run ended (see create_trace); now when not given."""
        running = self._open.pop(trace_id, None)
        steps: list[Any] = list(running.values()) if running is not None else await self.store.get_steps(trace_id)
        await self._write(
            "complete_trace",
            {"trace_id": trace_id, "status": status, "completed_at": to_iso(completed_at or self.clock()), "summary": summary,
             "error": error, "totals": step_totals(steps)},
        )

    async def link_basin(self, trace_id: str, basin_id: str, strength: float, at_step: int, basin_name: str = "") -> None:
        link = TraceBasinLink(trace_id=trace_id, basin_id=basin_id, basin_name=basin_name, strength=strength, at_step=at_step)
        await self._write("link_trace_basin", link)

    async def write_batch(self, calls: list[Callable[[], Awaitable[Any]]]) -> list[Exception | None]:
        """Make several write calls (e.g. `lambda: service.add_step(...)`) and store what they
        write in ONE store call (`Store.apply_trace_writes`: one transaction on SQLite) instead
        of one per write. Returns, per call, the exception it ended with (None: stored or
        queued in the outbox). If the batch fails, its writes are retried one by one, with the
        outbox as usual, so a failure is charged to the write that caused it. Only this task's
        writes are collected (a context variable): other tasks' writes are not held back."""
        results: list[Exception | None] = [None] * len(calls)
        collected: list[tuple[str, BaseModel | dict[str, Any], int]] = []
        token = _BATCH.set(collected)
        try:
            for i, call in enumerate(calls):
                start = len(collected)
                try:
                    await call()
                except Exception as exc:
                    results[i] = exc
                collected[start:] = [(op, payload, i) for op, payload, _ in collected[start:]]
        finally:
            _BATCH.reset(token)
        if not collected:
            return results
        try:
            await self.store.apply_trace_writes([store_call(op, payload) for op, payload, _ in collected])
        except Exception as exc:
            log.debug("a batch of %d trace writes failed (%s): writing them one by one", len(collected), exc)
            for op, payload, i in collected:
                try:
                    await self._write(op, payload)
                except Exception as one:
                    results[i] = results[i] or one
        return results

    async def _apply(self, op: str, payload: BaseModel | dict[str, Any]) -> None:
        """One write. `payload` is the record itself, or its JSON form read back from the outbox
        (records go through JSON only when they are queued: the common path skips the round
        trip, which was most of persistence's cost per step)."""
        method, args = store_call(op, payload)
        await getattr(self.store, method)(*args)

    async def _write(self, op: str, payload: BaseModel | dict[str, Any]) -> None:
        batch = _BATCH.get()
        if batch is not None and self._down_since is None:
            batch.append((op, payload, -1))  # stored when the batch ends (write_batch)
            return
        if self.outbox is None:
            await self._apply(op, payload)
            return
        if self._down_since is not None:
            # Order matters (a step needs its trace): while anything is queued, queue behind it,
            # then deliver the queue in order when the store may be back.
            self.outbox.put(op, jsonable(payload))
            if time.monotonic() - self._down_since >= RETRY_EVERY_S:
                await self._drain()
            return
        try:
            await self._apply(op, payload)
        except StoreError as exc:
            # Unreachable, or refusing while it goes down or comes up (ArcadeDB answers a write
            # cut by its own shutdown with a DatabaseError): either way the write is kept, in
            # order, and retried; _drain sets aside only what is refused again and again.
            log.warning("store failed a trace write (%s): trace writes go to the outbox %s", exc, self.outbox.path)
            self._down_since = time.monotonic()
            self.outbox.put(op, jsonable(payload))

    async def _drain(self) -> bool:
        """Deliver queued writes in order; True when the queue is empty."""
        assert self.outbox is not None
        for seq, op, payload in self.outbox.pending():
            try:
                await self._apply(op, payload)
            except StoreUnavailable:
                self._down_since = time.monotonic()
                return False
            except StoreError as exc:
                # The store answered but refused. A server still starting up does that too, so
                # keep the write queued and try again later; only a write refused on several
                # tries is set aside, so that it cannot block every write behind it.
                refusals = self._refusals[seq] = self._refusals.get(seq, 0) + 1
                if refusals < SET_ASIDE_AFTER:
                    log.warning("trace write %s refused (try %d), kept queued: %s", op, refusals, exc)
                    self._down_since = time.monotonic()
                    return False
                self._set_aside_write(seq, op, exc)
                continue
            except ValueError as exc:  # a queued payload that no longer makes sense: never will
                self._set_aside_write(seq, op, exc)
                continue
            self._refusals.pop(seq, None)
            self.outbox.done(seq)
        self._down_since = None
        return True

    def _set_aside_write(self, seq: int, op: str, exc: Exception) -> None:
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

    # --- reads -------------------------------------------------------------------------------
    async def _record(self, trace_id: str) -> TraceRecord:
        trace_id = (trace_id or "").strip()
        if not trace_id or len(trace_id) > 200:
            raise InvalidInput("trace_id must be 1 to 200 characters: use an id from list_traces")
        trace = await self.store.get_trace(trace_id)
        if trace is None:
            raise NotFound(f"Unknown trace {trace_id!r}: list_traces shows the stored runs")
        return (await lifecycle.refresh(self, [trace]))[0]

    async def get_trace(self, trace_id: str) -> TraceDetail:
        return await self._detail(await self._record(trace_id), depth=0)

    async def read_trace(
        self, trace_id: str, detail: str = "summary", steps_from: int | None = None, steps_limit: int | None = None
    ) -> TraceDetail | TraceDigest:
        """get_trace for clients that pay per byte: the summary, or the full form by pages."""
        check_read(detail, steps_from, steps_limit)
        run = await self.get_trace(trace_id)
        return digest(run) if detail == "summary" else page_steps(run, steps_from, steps_limit)

    async def export_otel(self, trace_id: str, exporter: Any = None) -> int:
        """Export a stored run as OpenTelemetry spans (traces/otel.py); returns how many."""
        from dionysus_mcp.traces.otel import export_run

        run = await self.get_trace(trace_id)
        return await anyio.to_thread.run_sync(export_run, run, exporter)

    async def diff(self, a: str, b: str) -> TraceDiff:
        """Two runs side by side (traces/diff.py)."""
        return diff_runs(await self.get_trace(a), await self.get_trace(b))

    async def _detail(self, trace: TraceRecord, depth: int) -> TraceDetail:
        children = await lifecycle.refresh(self, await self.store.get_children(trace.id)) if depth < MAX_DEPTH else []
        sub_runs = [await self._detail(child, depth + 1) for child in children]
        summary = summarize(trace)
        total = summary.tokens
        for sub in sub_runs:
            total = total.add(sub.total_tokens)
        return TraceDetail(
            **summary.model_dump(),
            steps=await self.store.get_steps(trace.id),
            sub_runs=sub_runs,
            activated_basins=await self.store.get_trace_basins(trace.id),
            total_tokens=total,
        )

    async def list_traces(
        self,
        agent_name: str | None = None,
        status: TraceStatus | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 20,
        cursor: str | None = None,
        roots_only: bool = False,
    ) -> TracePage:
        if not 1 <= limit <= 500:
            raise InvalidInput(f"limit must be between 1 and 500, got {limit}")
        since, until = as_utc(since), as_utc(until)
        if since and until and since > until:
            raise InvalidInput("since is after until: nothing can match")
        after = decode_cursor(cursor) if cursor else None
        flt = TraceFilter(agent_name=agent_name, status=status, since=since, until=until, roots_only=roots_only)
        rows = await self.store.list_traces(flt, limit + 1, after)
        page = await lifecycle.refresh(self, rows[:limit])
        if status is not None:  # a run found orphaned just now is no longer `running`
            page = [t for t in page if t.status == status]
        return TracePage(
            traces=[summarize(t) for t in page],
            next_cursor=encode_cursor(rows[limit - 1]) if len(rows) > limit else None,
        )

    async def token_usage(self, agent_name: str | None = None, since: datetime | None = None) -> TokenUsageReport:
        since = as_utc(since)
        rows = await self.store.token_totals(TraceFilter(agent_name=agent_name, since=since))

        def group(key: str) -> list[UsageRow]:
            acc: dict[str, UsageRow] = {}
            for r in rows:
                row = acc.setdefault(r[key], UsageRow(name=r[key], runs=0, input_tokens=0, output_tokens=0, pruned_tokens_saved=0))
                row.runs += r["runs"]
                row.input_tokens += r["input_tokens"]
                row.output_tokens += r["output_tokens"]
                row.pruned_tokens_saved += r["pruned_tokens_saved"]
            return sorted(acc.values(), key=lambda u: u.name)

        inp = sum(r["input_tokens"] for r in rows)
        out = sum(r["output_tokens"] for r in rows)
        saved = sum(r["pruned_tokens_saved"] for r in rows)
        return TokenUsageReport(
            runs=sum(r["runs"] for r in rows),
            totals=token_totals(inp, out, saved),
            pruning_saved_pct=round(100.0 * saved / (inp + saved), 2) if inp + saved else 0.0,
            by_agent=group("agent_name"),
            by_model=group("model"),
            since=since,
            agent_name=agent_name,
        )

    async def replay(self, trace_id: str) -> str:
        """A readable step-by-step markdown narrative of the run and its sub-runs."""
        return render(await self.get_trace(trace_id))

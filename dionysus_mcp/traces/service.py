"""Execution traces: every agent run, step by step, readable back.

Writes are typed records stored in batches, with the durable outbox behind them when the store
is unreachable (traces/writer.py). Reads assemble a run with its delegated sub-runs, activated
basins and token totals.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

import anyio
import anyio.to_thread

from dionysus_mcp.changes import Changes
from dionysus_mcp.clock import SYSTEM_CLOCK, Clock
from dionysus_mcp.errors import InvalidInput, NotFound
from dionysus_mcp.store.base import TraceLifecycle, Traces
from dionysus_mcp.store.outbox import Outbox
from dionysus_mcp.traces import lifecycle
from dionysus_mcp.traces.cursors import as_utc, decode_cursor, encode_cursor
from dionysus_mcp.traces.diff import TraceDiff, diff_runs
from dionysus_mcp.traces.digest import TraceDigest, check_read, digest, page_steps
from dionysus_mcp.traces.inputs import GetTrace, ListTraces
from dionysus_mcp.traces.models import (
    TokenUsageReport,
    TraceDetail,
    TracePage,
    UsageRow,
    token_totals,
    summarize,
)
from dionysus_mcp.traces.owner import LEASE_S, ProcessIdentity
from dionysus_mcp.traces.replay import render
from dionysus_mcp.traces.writer import RETRY_EVERY_S, SET_ASIDE_AFTER, TraceWriter
from schema.models import TraceFilter, TraceRecord, TraceStatus

log = logging.getLogger(__name__)

__all__ = ["MAX_DEPTH", "RETRY_EVERY_S", "SET_ASIDE_AFTER", "TraceService"]

MAX_TRACE_ID = GetTrace.bound("trace_id", "max_length")  # traces/inputs.py
MAX_DEPTH = 5  # sub-runs nest manager → sub-agent; deeper is a bug, not a reason to recurse forever


class TraceService(TraceWriter):
    """Writes (traces/writer.py) and reads of execution traces."""

    def __init__(
        self, traces: Traces, lifecycle: TraceLifecycle | None = None, outbox: Outbox | None = None,
        clock: Clock = SYSTEM_CLOCK, identity: ProcessIdentity | None = None, lease_s: float = LEASE_S,
        changes: Changes | None = None,
    ):
        super().__init__(traces, lifecycle, outbox, clock, identity, lease_s, changes)
        self.read_only = False  # a read-only store: orphaned runs are reported, never marked

    # --- reads -------------------------------------------------------------------------------
    async def _record(self, trace_id: str) -> TraceRecord:
        trace_id = (trace_id or "").strip()
        if not trace_id or len(trace_id) > MAX_TRACE_ID:
            raise InvalidInput(f"trace_id must be 1 to {MAX_TRACE_ID} characters: use an id from list_traces")
        trace = await self.stored.get(trace_id)
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
        children = await lifecycle.refresh(self, await self.stored.children(trace.id)) if depth < MAX_DEPTH else []
        sub_runs = [await self._detail(child, depth + 1) for child in children]
        summary = summarize(trace)
        total = summary.tokens
        for sub in sub_runs:
            total = total.add(sub.total_tokens)
        return TraceDetail(
            **summary.model_dump(),
            steps=await self.stored.steps(trace.id),
            sub_runs=sub_runs,
            activated_basins=await self.stored.basins(trace.id),
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
        low, high = ListTraces.span("limit")
        if not low <= limit <= high:
            raise InvalidInput(f"limit must be between {low} and {high}, got {limit}")
        since, until = as_utc(since), as_utc(until)
        if since and until and since > until:
            raise InvalidInput("since is after until: nothing can match")
        after = decode_cursor(cursor) if cursor else None
        flt = TraceFilter(agent_name=agent_name, status=status, since=since, until=until, roots_only=roots_only)
        rows = await self.stored.list(flt, limit + 1, after)
        page = await lifecycle.refresh(self, rows[:limit])
        if status is not None:  # a run found orphaned just now is no longer `running`
            page = [t for t in page if t.status == status]
        return TracePage(
            traces=[summarize(t) for t in page],
            next_cursor=encode_cursor(rows[limit - 1]) if len(rows) > limit else None,
        )

    async def token_usage(self, agent_name: str | None = None, since: datetime | None = None) -> TokenUsageReport:
        since = as_utc(since)
        rows = await self.stored.token_totals(TraceFilter(agent_name=agent_name, since=since))

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

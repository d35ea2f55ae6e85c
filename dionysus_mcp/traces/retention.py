"""Forgetting agent runs: delete traces by id, by age or by agent, and the retention setting
(DIONYSUS_TRACE_RETENTION_DAYS) that deletes old runs when a server starts and once a day.

A trace always goes with its steps, basin activations and delegated sub-runs (the store's
`delete_traces`). Kept apart from the service that writes and reads runs (service.py).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime, timedelta

import anyio
from pydantic import BaseModel, Field

from dionysus_mcp.clock import SYSTEM_CLOCK, Clock
from dionysus_mcp.errors import InvalidInput, NotFound
from dionysus_mcp.store.base import StoreError, Traces
from dionysus_mcp.traces.cursors import as_utc
from dionysus_mcp.traces.inputs import DeleteTraces
from schema.models import TraceFilter, utcnow

log = logging.getLogger(__name__)

PAGE = 500
MAX_IDS = DeleteTraces.bound("trace_ids", "max_length")  # traces/inputs.py
RETENTION_EVERY_S = 24 * 3600.0


class TraceDeletion(BaseModel):
    traces_deleted: int = Field(description="Runs removed, delegated sub-runs included.")
    steps_deleted: int
    matched: list[str] = Field(description="Ids of the runs selected (their sub-runs went with them).")
    message: str


class TraceRetention:
    def __init__(self, traces: Traces, clock: Clock = SYSTEM_CLOCK):
        self.stored = traces  # the store's traces aggregate
        self.clock = clock

    async def delete_traces(
        self,
        trace_ids: list[str] | None = None,
        before: datetime | None = None,
        agent_name: str | None = None,
    ) -> TraceDeletion:
        """By ids, or every run started before `before` and/or by `agent_name` (both filters
        together narrow). Unknown ids are an error naming them; nothing is deleted then."""
        if trace_ids and (before is not None or agent_name):
            raise InvalidInput("give either trace ids, or before and/or agent_name, not both")
        if trace_ids:
            if len(trace_ids) > MAX_IDS:
                raise InvalidInput(f"{len(trace_ids)} trace ids given; the limit is {MAX_IDS}")
            ids = list(dict.fromkeys(t.strip() for t in trace_ids))
            missing = [t for t in ids if await self.stored.get(t) is None]
            if missing:
                shown = ", ".join(repr(t[:100]) for t in missing[:5])
                raise NotFound(f"no run has id {shown}: nothing deleted (listing traces shows ids)")
            what = f"{len(ids)} run(s) by id"
        elif before is not None or agent_name:
            ids = await self._matching(before, agent_name)
            what = " and ".join(
                part for part in (
                    f"started before {as_utc(before).isoformat()}" if before is not None else "",
                    f"of agent {agent_name!r}" if agent_name else "",
                ) if part
            )
            if not ids:
                return TraceDeletion(traces_deleted=0, steps_deleted=0, matched=[], message=f"no runs {what}: nothing deleted")
            what = f"{len(ids)} run(s) {what}"
        else:
            raise InvalidInput("say which runs to delete: trace ids, before (a date) or agent_name")
        removed = await self.stored.delete(ids)
        return TraceDeletion(
            traces_deleted=removed["traces"], steps_deleted=removed["steps"], matched=ids,
            message=f"deleted {what}: {removed['traces']} traces (sub-runs included), {removed['steps']} steps",
        )

    async def _matching(self, before: datetime | None, agent_name: str | None) -> list[str]:
        # TraceFilter.until is inclusive: one microsecond less makes `before` strict.
        until = as_utc(before) - timedelta(microseconds=1) if before is not None else None
        flt = TraceFilter(agent_name=agent_name or None, until=until)
        ids: list[str] = []
        after = None
        while True:
            page = await self.stored.list(flt, PAGE, after)
            ids.extend(t.id for t in page)
            if len(page) < PAGE:
                return ids
            after = (page[-1].started_at, page[-1].id)

    async def apply_retention(self, days: float) -> TraceDeletion:
        """Delete every run started more than `days` ago."""
        return await self.delete_traces(before=self.clock() - timedelta(days=days))


@asynccontextmanager
async def retained(retention: TraceRetention, days: float | None, every_s: float = RETENTION_EVERY_S) -> AsyncIterator[None]:
    """While a server runs: apply the retention at start, then every `every_s` seconds. A store
    failure is logged and tried again next time; it never stops the server."""
    if not days:
        yield
        return

    async def once() -> None:
        try:
            result = await retention.apply_retention(days)
            if result.traces_deleted:
                log.info("trace retention (%g days): %s", days, result.message)
        except StoreError as exc:
            log.warning("trace retention could not delete old runs: %s", exc)

    await once()

    async def daily() -> None:
        while True:
            await retention.clock.sleep(every_s)
            await once()

    async with anyio.create_task_group() as tg:
        tg.start_soon(daily)
        try:
            yield
        finally:
            tg.cancel_scope.cancel()

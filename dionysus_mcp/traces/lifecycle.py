"""No stuck runs: owners, leases, turning the runs of a vanished process into `interrupted`, and
cancel requests from any process.

Every trace a process creates records that process as its owner (traces/owner.py) with a
lease; while the process has runs open it renews their leases every RENEW_EVERY_S
(`keep_leases`, run by the runtime for as long as it is open). A run whose owner is gone —
killed, crashed, a closed laptop — is marked `interrupted` with the totals of its stored steps
(`reap`): at start-up for every running trace, and whenever a running trace is read. A run of a
live process (this one, or a second server on the same file or database) is never touched, and
the store applies the mark only while the trace is still `running` under the owner that was
judged gone. While a run is in progress its step count and tokens are computed from its stored
steps (`with_live_totals`), so readers see them grow.

Run control goes through the store, so any process can stop any run: `request_cancel` records
a request on the trace (the lifecycle aggregate), and the owner, while it has runs in flight,
checks for requests to them every CANCEL_CHECK_S on the runtime's clock (`cancel_requested`:
one indexed read; agents/background.py runs the check) and cancels the run it finds. The
interval is the promise "noticed within a second" with room for the read itself on a loaded
machine; an idle process (no run in flight) makes no check at all.

Kept out of service.py on purpose: the lifecycle is its own concern (and module size).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import anyio

from dionysus_mcp.store.base import StoreError
from dionysus_mcp.traces.owner import RENEW_EVERY_S, owner_gone
from dionysus_mcp.traces.cursors import step_totals
from schema.models import RunningTrace, TraceOwner, TraceRecord

if TYPE_CHECKING:
    from dionysus_mcp.traces.service import TraceService

log = logging.getLogger(__name__)

CANCEL_CHECK_S = 0.5  # the owner of runs in flight looks for cancel requests to them this often
STOPPED_ERROR = "interrupted: the server stopped while this run was in flight; the steps it completed are stored"


def gone_error(owner: TraceOwner | None) -> str:
    who = f"process {owner.pid} on {owner.host}" if owner else "an unrecorded process"
    return f"interrupted: the server {who} that ran it is gone; the steps it completed are stored"


async def orphans(service: "TraceService", trace_ids: list[str] | None = None) -> list[RunningTrace]:
    """The running traces (all, or those of `trace_ids`) whose owner is gone."""
    if service.leases is None:  # a service without the lifecycle aggregate owns nothing to reap
        return []
    now = service.clock()
    return [
        run for run in await service.leases.running(trace_ids)
        if not service.is_open(run.id) and owner_gone(run.owner, run.started_at, service.identity, now, service.lease_s)
    ]


async def reap(service: "TraceService", trace_ids: list[str] | None = None) -> list[str]:
    """Mark `interrupted` the running traces (all, or those of `trace_ids`) whose owner is gone;
    returns their ids. Never raises for a store error: a read must not fail because of it."""
    marked: list[str] = []
    try:
        now = service.clock()
        for run in await orphans(service, trace_ids):
            totals = step_totals(await service.stored.steps(run.id))
            token = run.owner.token if run.owner else None
            if service.leases is not None and await service.leases.interrupt(run.id, token, now, gone_error(run.owner), totals):
                marked.append(run.id)
    except StoreError as exc:
        log.warning("could not check running traces for vanished owners: %s", exc)
    if marked:
        log.warning("marked %d run(s) of vanished server processes as interrupted: %s", len(marked), ", ".join(marked))
    return marked


async def with_live_totals(service: "TraceService", traces: list[TraceRecord]) -> list[TraceRecord]:
    """Running traces with step_count and tokens from their stored steps (the stored totals
    are only written when a run ends)."""
    out = []
    for trace in traces:
        if trace.status == "running":
            trace = trace.model_copy(update=step_totals(await service.stored.steps(trace.id)))
        out.append(trace)
    return out


async def refresh(service: "TraceService", traces: list[TraceRecord]) -> list[TraceRecord]:
    """What a read returns for `traces`: orphaned runs marked first, running ones with live totals."""
    running = [t.id for t in traces if t.status == "running"]
    if not running:
        return traces
    if service.read_only:  # cannot mark them: report them as they are, totals from their steps
        try:
            gone = {run.id: run for run in await orphans(service, running)}
        except StoreError:
            gone = {}
        return [t.model_copy(update={"status": "interrupted", "error": gone_error(gone[t.id].owner)}) if t.id in gone else t
                for t in await with_live_totals(service, traces)]
    marked = set(await reap(service, running))
    if marked:
        fresh = {t.id: t for t in [await service.stored.get(i) for i in marked] if t is not None}
        traces = [fresh.get(t.id, t) for t in traces]
    return await with_live_totals(service, traces)


async def renew(service: "TraceService") -> int:
    """Extend the leases of this process's running traces (nothing to do when none is open)."""
    if not service.open_traces() or service.leases is None:
        return 0
    owner = service.identity.owner(service.clock(), service.lease_s)
    try:
        return await service.leases.renew_leases(owner.token, owner.lease_until)
    except StoreError as exc:  # the outbox holds the run's writes; the next renewal tries again
        log.warning("could not renew the leases of running traces: %s", exc)
        return 0


async def keep_leases(service: "TraceService", every_s: float = RENEW_EVERY_S) -> None:
    """Renew leases until cancelled (the runtime runs this in its task group), on the
    service's clock."""
    while True:
        await service.clock.sleep(every_s)
        await renew(service)


async def close_in_flight(service: "TraceService") -> list[str]:
    """At shutdown: runs this process still has open are marked `interrupted` (a run that was
    cancelled in time has closed itself as `cancelled` already)."""
    closed = []
    for trace_id in service.open_traces():
        try:
            await service.complete_trace(trace_id, "interrupted", error=STOPPED_ERROR)
            closed.append(trace_id)
        except StoreError as exc:
            log.warning("could not mark run %s interrupted at shutdown: %s", trace_id, exc)
    return closed


async def request_cancel(service: "TraceService", trace_id: str) -> bool:
    """Ask the owner of a running trace, whichever process it is, to cancel it; False when the
    trace is not running (or unknown)."""
    if service.leases is None:
        return False
    return await service.leases.request_cancel(trace_id, service.clock())


async def cancel_requested(service: "TraceService", trace_ids: list[str]) -> list[str]:
    """Of these (running, owned here) traces, those another process asked to cancel."""
    if service.leases is None or not trace_ids:
        return []
    return await service.leases.cancel_requested(trace_ids)


async def wait_ended(service: "TraceService", trace_id: str, timeout_s: float) -> None:
    """Wait until a trace another process runs is no longer `running` (or `timeout_s` passed),
    checking the store every CANCEL_CHECK_S — the owner's own cadence, so no tighter."""
    if service.leases is None:
        return
    deadline = service.clock.monotonic() + timeout_s
    while True:
        progress = await service.leases.progress([trace_id])
        if not progress.get(trace_id, "").startswith("running:") or service.clock.monotonic() >= deadline:
            return
        await service.clock.sleep(CANCEL_CHECK_S)

"""The trace service's lifecycle on a real SQLite file: owners recorded, leases renewed, live
step counts, runs of a vanished process interrupted on read, in-flight runs marked at stop."""

from __future__ import annotations

from datetime import timedelta

from dionysus_mcp.config import Settings
from dionysus_mcp.runtime import open_runtime
from dionysus_mcp.traces import lifecycle
from dionysus_mcp.traces.owner import ProcessIdentity
from schema.trace_writes import SetTraceOwner
from tests.helpers import settings_env


async def test_owner_lease_and_live_step_count(runtime, clock):
    svc = runtime.traces
    tid = await svc.create_trace("heartbeat", task="t")
    await svc.add_step(tid, {"step_type": "task", "step_number": 0, "input_tokens": 5})
    await svc.add_step(tid, {"step_type": "action", "step_number": 1, "input_tokens": 7, "output_tokens": 2})
    [run] = await runtime.store.lifecycle.running()
    assert run.owner.token == svc.identity.token and run.owner.lease_until == clock() + timedelta(seconds=svc.lease_s)
    clock.advance(30)
    assert await lifecycle.renew(svc) == 1
    [run] = await runtime.store.lifecycle.running()
    assert run.owner.lease_until == clock() + timedelta(seconds=svc.lease_s)
    page = await svc.list_traces()
    assert [(t.status, t.step_count, t.tokens.input_tokens) for t in page.traces] == [("running", 2, 12)]
    assert (await svc.get_trace(tid)).step_count == 2


async def test_a_vanished_owner_is_interrupted_on_read_and_a_live_one_is_not(runtime, clock):
    svc = runtime.traces
    mine = await svc.create_trace("heartbeat")
    # Another machine's run, its lease about to run out.
    other = ProcessIdentity("elsewhere", 99, "random:x")
    foreign = await svc.create_trace("perception")
    await runtime.store.traces.write([SetTraceOwner(trace_id=foreign, owner=other.owner(clock(), lease_s=60))])
    svc._open.pop(foreign)  # not this process's run
    await svc.add_step(foreign, {"step_type": "task", "step_number": 0})
    assert {t.id: t.status for t in (await svc.list_traces()).traces} == {mine: "running", foreign: "running"}
    clock.advance(61)
    # A list of running runs leaves out the one found orphaned while listing.
    assert [t.id for t in (await svc.list_traces(status="running")).traces] == [mine]
    assert {t.id: t.status for t in (await svc.list_traces()).traces} == {mine: "running", foreign: "interrupted"}
    detail = await svc.get_trace(foreign)
    assert detail.step_count == 1 and "process 99 on elsewhere" in detail.error


async def test_runs_in_flight_at_stop_are_marked_interrupted(tmp_path):
    settings = Settings.from_env({**settings_env(), "DIONYSUS_DB_PATH": str(tmp_path / "d.db")})
    async with open_runtime(settings) as rt:
        tid = await rt.traces.create_trace("heartbeat")
        await rt.traces.add_step(tid, {"step_type": "task", "step_number": 0})
    async with open_runtime(settings) as rt:
        trace = await rt.store.traces.get(tid)
        assert (trace.status, trace.step_count) == ("interrupted", 1)
        assert "server stopped" in trace.error


async def test_a_read_only_reader_reports_an_orphan_without_marking_it(tmp_path):
    settings = Settings.from_env({**settings_env(), "DIONYSUS_DB_PATH": str(tmp_path / "ro.db")})
    async with open_runtime(settings) as rt:
        tid = await rt.traces.create_trace("heartbeat")
        await rt.traces.add_step(tid, {"step_type": "task", "step_number": 0})
        gone = ProcessIdentity("elsewhere", 99, "random:x")
        await rt.store.traces.write([SetTraceOwner(trace_id=tid, owner=gone.owner(rt.traces.clock() - timedelta(hours=1)))])
        rt.traces._open.pop(tid)  # as if another process had run it
    async with open_runtime(settings, read_only=True) as rt:
        [seen] = (await rt.traces.list_traces()).traces
        assert (seen.status, seen.step_count) == ("interrupted", 1) and "process 99 on elsewhere" in seen.error
        assert (await rt.store.traces.get(tid)).status == "running"  # nothing written

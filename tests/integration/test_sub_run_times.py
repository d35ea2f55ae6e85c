"""A delegated run's times are when it really ran: each OODA phase starts before its first step
and ends after its last, inside the manager's step that delegated it — on a real SQLite file and
on the real Bolt server — and get_trace, diff_traces and the OpenTelemetry export show them.

(The trace writes are stored behind the run, in batches: a time taken when a write is stored
is when the batch went out, not when the run started or ended. How late that is depends on the
machine's load — under load every phase of a cycle came out stamped within 0.2 ms near its end —
so the test makes it plain: the trace service's clock, which says when a write is processed,
runs a minute ahead of the run.)"""

from __future__ import annotations

from datetime import timedelta

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from agents.demo import seed_if_empty
from agents.runner import run_ooda_cycle
from dionysus_mcp.config import Settings
from dionysus_mcp.runtime import open_runtime
from schema.models import utcnow
from tests.helpers import CONTEXT, settings_env


@pytest.fixture(params=["sqlite", pytest.param("neo4j", marks=pytest.mark.bolt)])
def env(request, tmp_path) -> dict[str, str]:
    if request.param == "sqlite":
        return {"DIONYSUS_DB_PATH": str(tmp_path / "times.db")}
    bolt, database = request.getfixturevalue("bolt_server"), request.getfixturevalue("neo4j_database")
    return {"NEO4J_URI": bolt.uri, "NEO4J_USERNAME": bolt.user, "NEO4J_PASSWORD": bolt.password,
            "NEO4J_DATABASE": database, "DIONYSUS_DB_PATH": str(tmp_path / "outbox-home" / "unused.db")}


def steps_s(run) -> float:
    return sum((s.duration_ms or 0.0) for s in run.steps) / 1000.0


async def test_each_phase_covers_its_steps(env):
    async with open_runtime(Settings.from_env({**settings_env(), **env})) as rt:
        await seed_if_empty(rt)
        rt.traces.clock = lambda: utcnow() + timedelta(minutes=1)  # every write stored "a minute later"
        first = await run_ooda_cycle(rt, CONTEXT)
        second = await run_ooda_cycle(rt, CONTEXT)
        run = await rt.traces.get_trace(first.trace_id)
        other = await rt.traces.get_trace(second.trace_id)

        assert [s.agent_name for s in run.sub_runs] == ["perception", "reasoning", "metacognition"]
        delegating = {s.step_number: s for s in run.steps if s.step_type == "action"}
        previous_end = run.started_at
        for phase in run.sub_runs:
            timed = [s for s in phase.steps if s.step_type != "task"]
            assert phase.duration_s is not None and steps_s(phase) > 0
            assert phase.duration_s >= steps_s(phase), (phase.agent_name, phase.duration_s, steps_s(phase))
            assert phase.started_at <= min(s.started_at for s in timed)
            assert phase.completed_at >= max(s.completed_at for s in timed)
            # Inside the manager's step that delegated it, after the phase before it.
            caller = delegating[phase.parent_step]
            assert caller.started_at <= phase.started_at and phase.completed_at <= caller.completed_at
            assert phase.started_at >= previous_end
            previous_end = phase.completed_at
        assert run.duration_s >= sum(p.duration_s for p in run.sub_runs)

        # The summary form (get_trace's default) and REST read the same stored times.
        summary = await rt.traces.read_trace(run.id, "summary")
        assert [p.duration_s for p in summary.phases] == [p.duration_s for p in run.sub_runs]
        # diff_traces of two phases reports their real durations.
        diff = await rt.traces.diff(run.sub_runs[0].id, other.sub_runs[0].id)
        assert diff.duration_delta_s == round(other.sub_runs[0].duration_s - run.sub_runs[0].duration_s, 3)
        # The OpenTelemetry spans of the phases keep the stored interval.
        exporter = InMemorySpanExporter()
        await rt.traces.export_otel(run.id, exporter)
        spans = {s.attributes["gen_ai.agent.id"]: s for s in exporter.get_finished_spans()
                 if s.attributes.get("gen_ai.operation.name") == "invoke_agent"}
        for phase in run.sub_runs:
            span = spans[phase.id]
            assert (span.end_time - span.start_time) / 1e9 == pytest.approx(phase.duration_s, abs=1e-6)
            assert span.start_time == int(phase.started_at.timestamp() * 1e9)

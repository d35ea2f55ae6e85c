"""The async runner API: results, validation, progress, cancellation, responsiveness."""

from __future__ import annotations


import anyio
import pytest

from agents.demo import run_demo, seed_if_empty
from agents.models import ModelSpecError
from agents.runner import run_heartbeat, run_ooda_cycle
from dionysus_mcp.config import Settings
from dionysus_mcp.errors import InvalidInput
from dionysus_mcp.runtime import open_runtime
from tests.helpers import CONTEXT, Runs, settings_env


async def test_ooda_cycle_result(rt):
    runs = Runs()
    result = await run_ooda_cycle(rt, CONTEXT, observers=[runs])
    assert result.model == "scripted" and result.status == "success"
    assert [(p.phase, p.agent, p.status) for p in result.phases] == [
        ("observe", "perception", "success"),
        ("orient", "reasoning", "success"),
        ("decide", "metacognition", "success"),
    ]
    assert "Recalled basins:" in result.phases[0].report and "Relevant basins:" in result.phases[1].report
    assert result.decision.startswith("Focus on '") and result.actions and 0 < result.confidence <= 1
    assert result.trace_id == runs.started[0].trace_id and runs.started[0].agent_name == "ConsciousnessManager"
    assert {p.trace_id for p in result.phases} == {c.trace_id for c in runs.started[1:]}
    assert [c.agent_name for c in runs.finished] == ["perception", "reasoning", "metacognition", "ConsciousnessManager"]
    sub_prompt = sum(p.prompt_tokens for p in result.phases)
    assert result.tokens.prompt_tokens > sub_prompt > 0  # the manager's calls plus its team's
    assert result.tokens.prompt_tokens_unpruned >= result.tokens.prompt_tokens
    assert result.steps == 4 and result.activated_basins and 0 < result.coherence <= 1


async def test_heartbeat_result(rt):
    result = await run_heartbeat(rt)
    assert (result.model, result.status, result.planning_steps, result.action_steps) == ("scripted", "success", 4, 10)
    assert result.summary.startswith("Heartbeat:")
    assert {a.name for a in result.activated_basins} and all(a.agent == "HeartbeatAgent" for a in result.activated_basins)
    t = result.tokens
    assert t.prompt_tokens_unpruned > t.prompt_tokens > 0 and t.reduction_pct > 0 and t.model_calls == 14
    assert "o200k_base" in t.counted_by


async def test_a_short_budget_still_answers_from_what_ran(rt):
    result = await run_ooda_cycle(rt, CONTEXT, max_steps=2)
    assert result.status == "max_steps" and result.steps == 3  # 2 steps + smolagents' final-answer call
    assert [p.status for p in result.phases] == ["success", "success", "not_run"]
    assert result.decision  # composed by the model from the two reports it had
    assert any("metacognition" in a for a in result.actions)


@pytest.mark.parametrize(
    ("context", "max_steps", "message"),
    [("", None, "must not be empty"), ("   ", None, "must not be empty"), ("x" * 8001, None, "limit is 8000"),
     (CONTEXT, 0, "1 to 50"), (CONTEXT, 51, "1 to 50"), (CONTEXT, True, "1 to 50")],
)
async def test_inputs_are_validated(rt, context, max_steps, message):
    with pytest.raises(InvalidInput, match=message):
        await run_ooda_cycle(rt, context, max_steps=max_steps)


async def test_a_bad_model_spec_fails_before_running(rt):
    rt.settings = rt.settings.replace(model="gpt-4o")
    with pytest.raises(ModelSpecError, match="openai:<model>"):
        await run_heartbeat(rt)


async def test_progress_is_reported_per_step(rt):
    events = []

    async def progress(value, total, message):
        events.append((value, total, message))

    await run_ooda_cycle(rt, CONTEXT, progress=progress)
    values = [v for v, _, _ in events]
    assert values == sorted(values) and len(set(values)) == len(values)
    messages = [m for _, _, m in events]
    for agent in ("ConsciousnessManager", "perception", "reasoning", "metacognition"):
        assert any(m.startswith(agent) for m in messages), agent
    assert "perception step 2: semantic_recall" in messages


async def test_cancelling_the_caller_stops_the_agents(rt):
    runs = Runs()
    steps_seen = []

    with anyio.fail_after(10):
        with anyio.CancelScope() as scope:

            async def progress(value, total, message):
                steps_seen.append(message)
                if len(steps_seen) == 3:
                    scope.cancel()

            await run_ooda_cycle(rt, CONTEXT, progress=progress, observers=[runs])
        assert scope.cancelled_caught
    # The worker had stopped by the time the cancellation reached us: every run is closed.
    assert runs.finished and len(runs.finished) == len(runs.started)
    assert all(c.status == "cancelled" for c in runs.finished)
    assert runs.started[0].agent_name == "ConsciousnessManager"
    perception = runs.started[1]
    assert perception.agent.memory.steps and perception.action_steps < 5  # stopped mid-run
    assert len(steps_seen) == 3  # nothing reported after the cancel


async def test_other_requests_are_served_while_a_run_is_going(rt):
    mid_run, served = anyio.Event(), anyio.Event()
    order = []

    async def progress(value, total, message):
        # The run pauses at its first step until another request has been served: if the run
        # blocked the event loop, this would deadlock (and fail_after would fire).
        if not mid_run.is_set():
            mid_run.set()
            await served.wait()
            order.append("run resumed")

    async def other_request():
        await mid_run.wait()
        assert (await rt.basins.list_basins()).total == 5
        order.append("request served")
        served.set()

    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            tg.start_soon(run_heartbeat, rt, progress)
            tg.start_soon(other_request)
    assert order == ["request served", "run resumed"]


async def test_demo_seeds_once_and_prints_both_runs(tmp_path):
    lines: list[str] = []
    async with open_runtime(Settings.from_env({**settings_env(), "DIONYSUS_DB_PATH": str(tmp_path / "demo.db")})) as runtime:
        ooda, heartbeat = await run_demo(runtime, write=lines.append)
        assert not await seed_if_empty(runtime)  # already seeded
    text = "\n".join(lines)
    assert text.startswith("Seeded an example memory: 5 basins, 12 memories, 3 principles.")
    assert f"decision: {ooda.decision}" in text
    for phase in ("observe", "orient", "decide"):
        assert phase in text
    assert ooda.trace_id in text and heartbeat.trace_id in text and "model scripted" in text
    assert "without pruning" in text

"""Trace persistence on the embedded store: real smolagents runs (scripted model), a real SQLite
file, the runner's default wiring. Every run, and every delegated sub-run, is stored step by
step and closes with its outcome."""

from __future__ import annotations

import json
import time

import anyio
import pytest
from smolagents.models import ChatMessage
from smolagents.utils import AgentGenerationError

from agents.heartbeat import TASK as HEARTBEAT_TASK
from agents.heartbeat import TOOLS as HEARTBEAT_TOOLS
from agents.heartbeat import build_heartbeat
from agents.runner import RunFailed, run_heartbeat, run_ooda_cycle
from agents.scripted import ScriptedModel
from callbacks import default_registry
from callbacks.context import RunGroup, RunObserver
from callbacks.pruning import MARK, PruningState
from callbacks.trace import TracePersistence, persistence_for
from callbacks.write_behind import LINGER_S
from dionysus_mcp.errors import NotFound
from dionysus_mcp.store.sqlite import SQLiteStore
from dionysus_mcp.traces import TraceService
from tests.helpers import CONTEXT, Runs, counting_batches

TYPE_ORDER = {"task": 0, "planning": 1, "action": 2, "final_answer": 3}


def keys(steps):
    return [(s.step_number, s.step_type) for s in steps]


def assert_well_formed(trace):
    """Ordered; a task step first and, when the run answered, a final answer last; timed."""
    assert keys(trace.steps) == sorted(keys(trace.steps), key=lambda k: (k[0], TYPE_ORDER[k[1]]))
    assert trace.steps[0].step_type == "task" and trace.steps[0].observations == trace.task
    assert len({s.id for s in trace.steps}) == len(trace.steps) == trace.step_count
    for s in trace.steps:
        assert s.id == f"{trace.id}:{s.step_type}:{s.step_number}"
        assert s.started_at is not None and s.completed_at is not None and s.completed_at >= s.started_at
        assert s.duration_ms is not None and s.duration_ms >= 0
        assert s.unpruned_input_tokens >= s.input_tokens >= 0


async def test_a_heartbeat_is_stored_step_by_step(rt):
    runs = Runs()
    result = await run_heartbeat(rt, observers=[runs])
    [ctx] = runs.started
    trace = await rt.traces.get_trace(result.trace_id)

    assert (trace.id, trace.agent_name, trace.status, trace.model) == (ctx.trace_id, "HeartbeatAgent", "success", "scripted")
    assert trace.parent_id is None and trace.sub_runs == [] and trace.task == HEARTBEAT_TASK
    assert trace.completed_at is not None and trace.summary == result.summary
    assert trace.run_id == trace.id  # the root trace's id is the run's id
    assert_well_formed(trace)
    by_type = {t: [s.step_number for s in trace.steps if s.step_type == t] for t in TYPE_ORDER}
    assert by_type == {"task": [0], "planning": [1, 4, 7, 10], "action": list(range(1, 11)), "final_answer": [10]}

    # Tool calls come back typed: name, id, decoded arguments.
    actions = [s for s in trace.steps if s.step_type == "action"]
    for s in actions:
        [call] = s.tool_calls
        assert call.name in {*HEARTBEAT_TOOLS, "final_answer"} and call.id and isinstance(call.arguments, dict)
        assert s.model_output and s.error is None and s.input_tokens > 0 and s.output_tokens > 0
    recalls = [s.tool_calls[0] for s in actions if s.tool_calls[0].name == "semantic_recall"]
    assert recalls and all(isinstance(c.arguments["query"], str) and c.arguments["query"] for c in recalls)
    assert actions[-1].tool_calls[0].name == "final_answer"
    assert trace.steps[-1].final_answer == result.summary

    # Plans carry what the IWMT callback appended before the step was stored.
    plans = [s for s in trace.steps if s.step_type == "planning"]
    assert all("[IWMT] Coherence:" in s.plan and s.input_tokens > 0 for s in plans)

    # Observations are stored in full, although pruning shortened them in the agent's memory.
    assert ctx.state(PruningState).pruned, "the heartbeat is long enough for pruning to happen"
    memory = {s.step_number: s for s in ctx.agent.memory.steps if type(s).__name__ == "ActionStep"}
    stored = {s.step_number: s for s in actions}
    for number, entry in ctx.state(PruningState).pruned.items():
        assert memory[number].observations.startswith(MARK)  # what the model saw later
        assert stored[number].observations == entry.original  # what the store kept
        assert len(stored[number].observations) > len(memory[number].observations)
    for number, step in stored.items():
        if number not in ctx.state(PruningState).pruned:
            assert step.observations == memory[number].observations

    # Token figures per step add up to what the run reports.
    t = result.tokens
    assert trace.tokens.input_tokens == t.prompt_tokens == sum(s.input_tokens for s in trace.steps)
    assert trace.tokens.output_tokens == t.completion_tokens
    assert trace.tokens.pruned_tokens_saved == t.saved_tokens > 0
    assert sum(s.unpruned_input_tokens for s in trace.steps) == t.prompt_tokens_unpruned
    assert trace.total_tokens == trace.tokens

    # Basins the recalls activated are linked at the step that activated them.
    linked = [(b.basin_id, b.basin_name, b.strength, b.at_step) for b in trace.activated_basins]
    reported = [(a.basin_id, a.name, a.strength, a.at_step) for a in result.activated_basins]
    assert linked and sorted(linked) == sorted(reported)
    assert {b.at_step for b in trace.activated_basins} <= {s.step_number for s in actions if s.tool_calls[0].name == "semantic_recall"}


async def test_an_ooda_cycle_is_a_root_trace_with_three_sub_runs(rt):
    runs = Runs()
    result = await run_ooda_cycle(rt, CONTEXT, observers=[runs])
    root = await rt.traces.get_trace(result.trace_id)

    assert (root.agent_name, root.status, root.parent_id) == ("ConsciousnessManager", "success", None)
    assert_well_formed(root)
    manager_actions = {s.step_number: s for s in root.steps if s.step_type == "action"}
    assert [s.step_number for s in root.steps if s.step_type == "planning"] == [1, 4]
    assert json.loads(root.summary)["decision"] == result.decision

    subs = root.sub_runs
    assert [s.agent_name for s in subs] == ["perception", "reasoning", "metacognition"]
    assert [s.id for s in subs] == [p.trace_id for p in result.phases]
    for sub in subs:
        assert sub.parent_id == root.id and sub.run_id == root.run_id and sub.status == "success"
        # The manager's step that delegated it: a stored action step whose code called the agent.
        assert sub.parent_step in manager_actions
        assert f"{sub.agent_name}(task=" in manager_actions[sub.parent_step].code_action
        assert_well_formed(sub)
        assert [s.step_number for s in sub.steps if s.step_type == "planning"][:2] == [1, 3]
        assert sub.steps[-1].step_type == "final_answer" and sub.steps[-1].final_answer == sub.summary
        assert any(s.tool_calls for s in sub.steps if s.step_type == "action")
    assert [s.parent_step for s in subs] == sorted(s.parent_step for s in subs)

    # Basin activations are linked to the sub-run whose recall caused them.
    linked = sorted((b.basin_id, b.strength, b.at_step, sub.id) for sub in subs for b in sub.activated_basins)
    assert linked and linked == sorted((a.basin_id, a.strength, a.at_step, a.trace_id) for a in result.activated_basins)

    # Totals include the sub-runs; the result reports the same run.
    assert root.total_tokens.input_tokens == result.tokens.prompt_tokens
    assert root.total_tokens.output_tokens == result.tokens.completion_tokens
    assert root.total_tokens.input_tokens == root.tokens.input_tokens + sum(s.tokens.input_tokens for s in subs)

    text = await rt.traces.replay(result.trace_id)
    assert text.startswith("# ConsciousnessManager — success")
    for sub in subs:
        assert f"{sub.agent_name} — success" in text and sub.id in text
    assert text.index("perception — success") < text.index("reasoning — success") < text.index("metacognition — success")
    assert text.count("Step 0 · task") == 0  # the task is shown once, at the top of each run

    listed = await rt.traces.list_traces(limit=10)
    assert {root.id, *(s.id for s in subs)} <= {t.id for t in listed.traces}
    roots = await rt.traces.list_traces(roots_only=True, limit=10)
    assert [t.id for t in roots.traces] == [root.id]


async def test_observe_environment_lists_the_latest_runs(rt):
    heartbeat = await run_heartbeat(rt)
    await anyio.sleep(0.01)  # distinct start times
    ooda = await run_ooda_cycle(rt, CONTEXT)
    env = await rt.environment.observe()
    runs = [(r.trace_id, r.agent_name, r.status) for r in env.recent_runs]
    assert runs[:2] == [(ooda.trace_id, "ConsciousnessManager", "success"), (heartbeat.trace_id, "HeartbeatAgent", "success")]
    assert all(r.completed_at is not None for r in env.recent_runs[:2])


async def test_a_cancelled_run_is_closed_cancelled_with_its_steps(rt):
    runs = Runs()
    seen = []
    with anyio.fail_after(20):
        with anyio.CancelScope() as scope:

            async def progress(value, total, message):
                seen.append(message)
                if len(seen) == 4:  # manager plan, perception plan + two steps
                    scope.cancel()

            await run_ooda_cycle(rt, CONTEXT, progress=progress, observers=[runs])
    assert scope.cancelled_caught
    manager, perception = runs.started[0], runs.started[1]
    root = await rt.traces.get_trace(manager.trace_id)
    assert root.status == "cancelled" and root.completed_at is not None and "interrupted" in root.error
    [sub] = root.sub_runs
    assert sub.id == perception.trace_id and sub.status == "cancelled"
    # What completed before the cancel is readable.
    assert (1, "planning") in keys(root.steps)
    assert {(1, "planning"), (1, "action")} <= set(keys(sub.steps))
    assert_well_formed(sub)


class ModelEndpointLost(ScriptedModel):
    """The scripted policy, until its endpoint goes away after `calls` answers."""

    def __init__(self, role: str, calls: int):
        super().__init__(role)
        self.left = calls

    def generate(self, *args, **kwargs) -> ChatMessage:
        if self.left <= 0:
            raise ConnectionError("model endpoint went away")
        self.left -= 1
        return super().generate(*args, **kwargs)


async def test_a_run_that_errors_is_closed_error_and_keeps_its_completed_steps(rt):
    tracer, registry = persistence_for(default_registry(rt.settings))
    group = RunGroup(rt, "scripted", observers=[tracer])
    agent = build_heartbeat(rt, ModelEndpointLost("heartbeat", calls=5), group, registry)
    with pytest.raises(AgentGenerationError, match="model endpoint went away"):
        await anyio.to_thread.run_sync(agent.run, HEARTBEAT_TASK)
    trace = await rt.traces.get_trace(group.run_id)
    assert trace.status == "error" and "model endpoint went away" in trace.error and trace.summary is None
    # plan 1, steps 1-3, plan 4 answered; step 4's model call failed.
    completed = [k for k in keys(trace.steps) if k[1] != "task"]
    assert completed[:5] == [(1, "planning"), (1, "action"), (2, "action"), (3, "action"), (4, "planning")]
    assert all(s.observations for s in trace.steps if s.step_type == "action" and s.step_number < 4)
    assert trace.tokens.input_tokens > 0


async def test_an_unreachable_model_endpoint_fails_the_run_but_its_trace_is_closed_and_keeps_no_key(rt, monkeypatch):
    secret = "sk-test-0123456789abcdef-not-a-real-key"
    monkeypatch.setenv("OPENAI_API_KEY", secret)
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")  # discard port: refused
    rt.settings = rt.settings.replace(model="openai:gpt-test")
    runs = Runs()
    with anyio.fail_after(60), pytest.raises(RunFailed) as failed:
        await run_heartbeat(rt, observers=[runs])
    trace = await rt.traces.get_trace(runs.started[0].trace_id)
    assert (trace.status, trace.model) == ("error", "openai:gpt-test") and trace.error
    assert f"get_trace('{trace.id}')" in str(failed.value)  # the error says where the steps are
    assert keys(trace.steps)[0] == (0, "task")
    raw = await rt.store.traces.get(trace.id)
    everything = trace.model_dump_json() + raw.model_dump_json()
    assert secret not in everything
    assert raw.metadata["tools"] == sorted(HEARTBEAT_TOOLS) and raw.metadata["planning_interval"] == 3


async def test_a_broken_trace_store_never_fails_the_run(rt, tmp_path, caplog):
    # A trace service whose store is not open: every write raises a StoreError that is not an
    # outage (so no outbox) — the callbacks log it and the run goes on.
    rt.traces = TraceService(SQLiteStore(tmp_path / "never-opened.db").traces)
    runs = Runs()
    result = await run_heartbeat(rt, observers=[runs])
    assert result.status == "success" and result.action_steps == 10
    errors = [e for e in runs.started[0].events if e.kind == "callback_error"]
    assert errors and all(e.detail["callback"] == TracePersistence.name for e in errors)
    assert "run observer TracePersistence.run_started failed" in caplog.text
    assert "callback trace_persistence failed" in caplog.text


async def test_persistence_can_be_left_out(rt):
    result = await run_heartbeat(rt, persist=False)
    with pytest.raises(NotFound, match="Unknown trace"):
        await rt.traces.get_trace(result.trace_id)


async def test_a_run_out_of_steps_ends_max_steps_with_its_forced_answer(rt):
    result = await run_ooda_cycle(rt, CONTEXT, max_steps=2)
    root = await rt.traces.get_trace(result.trace_id)
    assert root.status == "max_steps" == result.status
    assert_well_formed(root)
    # Steps 1-2 delegated; step 3 is smolagents' forced answer, and the final answer belongs to it.
    assert [k for k in keys(root.steps) if k[1] in ("action", "final_answer")] == [
        (1, "action"), (2, "action"), (3, "action"), (3, "final_answer")]
    forced = root.steps[-2]
    assert forced.error.startswith("AgentMaxStepsError") and forced.input_tokens > 0
    assert root.summary and [s.agent_name for s in root.sub_runs] == ["perception", "reasoning"]


async def test_trace_writes_are_written_behind_and_all_stored_when_the_runner_returns(rt):
    # The store holds the first write (the manager's create_trace) until the whole run is over:
    # the agents get to the end only because no step waited for the store; the runner still
    # returns only after every queued write is stored, in order.
    gate = anyio.Event()
    create = rt.traces.create_trace

    async def held_create(*args, **kwargs):
        await gate.wait()
        return await create(*args, **kwargs)

    rt.traces.create_trace = held_create

    async def release():
        gate.set()

    class ReleaseAtTheEnd(RunObserver):
        def run_finished(self, ctx):
            if ctx.parent is None:
                ctx.runtime.call(release)

    with anyio.fail_after(20):
        result = await run_ooda_cycle(rt, CONTEXT, observers=[ReleaseAtTheEnd()])
    root = await rt.traces.get_trace(result.trace_id)
    assert root.status == "success" and root.completed_at is not None
    assert_well_formed(root)
    assert [s.agent_name for s in root.sub_runs] == ["perception", "reasoning", "metacognition"]
    for sub in root.sub_runs:
        assert sub.status == "success" and sub.steps[-1].step_type == "final_answer"


async def test_a_cycles_writes_are_stored_in_a_few_batches_in_the_order_made(rt):
    # The drainer stores the first batch at once (the manager's trace, so the run is listed
    # without delay), then gathers what arrives within LINGER_S into one store call: a cycle's
    # ~50 writes take a handful of transactions, not one each.
    batches = counting_batches(rt)
    started = time.monotonic()
    result = await run_ooda_cycle(rt, CONTEXT)
    elapsed = time.monotonic() - started

    made = [method for batch in batches for method in batch]
    assert len(made) >= 40 and made[:2] == ["create", "set_owner"]
    assert len(batches) <= 2 + elapsed / LINGER_S, (len(batches), elapsed)
    assert made[-1] == "complete"  # the manager closes last, after its sub-runs
    root = await rt.traces.get_trace(result.trace_id)
    assert root.status == "success" and root.step_count == len(root.steps)
    assert_well_formed(root)

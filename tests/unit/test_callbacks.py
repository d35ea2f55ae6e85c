"""Each callback alone: a real runtime on SQLite, a real RunContext, real smolagents step objects.

The agent is a small stand-in holding only what callbacks read (name, memory, step_number,
max_steps, interrupt): the loop itself is exercised in tests/integration/test_agents.py.
"""

from __future__ import annotations

from types import SimpleNamespace

import anyio.to_thread
import pytest
from smolagents.memory import ActionStep, FinalAnswerStep, PlanningStep, ToolCall
from smolagents.models import ChatMessage, MessageRole
from smolagents.monitoring import Timing, TokenUsage
from smolagents.utils import AgentToolExecutionError

from agents.base import quiet_logger
from callbacks import default_registry
from callbacks.basin import BasinActivationCallback
from callbacks.context import RunGroup
from callbacks.iwmt import IwmtCoherenceCallback
from callbacks.memory import MARK, MemoryPruningCallback, summarize
from callbacks.progress import CancellationCheck, ProgressCallback
from callbacks.registry import CallbackRegistry
from callbacks.river import RiverFlowCallback, flow_state
from callbacks.tokens import TokenUsageCallback, count_tokens, render_messages

RECALL_OBSERVATION = "\n".join(
    [
        "Recall 'focus afternoon': 3 of 12 memories; basins: attention, rest",
        "1. (1.00) Notifications left on during study sessions cut concentration into five minute fragments. "
        "Turning them off helped a lot over the following weeks. [episodic; basins: attention; mem-aaaa]",
        "2. (0.71) Focus fades after lunch on days when sleep was under seven hours; a ten minute walk brings "
        "some of it back. [episodic; basins: attention, rest; mem-bbbb]",
        "3. (0.40) A twenty minute nap before 3 pm restores energy without hurting night sleep. [semantic; basins: rest; mem-cccc]",
    ]
)


class StandIn:
    def __init__(self, group: RunGroup, name: str = "tester", max_steps: int = 10):
        self.name = name
        self.run_group = group
        self.memory = SimpleNamespace(steps=[])
        self.step_number = 1
        self.max_steps = max_steps
        self.interrupted = False

    def interrupt(self) -> None:
        self.interrupted = True


def action(n: int, tool: str = "semantic_recall", args=None, observations: str | None = None, error=None) -> ActionStep:
    return ActionStep(
        step_number=n,
        timing=Timing(start_time=0.0, end_time=0.1),
        tool_calls=[ToolCall(name=tool, arguments=args if args is not None else {"query": "focus"}, id=f"call_{n}")],
        observations=observations,
        error=error,
    )


def planning(plan: str = "1. Recall.\n2. Answer.") -> PlanningStep:
    return PlanningStep(
        model_input_messages=[],
        model_output_message=ChatMessage(role=MessageRole.ASSISTANT, content=plan),
        plan=plan,
        timing=Timing(start_time=0.0, end_time=0.1),
    )


async def in_worker(fn):
    # Callbacks run in the agents' worker thread, where Runtime.call is allowed.
    return await anyio.to_thread.run_sync(fn)


@pytest.fixture
def group(runtime):
    return RunGroup(runtime, "scripted")


@pytest.fixture
def agent_ctx(group):
    agent = StandIn(group)
    return agent, group.open_run(agent, "test task")


# --- registry ----------------------------------------------------------------------------------


def test_registry_gives_smolagents_a_dict_keyed_by_step_class(settings):
    registry = default_registry(settings)
    step_callbacks = registry.get_registry("perception")
    assert set(step_callbacks) == {PlanningStep, ActionStep, FinalAnswerStep}
    names = [getattr(cb, "name", "") for cb in registry.get_callbacks(ActionStep)]
    assert names == ["cancellation", "basin_activation", "river", "memory_pruning", "tokens", "progress"]
    assert [cb.name for cb in registry.get_callbacks(PlanningStep)] == ["cancellation", "iwmt", "river", "tokens", "progress"]


def test_registry_filters_by_agent_and_rejects_unknown_step_types():
    registry = CallbackRegistry()
    only_heartbeat = lambda step, agent, ctx: None  # noqa: E731
    registry.register(ActionStep, only_heartbeat, agents=["HeartbeatAgent"])
    assert registry.get_callbacks(ActionStep, "HeartbeatAgent") == [only_heartbeat]
    assert registry.get_callbacks(ActionStep, "perception") == []
    assert registry.get_registry("perception") == {}
    with pytest.raises(ValueError, match="step_type"):
        registry.register(int, only_heartbeat)  # type: ignore[arg-type]


def test_a_failing_callback_is_logged_recorded_and_swallowed(agent_ctx, caplog):
    agent, ctx = agent_ctx
    seen = []

    def broken(step, agent, ctx):
        raise RuntimeError("boom")

    registry = CallbackRegistry()
    registry.register(ActionStep, broken)
    registry.register(ActionStep, lambda step, agent, ctx: seen.append(step.step_number))
    for callback in registry.get_registry(agent.name)[ActionStep]:
        callback(action(1), agent=agent)  # what smolagents does
    assert seen == [1]  # the next callback still ran
    assert [e.detail["error"] for e in ctx.events if e.kind == "callback_error"] == ["RuntimeError: boom"]
    assert "boom" in caplog.text


# --- IWMT ---------------------------------------------------------------------------------------


async def test_iwmt_appends_coherence_and_warns_when_low(runtime, agent_ctx):
    agent, ctx = agent_ctx
    step = planning()
    await in_worker(lambda: IwmtCoherenceCallback()(step, agent, ctx))
    assert "[IWMT] Coherence: 0.0%" in step.plan
    assert "[IWMT] Warning" in step.plan  # no basin active yet
    assert ctx.coherence == 0.0

    await runtime.basins.upsert_basin("attention", keywords=["focus"])
    await runtime.memory.remember("focus fades after lunch")
    await runtime.basins.activate_basin("attention", 0.9)
    step = planning()
    await in_worker(lambda: IwmtCoherenceCallback()(step, agent, ctx))
    level = ctx.coherence
    assert level is not None and level >= 0.5
    assert f"[IWMT] Coherence: {level * 100:.1f}%" in step.plan
    assert "Warning" not in step.plan
    assert [e.kind for e in ctx.events].count("iwmt") == 2


# --- basin activation ---------------------------------------------------------------------------


async def test_recall_activates_related_basins_and_records_them(runtime, agent_ctx):
    agent, ctx = agent_ctx
    await runtime.basins.upsert_basin("attention", keywords=["focus", "distraction"])
    await runtime.basins.upsert_basin("rest", keywords=["sleep", "nap"])
    step = action(2, args={"query": "how to keep focus"}, observations="Recall ...")
    await in_worker(lambda: BasinActivationCallback()(step, agent, ctx))
    [activation] = ctx.activations
    assert (activation.name, activation.step_number) == ("attention", 2)
    assert 0 < activation.strength <= 0.5
    views = {b.name: b.activation for b in (await runtime.basins.list_basins()).basins}
    assert views["attention"] > 0 and views["rest"] == 0


async def test_no_activation_for_other_tools_or_failed_recalls(runtime, agent_ctx):
    agent, ctx = agent_ctx
    await runtime.basins.upsert_basin("attention", keywords=["focus"])
    await in_worker(lambda: BasinActivationCallback()(action(1, tool="query_wisdom", args={"topic": "focus"}), agent, ctx))
    failed = action(2, args={"query": "focus"}, error=AgentToolExecutionError("store down", quiet_logger()))
    await in_worker(lambda: BasinActivationCallback()(failed, agent, ctx))
    assert ctx.activations == []


# --- memory pruning -----------------------------------------------------------------------------


def test_summary_keeps_headline_and_item_heads():
    summary = summarize(RECALL_OBSERVATION)
    assert summary.startswith(MARK)
    assert "Recall 'focus afternoon': 3 of 12 memories; basins: attention, rest" in summary
    assert "1. (1.00) Notifications left on during study sessions cut concentration into five minute fragments." in summary
    assert "2. (0.71) Focus fades after lunch" in summary and "3. (0.40)" in summary
    assert len(summary) < len(RECALL_OBSERVATION) * 0.75


def test_pruning_touches_only_old_long_observations_and_is_idempotent(agent_ctx):
    agent, ctx = agent_ctx
    short = "Coherence 41.0% (ok): Moderately coherent."
    steps = [action(n, observations=RECALL_OBSERVATION) for n in (1, 2, 3, 4, 5)]
    steps[1].observations = short
    agent.memory.steps = [planning(), *steps]
    tool_calls_before = [[tc.dict() for tc in s.tool_calls] for s in steps]
    pruning = MemoryPruningCallback(window=3)

    pruning(steps[-1], agent, ctx)  # after step 5: steps 1 and 2 are older than the window
    assert steps[0].observations.startswith(MARK)
    assert steps[1].observations == short  # short ones are kept whole
    assert all(s.observations == RECALL_OBSERVATION for s in steps[2:])
    assert ctx.pruned[1].original == RECALL_OBSERVATION
    assert ctx.original_observation(1, steps[0].observations) == RECALL_OBSERVATION

    once = steps[0].observations
    pruning(steps[-1], agent, ctx)
    assert steps[0].observations == once and len(ctx.pruned) == 1  # idempotent
    assert [[tc.dict() for tc in s.tool_calls] for s in steps] == tool_calls_before  # calls untouched


# --- tokens -------------------------------------------------------------------------------------


def test_token_callback_counts_prompt_with_and_without_pruning(agent_ctx):
    agent, ctx = agent_ctx
    old = action(1, observations=RECALL_OBSERVATION)
    agent.memory.steps = [old, action(2), action(3), action(4)]
    MemoryPruningCallback(window=3)(agent.memory.steps[-1], agent, ctx)
    prompt = [
        ChatMessage(role=MessageRole.SYSTEM, content=[{"type": "text", "text": "You are an agent."}]),
        ChatMessage(role=MessageRole.TOOL_RESPONSE, content=[{"type": "text", "text": f"Observation:\n{old.observations}"}]),
    ]
    step = action(5)
    step.model_input_messages = prompt
    step.token_usage = TokenUsage(input_tokens=count_tokens(render_messages(prompt)), output_tokens=7)
    TokenUsageCallback()(step, agent, ctx)
    [call] = ctx.model_calls
    entry = ctx.pruned[1]
    assert call.prompt_tokens == step.token_usage.input_tokens
    assert call.unpruned_prompt_tokens - call.prompt_tokens == entry.original_tokens - entry.summary_tokens > 0
    assert call.completion_tokens == 7
    assert ctx.tokens().reduction_pct > 0


def test_token_count_is_real_bpe():
    import bpe_openai

    text = "[IWMT] Coherence: 62.0% <|endoftext|> basins"
    assert count_tokens(text) == len(bpe_openai.get_encoding("o200k_base").encode_ordinary(text)) > 5


# --- river --------------------------------------------------------------------------------------


def test_flow_state_rule():
    assert flow_state(0, None)[0] == "calm"
    assert flow_state(0, 0.7)[0] == "flowing"
    assert flow_state(1, 0.6)[0] == "calm"
    assert flow_state(1, 0.1)[0] == "turbulent"
    assert flow_state(2, 0.9)[0] == "turbulent"


def test_turbulence_tightens_the_budget_and_guides_the_next_plan(agent_ctx):
    agent, ctx = agent_ctx
    err = AgentToolExecutionError("semantic_recall failed: query must not be empty", quiet_logger())
    steps = [action(1), action(2, error=err), action(3, error=err)]
    river = RiverFlowCallback()
    for step in steps:  # as smolagents does: callbacks first, then the step joins memory
        river(step, agent, ctx)
        if step.step_number == 2:
            assert ctx.flow == "calm"
        agent.memory.steps.append(step)
    assert ctx.flow == "turbulent"
    assert ctx.step_budget == 3 + (10 - 3) // 2 == agent.max_steps
    assert ctx.budget_spent(7) and not ctx.budget_spent(6)
    plan = planning()
    river(plan, agent, ctx)
    assert "[RIVER] Flow: turbulent (2 of the last 3 steps failed)" in plan.plan
    assert "by step 6" in plan.plan


# --- progress and cancellation ------------------------------------------------------------------


def test_progress_and_cancellation_checks(runtime):
    messages = []
    group = RunGroup(runtime, "scripted", progress=lambda ctx, message: messages.append(message))
    agent = StandIn(group, name="perception")
    ctx = group.open_run(agent, "task")
    ProgressCallback()(action(2), agent, ctx)
    ProgressCallback()(FinalAnswerStep(output="done"), agent, ctx)
    assert messages == ["perception step 2: semantic_recall", "perception: final answer"]
    CancellationCheck()(action(3), agent, ctx)
    assert not agent.interrupted
    group.cancel()
    assert agent.interrupted  # cancel interrupts every registered agent
    agent.interrupted = False
    CancellationCheck()(action(3), agent, ctx)
    assert agent.interrupted  # and the check re-interrupts at the next step
    ProgressCallback()(action(4), agent, ctx)
    assert len(messages) == 2  # no progress after cancellation

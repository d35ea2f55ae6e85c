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
from callbacks.basin import BasinActivationCallback, BasinState
from callbacks.context import RunGroup
from callbacks.iwmt import IwmtCoherenceCallback, IwmtState
from callbacks.pruning import (
    MARK,
    PLACEHOLDER,
    MemoryPruningCallback,
    PlaceholderPruningCallback,
    PruningState,
    first_sentence,
    summarize,
)
from callbacks.progress import CancellationCheck, ProgressCallback
from callbacks.registry import CallbackRegistry
from callbacks.river import RiverFlowCallback, RiverState, flow_state
from tests.helpers import planning_step as planning
from callbacks.tokens import TokenState, TokenUsageCallback, count_tokens, render_messages

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
    assert [cb.name for cb in registry.get_callbacks(PlanningStep)] == ["cancellation", "iwmt", "river", "memory_pruning", "tokens", "progress"]


def test_declared_order_is_checked_at_registration_and_the_prompt_view_is_handed_over(settings):
    class Named:
        def __init__(self, name):
            self.name = name

        def __call__(self, step, agent, ctx):
            pass

    registry = CallbackRegistry()
    registry.register(ActionStep, Named("first"))
    registry.register(ActionStep, Named("second"), after=["first"])
    with pytest.raises(ValueError, match=r"^callback third runs after missing, not registered for ActionStep"):
        registry.register(ActionStep, Named("third"), after=["missing"])
    with pytest.raises(ValueError, match="not registered for PlanningStep"):
        registry.register(PlanningStep, Named("second"), after=["first"])  # registered for ActionStep only
    with pytest.raises(ValueError, match="cannot run after itself"):
        registry.register(ActionStep, Named("loop"), after=["loop"])
    assert [cb.name for cb in registry.get_callbacks(ActionStep)] == ["first", "second"]
    # A merge checks the declared order again: a callback cannot come before what it runs after.
    late = CallbackRegistry()
    late.register(ActionStep, Named("first"))
    with pytest.raises(ValueError, match="runs after first"):
        registry_after = CallbackRegistry()
        registry_after._entries = [e for e in registry.entries() if e.callback.name == "second"]
        registry_after.merged(late)
    # The agents' prompt view is the pruning callback, handed over, not found by name.
    defaults = default_registry(settings)
    assert defaults.prompt_view is next(cb for cb in defaults.get_callbacks(ActionStep) if cb.name == "memory_pruning")
    assert CallbackRegistry().prompt_view is None and defaults.merged(CallbackRegistry()).prompt_view is defaults.prompt_view


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
    assert ctx.state(IwmtState).coherence == 0.0

    await runtime.basins.upsert_basin("attention", keywords=["focus"])
    await runtime.memory.remember("focus fades after lunch")
    await runtime.basins.activate_basin("attention", 0.9)
    step = planning()
    await in_worker(lambda: IwmtCoherenceCallback()(step, agent, ctx))
    level = ctx.state(IwmtState).coherence
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
    [activation] = ctx.state(BasinState).activations
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
    assert ctx.state(BasinState).activations == []


# --- memory pruning -----------------------------------------------------------------------------


def test_summary_keeps_the_headline_facts():
    summary = summarize(RECALL_OBSERVATION)
    assert summary.startswith(MARK)
    # The headline line and the top item's first sentence, with its rank and relevance.
    assert "Recall 'focus afternoon': 3 of 12 memories; basins: attention, rest" in summary
    assert "1. (1.00) Notifications left on during study sessions cut concentration into five minute fragments." in summary
    # Not the rest of the top item, not the other items: only how many were left out.
    assert "Turning them off" not in summary and "Focus fades" not in summary and "mem-aaaa" not in summary
    assert summary.endswith("… 2 more")
    assert len(summary) < len(RECALL_OBSERVATION) * 0.6


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
    assert ctx.state(PruningState).pruned[1].original == RECALL_OBSERVATION
    assert ctx.state(PruningState).original_observation(1, steps[0].observations) == RECALL_OBSERVATION

    once = steps[0].observations
    pruning(steps[-1], agent, ctx)
    assert steps[0].observations == once and len(ctx.state(PruningState).pruned) == 1  # idempotent
    assert [[tc.dict() for tc in s.tool_calls] for s in steps] == tool_calls_before  # calls untouched


def test_a_first_sentence_ignores_early_dots_and_a_long_one_is_cut():
    assert first_sentence("1. e.g. this is not where it ends. But here it does.") == "1. e.g. this is not where it ends."
    assert first_sentence("Coherence 41.0% (ok): fragmented") == "Coherence 41.0% (ok): fragmented"  # no end: all of it
    long = "word " * 100 + "end."
    assert first_sentence(long, limit=50).endswith("…") and len(first_sentence(long, limit=50)) == 50


def test_summary_keeps_wrapper_lines_and_drops_indented_details():
    report = "\n".join(
        [
            "Execution logs:",
            "Here is the final answer from your managed agent 'perception':",
            "### 1. Task outcome (short version):",
            "Observed 5 related memories and 3 principles; basins in play: attention, rest. More detail follows here.",
            "### 2. Task outcome (extremely detailed version):",
            "    an indented continuation line that is only detail of the line above it",
            "- Environment: 5 basins, 12 memories",
            "- Recalled: 5 of 12 memories",
        ]
    )
    summary = summarize(report)
    assert summary.startswith(MARK + " Execution logs:\nHere is the final answer from your managed agent 'perception':")
    assert "Observed 5 related memories and 3 principles; basins in play: attention, rest." in summary
    assert "More detail follows" not in summary and "indented continuation" not in summary
    assert summary.endswith("… 2 more")


def test_pruned_observations_keep_every_tool_call_paired_with_its_result(agent_ctx):
    agent, ctx = agent_ctx
    steps = [action(n, observations=RECALL_OBSERVATION + f"\n4. (0.10) step {n}") for n in range(1, 8)]
    agent.memory.steps = steps
    pruning = MemoryPruningCallback(window=3)
    for step in steps:
        pruning(step, agent, ctx)
    assert sorted(ctx.state(PruningState).pruned) == [1, 2, 3, 4]
    messages = [m for s in steps for m in s.to_messages()]
    roles = [m.role.value for m in messages]
    assert roles.count("tool-call") == roles.count("tool-response") == 7
    for i, role in enumerate(roles):
        if role == "tool-call":
            assert roles[i + 1] == "tool-response"
    # What each pruned call returned is still its own result: its headline and top fact.
    for n in range(1, 5):
        assert steps[n - 1].observations.startswith(MARK + " Recall 'focus afternoon'")
        assert ctx.state(PruningState).pruned[n].original.endswith(f"step {n}")


def test_superseded_plans_become_stubs_keeping_their_coherence_line(agent_ctx):
    agent, ctx = agent_ctx
    first = planning("## 1. Facts survey\n- a long survey of facts\n## 2. Plan\n1. Recall.\n2. Answer.")
    first.plan += "\n[IWMT] Coherence: 41.0%\n[IWMT] Warning: coherence is below 50%; connect the basins."
    agent.memory.steps = [first, action(1), action(2), action(3)]
    agent.step_number = 4
    newer = planning("## 2. Plan\n1. Answer.")
    pruning = MemoryPruningCallback(window=3)
    pruning(newer, agent, ctx)  # smolagents calls back before appending the new plan to memory
    assert first.plan == MARK + " Superseded plan (step 1).\n[IWMT] Coherence: 41.0%"
    assert newer.plan == "## 2. Plan\n1. Answer."  # the current plan stays whole
    entry = ctx.state(PruningState).pruned_plans[1]
    assert entry.original.startswith("## 1. Facts survey") and entry.summary == first.plan
    assert ctx.state(PruningState).original_plan(1, first.plan) == entry.original
    assert ctx.state(PruningState).original_plan(4, newer.plan) == newer.plan  # never pruned: the plan as it is
    pruning(newer, agent, ctx)
    assert first.plan == entry.summary and len(ctx.state(PruningState).pruned_plans) == 1  # idempotent


def test_planning_calls_see_older_observations_summarised_without_touching_memory(agent_ctx):
    agent, ctx = agent_ctx
    steps = [action(1, observations=RECALL_OBSERVATION), action(2, observations="short"), action(3, observations=RECALL_OBSERVATION)]
    view = MemoryPruningCallback(window=3).planning_view([planning(), *steps], ctx)
    assert view[1] is not steps[0] and view[1].observations == summarize(RECALL_OBSERVATION)
    assert view[2] is steps[1]  # short: whole
    assert view[3] is steps[2]  # the latest observation: whole
    assert all(s.observations in (RECALL_OBSERVATION, "short") for s in steps)  # memory untouched
    assert ctx.state(PruningState).pruned == {} and list(ctx.state(PruningState).planning_view) == [1]
    assert view[1].tool_calls == steps[0].tool_calls


def test_placeholder_policy_has_the_same_eligibility_and_one_fixed_text(agent_ctx):
    agent, ctx = agent_ctx
    steps = [action(n, observations=RECALL_OBSERVATION) for n in (1, 2, 3, 4, 5)]
    steps[1].observations = "Coherence 41.0% (ok): Moderately coherent."
    agent.memory.steps = steps
    PlaceholderPruningCallback(window=3)(steps[-1], agent, ctx)
    assert steps[0].observations == PLACEHOLDER and steps[1].observations.startswith("Coherence")
    assert ctx.state(PruningState).pruned[1].original == RECALL_OBSERVATION


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
    [call] = ctx.state(TokenState).model_calls
    entry = ctx.state(PruningState).pruned[1]
    assert call.prompt_tokens == step.token_usage.input_tokens
    assert call.unpruned_prompt_tokens - call.prompt_tokens == entry.original_tokens - entry.summary_tokens > 0
    assert call.completion_tokens == 7
    assert ctx.state(TokenState).totals().reduction_pct > 0


def test_token_counterfactual_restores_a_shared_placeholder_once_per_pruned_text(agent_ctx):
    agent, ctx = agent_ctx
    agent.memory.steps = [action(n, observations=RECALL_OBSERVATION) for n in (1, 2, 3, 4, 5, 6)]
    PlaceholderPruningCallback(window=3)(agent.memory.steps[-1], agent, ctx)
    assert sorted(ctx.state(PruningState).pruned) == [1, 2, 3]
    prompt = [
        ChatMessage(role=MessageRole.TOOL_RESPONSE, content=[{"type": "text", "text": f"Observation:\n{s.observations}"}])
        for s in agent.memory.steps
    ]
    step = action(7)
    step.model_input_messages = prompt
    step.token_usage = TokenUsage(input_tokens=count_tokens(render_messages(prompt)), output_tokens=3)
    TokenUsageCallback()(step, agent, ctx)
    [call] = ctx.state(TokenState).model_calls
    per_text = ctx.state(PruningState).pruned[1].original_tokens - ctx.state(PruningState).pruned[1].summary_tokens
    assert call.unpruned_prompt_tokens - call.prompt_tokens == 3 * per_text  # not 3 × 3


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
            assert ctx.state(RiverState).flow == "calm"
        agent.memory.steps.append(step)
    assert ctx.state(RiverState).flow == "turbulent"
    assert ctx.state(RiverState).step_budget == 3 + (10 - 3) // 2 == agent.max_steps
    assert ctx.state(RiverState).budget_spent(7) and not ctx.state(RiverState).budget_spent(6)
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


@pytest.mark.meaning
async def test_recall_activates_a_basin_by_meaning_without_a_shared_word(runtime, agent_ctx):
    agent, ctx = agent_ctx
    await runtime.basins.upsert_basin("sleep", "rest, dreams and insomnia", ["sleep", "rest", "night"])
    await runtime.basins.upsert_basin("taxes", "filing returns and deductions", ["tax", "irs"])
    step = action(3, args={"query": "I slumber poorly after an espresso in the evening"}, observations="Recall ...")
    await in_worker(lambda: BasinActivationCallback()(step, agent, ctx))
    assert [a.name for a in ctx.state(BasinState).activations] == ["sleep"]


def test_iwmt_warning_only_advises_tools_the_agent_has():
    from callbacks.iwmt import coherence_lines

    both = coherence_lines(0.0, "insufficient_data", {"semantic_recall": 1, "activate_basin": 1, "final_answer": 1})
    recall_only = coherence_lines(0.2, "ok", ["semantic_recall", "query_wisdom", "final_answer"])
    neither = coherence_lines(0.2, "ok", {"assess_coherence", "remember", "final_answer"})
    assert "recalling or activating" in both[1]
    assert "recalling what matters" in recall_only[1] and "activat" not in recall_only[1]
    assert "recall" not in neither[1] and "activat" not in neither[1]
    assert coherence_lines(0.9, "ok", set()) == ["[IWMT] Coherence: 90.0%"]


def test_the_fold_horizon_follows_a_window_larger_than_its_default():
    # AGENT_MEMORY_WINDOW alone must never make the pruning callback invalid.
    assert MemoryPruningCallback(window=3).fold_after == 4
    assert MemoryPruningCallback(window=5).fold_after == 6
    assert MemoryPruningCallback(window=5, fold_after=None).fold_after is None
    with pytest.raises(ValueError, match="at least the window"):
        MemoryPruningCallback(window=5, fold_after=4)

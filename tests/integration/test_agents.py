"""The agents on the real smolagents loop: scripted model, real callbacks, real SQLite store."""

from __future__ import annotations

import anyio.to_thread
import pytest
from smolagents.memory import ActionStep, FinalAnswerStep, PlanningStep

from agents.heartbeat import TASK as HEARTBEAT_TASK
from agents.heartbeat import build_heartbeat
from agents.manager import build_manager
from agents.perception import build_perception
from agents.scripted import ScriptedModel
from callbacks import default_registry
from callbacks.basin import BasinState
from callbacks.context import RunGroup
from callbacks.rolling_digest import MARK as DIGEST_MARK
from callbacks.rolling_digest import parse_digest
from callbacks.pruning import FOLD_AFTER, MARK, PruningState
from callbacks.registry import CallbackRegistry
from callbacks.river import RiverState
from callbacks.tokens import TokenState, message_role, message_text
from tests.helpers import CONTEXT


def run_in_worker(agent, task):
    return anyio.to_thread.run_sync(agent.run, task)


class Recorder:
    """An extra callback noting which step types it saw."""

    name = "recorder"

    def __init__(self):
        self.seen: list[tuple[str, str, int]] = []

    def __call__(self, step, agent, ctx):
        number = getattr(step, "step_number", agent.step_number)
        self.seen.append((ctx.agent_name, type(step).__name__, number))


def registry_with(rt, *extra):
    registry = default_registry(rt.settings)
    for step_type, callback in extra:
        registry.register(step_type, callback)
    return registry


async def run_heartbeat_agent(rt, registry=None):
    group = RunGroup(rt, "scripted")
    model = ScriptedModel("heartbeat")
    agent = build_heartbeat(rt, model, group, registry or default_registry(rt.settings))
    output = await run_in_worker(agent, HEARTBEAT_TASK)
    return agent, model, group.root, output


async def test_heartbeat_plans_before_steps_1_4_7_10_and_uses_its_budget(rt):
    agent, model, ctx, output = await run_heartbeat_agent(rt)
    steps = agent.memory.steps
    planned_before = [steps[i + 1].step_number for i, s in enumerate(steps) if isinstance(s, PlanningStep)]
    assert planned_before == [1, 4, 7, 10]
    actions = [s for s in steps if isinstance(s, ActionStep)]
    assert [s.step_number for s in actions] == list(range(1, 11))
    assert actions[-1].is_final_answer and all(s.error is None for s in actions)
    assert (ctx.status, ctx.planning_steps, ctx.action_steps) == ("success", 4, 10)
    assert [c.kind for c in model.calls].count("plan") == 4
    assert output.startswith("Heartbeat:") and "Coherence:" in output


async def test_every_model_call_carries_token_usage(rt):
    agent, model, ctx, _ = await run_heartbeat_agent(rt)
    assert len(model.calls) == len(ctx.state(TokenState).model_calls) == 14
    for received, recorded in zip(model.calls, ctx.state(TokenState).model_calls):
        assert received.usage.input_tokens == recorded.prompt_tokens > 0
        assert received.usage.output_tokens == recorded.completion_tokens > 0


async def test_iwmt_line_reaches_the_next_model_prompt(rt):
    _, model, ctx, _ = await run_heartbeat_agent(rt)
    kinds = [c.kind for c in model.calls]
    after_plans = [model.calls[i + 1] for i, kind in enumerate(kinds) if kind == "plan"]
    assert len(after_plans) == 4
    for call in after_plans:
        assert call.kind == "tool_call" and "[IWMT] Coherence: " in call.prompt
    assert "[IWMT]" not in model.calls[0].prompt  # it came from the callback, not the task
    assert sum(e.kind == "iwmt" for e in ctx.events) == 4


async def test_basins_activate_after_semantic_recall(rt):
    before = {b.name: b.activation for b in (await rt.basins.list_basins()).basins}
    agent, _, ctx, _ = await run_heartbeat_agent(rt)
    recall_steps = {
        s.step_number for s in agent.memory.steps if isinstance(s, ActionStep) and any(tc.name == "semantic_recall" for tc in s.tool_calls or [])
    }
    assert recall_steps == {3, 4, 5}  # survey at 2, three recalls, coherence at 6
    assert ctx.state(BasinState).activations and {a.step_number for a in ctx.state(BasinState).activations} <= recall_steps
    after = {b.name: b.activation for b in (await rt.basins.list_basins()).basins}
    assert all(after[a.name] > before[a.name] for a in ctx.state(BasinState).activations)


async def test_pruning_shrinks_later_prompts_and_keeps_tool_calls_paired(rt):
    agent, model, ctx, _ = await run_heartbeat_agent(rt)
    window = rt.settings.memory_window
    actions = [s for s in agent.memory.steps if isinstance(s, ActionStep)]
    pruned = [s for s in actions if (s.observations or "").startswith(MARK)]
    assert pruned and all(s.step_number <= len(actions) - window for s in pruned)
    for step in pruned:
        original = ctx.state(PruningState).pruned[step.step_number].original
        assert len(step.observations) < len(original) and original.splitlines()[0][:60] in step.observations
    # Later calls cost fewer prompt tokens than they would have without pruning.
    late = [c for c in ctx.state(TokenState).model_calls if c.step_number > window + 1]
    assert any(c.unpruned_prompt_tokens > c.prompt_tokens for c in late)
    assert ctx.state(TokenState).totals().reduction_pct > 0
    # In the last prompt every tool call is still followed by its (possibly pruned) result.
    last_prompt = actions[-1].model_input_messages
    roles = [message_role(m) for m in last_prompt]
    for i, role in enumerate(roles):
        if role == "tool-call":
            assert roles[i + 1] == "tool-response" and message_text(last_prompt[i + 1]).startswith("Observation:\n")
    # Steps past the second horizon left with their call and result, and the digest lists them.
    digests = [message_text(m) for m in last_prompt if message_text(m).startswith(DIGEST_MARK)]
    folded = {n for text in digests for n, *_ in parse_digest(text)}
    assert len(digests) == 1 and folded == set(ctx.state(PruningState).folded) - {len(actions) - FOLD_AFTER}
    assert sum(r == "tool-call" for r in roles) + len(folded) == len(actions) - 1
    assert any(MARK in message_text(m) for m in last_prompt)


async def test_each_callback_fires_on_its_step_type(rt):
    recorder = Recorder()
    registry = registry_with(rt, (PlanningStep, recorder), (ActionStep, recorder), (FinalAnswerStep, recorder))
    _, _, ctx, _ = await run_heartbeat_agent(rt, registry)
    kinds = [kind for _, kind, _ in recorder.seen]
    assert (kinds.count("PlanningStep"), kinds.count("ActionStep"), kinds.count("FinalAnswerStep")) == (4, 10, 1)
    assert kinds[-1] == "FinalAnswerStep"
    events = {e.kind for e in ctx.events}
    assert {"iwmt", "basin_activation", "pruned", "final_answer"} <= events  # the default callbacks ran too


async def test_a_failing_callback_does_not_fail_the_run(rt):
    def broken(step, agent, ctx):
        raise RuntimeError("callback bug")

    registry = registry_with(rt, (PlanningStep, broken), (ActionStep, broken), (FinalAnswerStep, broken))
    agent, _, ctx, output = await run_heartbeat_agent(rt, registry)
    assert ctx.status == "success" and output.startswith("Heartbeat:")
    assert sum(e.kind == "callback_error" for e in ctx.events) == 4 + 10 + 1


async def test_a_sub_agent_runs_alone(rt):
    group = RunGroup(rt, "scripted")
    agent = build_perception(rt, ScriptedModel("perception"), group, default_registry(rt.settings))
    output = await run_in_worker(agent, f"Observe.\nContext: {CONTEXT}")
    ctx = group.root
    assert (ctx.agent_name, ctx.status, ctx.parent) == ("perception", "success", None)
    assert "Recalled basins: " in output and "attention" in output
    assert "Task outcome" not in output  # the three-part report is only for a manager
    tools = [tc.name for s in agent.memory.steps if isinstance(s, ActionStep) for tc in s.tool_calls or []]
    assert tools == ["observe_environment", "semantic_recall", "query_wisdom", "mosaeic_capture", "final_answer"]


async def test_manager_delegates_to_each_sub_agent_in_ooda_order(rt):
    group = RunGroup(rt, "scripted")
    models: dict[str, ScriptedModel] = {}

    def model_for(role):
        models[role] = ScriptedModel(role)
        return models[role]

    manager = build_manager(rt, model_for, group, default_registry(rt.settings))
    assert sorted(manager.managed_agents) == ["metacognition", "perception", "reasoning"]
    assert manager.additional_authorized_imports == [] and manager.executor_type == "local"
    output = await run_in_worker(manager, f"Run one OODA cycle.\nContext: {CONTEXT}")

    root = group.root
    assert root.agent_name == "ConsciousnessManager" and root.status == "success"
    children = group.contexts[1:]
    assert [c.agent_name for c in children] == ["perception", "reasoning", "metacognition"]
    assert all(c.parent is root and c.status == "success" for c in children)
    assert [c.parent_step for c in children] == [1, 2, 3]
    # Delegation went through smolagents' managed-agent call: code in the manager's steps.
    code = [s.code_action for s in manager.memory.steps if isinstance(s, ActionStep)]
    assert "perception(task=" in code[0] and "reasoning(task=" in code[1] and "metacognition(task=" in code[2]
    assert "+ observed" in code[1] and "+ oriented" in code[2]  # each phase gets the previous report
    # Each sub-agent received its predecessor's report in its task.
    assert "Perception reported:" in children[1].task and "Recalled basins:" in children[1].task
    assert "Reasoning reported:" in children[2].task and "Relevant basins:" in children[2].task
    assert set(output) == {"decision", "actions", "confidence"}
    assert output["decision"].startswith("Focus on '") and 0 <= output["confidence"] <= 1
    assert all(c.state(TokenState).model_calls for c in group.contexts)  # every agent's calls were counted


async def test_river_tightens_a_sub_agent_under_the_manager(rt):
    # An empty context makes perception's recall and wisdom look-ups fail (empty query): two
    # errors in a row turn its flow turbulent while it runs under the manager.
    group = RunGroup(rt, "scripted")
    manager = build_manager(rt, ScriptedModel, group, default_registry(rt.settings))
    await run_in_worker(manager, "Run one OODA cycle.\nContext: ")
    perception = group.runs_of("perception")[0]
    assert perception.parent is group.root
    assert perception.state(RiverState).flow == "turbulent" and perception.state(RiverState).step_budget is not None
    assert any(e.kind == "river_budget" for e in perception.events)
    agent = manager.managed_agents["perception"]
    plans = [s.plan for s in agent.memory.steps if isinstance(s, PlanningStep)]
    assert "[RIVER] Flow: turbulent" in plans[-1]
    assert agent.max_steps == perception.state(RiverState).step_budget < agent.configured_max_steps


async def test_past_the_river_budget_only_final_answer_is_accepted(rt):
    from smolagents.utils import AgentToolExecutionError

    group = RunGroup(rt, "scripted")
    agent = build_heartbeat(rt, ScriptedModel("heartbeat"), group, CallbackRegistry())
    ctx = group.open_run(agent, "task")
    ctx.state(RiverState).step_budget, agent.step_number = 2, 3
    with pytest.raises(AgentToolExecutionError, match="call final_answer now"):
        await anyio.to_thread.run_sync(agent.execute_tool_call, "list_basins", {})
    assert await anyio.to_thread.run_sync(agent.execute_tool_call, "final_answer", {"answer": "done"}) == "done"


# --- budgets, prompt templates, pruning on the real loop ---------------------------------------


async def test_heartbeat_spends_a_longer_budget_in_survey_recall_coherence_rounds(rt):
    from agents.heartbeat import heartbeat_task

    group = RunGroup(rt, "scripted")
    model = ScriptedModel("heartbeat")
    agent = build_heartbeat(rt, model, group, default_registry(rt.settings), max_steps=20)
    output = await run_in_worker(agent, heartbeat_task(20))
    steps = agent.memory.steps
    actions = [s for s in steps if isinstance(s, ActionStep)]
    assert [s.step_number for s in actions] == list(range(1, 21)) and actions[-1].is_final_answer
    assert group.root.status == "success" and all(s.error is None for s in actions)
    planned_before = [steps[i + 1].step_number for i, s in enumerate(steps) if isinstance(s, PlanningStep)]
    assert planned_before == [1, 4, 7, 10, 13, 16, 19]
    tools = [s.tool_calls[0].name for s in actions]
    assert tools[0] == "observe_environment" and tools[-2:] == ["remember", "final_answer"]
    recalls = [s for s in actions if s.tool_calls[0].name == "semantic_recall"]
    assert len(recalls) == 9
    assert len({json_args(s) for s in recalls}) == len(recalls)  # no recall repeats
    for s in recalls:  # each recall's survey is at most three steps old: never pruned when used
        survey = max(a.step_number for a in actions if a.tool_calls[0].name == "list_basins" and a.step_number < s.step_number)
        assert s.step_number - survey <= 3
    assert output.startswith("Heartbeat:") and "9 recalls" in output


def json_args(step):
    import json

    return json.dumps(step.tool_calls[0].arguments, sort_keys=True)


async def test_agents_use_the_compact_prompt_templates(rt):
    from agents.prompts import CODE, TOOL_CALLING
    from callbacks.tokens import count_tokens

    group = RunGroup(rt, "scripted")
    heartbeat = build_heartbeat(rt, ScriptedModel("heartbeat"), group, default_registry(rt.settings))
    manager = build_manager(rt, ScriptedModel, group, default_registry(rt.settings))
    assert heartbeat.prompt_templates["system_prompt"] == TOOL_CALLING["system_prompt"]
    assert manager.prompt_templates["system_prompt"] == CODE["system_prompt"]
    system = heartbeat.initialize_system_prompt()
    assert count_tokens(system) < 200 and "final_answer" in system and "[PRUNED]" in system
    assert "image_generator" not in system  # none of smolagents' notional examples
    # one worked example, with the text form models without native tool calls rely on
    assert 'Action: {"name": "lookup"' in system and 'Action: {"name": "final_answer"' in system
    assert "whole" not in system  # nothing pushes a real model into its step limit
    code_system = manager.initialize_system_prompt()
    assert "def perception(task: str) -> str:" in code_system and "<code>" in code_system and "</code>" in code_system
    assert "final_answer(answer" in code_system and count_tokens(code_system) < 800
    assert "<code>\nfinal_answer({" in code_system  # the worked example ends in a code block
    # Planning templates name the tools; the code agent's list them as functions/team members.
    assert "{{ tool.name }}" in TOOL_CALLING["planning"]["initial_plan"]
    assert "Team members (functions" in CODE["planning"]["initial_plan"]
    assert "Team members (functions" in CODE["planning"]["update_plan_post_messages"]
    perception = manager.managed_agents["perception"]
    task = perception.prompt_templates["managed_agent"]["task"]
    assert "### 1. Task outcome (short version):" in task and "---\nTask:\n{{task}}\n---" in task


async def test_planning_calls_see_older_observations_as_summaries(rt):
    agent, model, ctx, _ = await run_heartbeat_agent(rt)
    plans = [c for c in model.calls if c.kind == "plan"]
    before_step_7 = plans[2]  # steps 1-6 happened; memory pruning has touched only steps <= 3
    assert before_step_7.prompt.count("Observation:\n[PRUNED] Recall '") == 3  # the recalls of steps 3-5
    step_6 = next(s for s in agent.memory.steps if isinstance(s, ActionStep) and s.step_number == 6)
    assert ctx.state(PruningState).original_observation(6, step_6.observations) in before_step_7.prompt  # the latest: whole
    assert {4, 5} <= set(ctx.state(PruningState).planning_view)  # shown summarised to the planner only
    # The action call right after it still had steps 4 and 5 whole (memory is unchanged).
    after = model.calls[model.calls.index(before_step_7) + 1]
    assert ctx.state(PruningState).pruned[4].original in after.prompt and ctx.state(PruningState).pruned[5].original in after.prompt
    # Superseded plans were pruned in memory; the latest stays whole.
    plan_steps = [s for s in agent.memory.steps if isinstance(s, PlanningStep)]
    assert all(s.plan.startswith(MARK) for s in plan_steps[:-1]) and not plan_steps[-1].plan.startswith(MARK)
    assert sorted(ctx.state(PruningState).pruned_plans) == [1, 4, 7]

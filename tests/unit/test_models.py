"""Model selection, and the scripted model answering each kind of call smolagents makes."""

from __future__ import annotations

import importlib.util

import pytest
from smolagents.models import ChatMessage, MessageRole

from agents.models import ModelSpecError, create_model, parse_model_spec
from agents.scripted import ScriptedModel
from agents.scripts import BUDGET_SPENT, HEARTBEAT, METACOGNITION, Answer, Call, decision
from agents.tools import TOOLS, make_tools
from agents.transcript import Exchange, Transcript, extract_context, recall_hits
from callbacks.tokens import count_tokens, render_messages
from dionysus_mcp.errors import DionysusError


def msg(role: str, text: str) -> ChatMessage:
    return ChatMessage(role=MessageRole(role), content=[{"type": "text", "text": text}])


def call_msg(name: str, args) -> ChatMessage:
    return msg("tool-call", "Calling tools:\n" + str([{"id": "c", "type": "function", "function": {"name": name, "arguments": args}}]))


# --- selection ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "label"),
    [(None, "scripted"), ("scripted", "scripted"), (" Scripted ", "scripted"), ("openai:gpt-4o-mini", "openai:gpt-4o-mini"),
     ("litellm:ollama/llama3", "litellm:ollama/llama3")],
)
def test_specs_and_labels(spec, label):
    assert parse_model_spec(spec).label == label


@pytest.mark.parametrize("spec", ["gpt-4o", "openai:", "anthropic:claude", ":x", "openai"])
def test_unknown_spec_names_the_valid_forms(spec):
    with pytest.raises(ModelSpecError, match=r"scripted, openai:<model>.*litellm:<provider/model>") as info:
        parse_model_spec(spec)
    assert isinstance(info.value, DionysusError)  # reaches an MCP client as a ToolError


def test_openai_needs_a_key_and_is_built_lazily_without_network():
    with pytest.raises(ModelSpecError, match="OPENAI_API_KEY"):
        create_model("openai:gpt-4o-mini", "heartbeat", env={})
    model = create_model("openai:llama3", "heartbeat", env={"OPENAI_API_KEY": "x", "OPENAI_BASE_URL": "http://127.0.0.1:9/v1"})
    from smolagents import OpenAIServerModel

    assert isinstance(model, OpenAIServerModel) and model.model_id == "llama3"
    assert (model.client.timeout, model.client.max_retries) == (60.0, 0)  # our retries, our timeout


@pytest.mark.skipif(importlib.util.find_spec("litellm") is not None, reason="litellm is installed")
def test_litellm_missing_is_explained():
    with pytest.raises(ModelSpecError, match=r"pip install 'dionysus-mcp\[litellm\]'"):
        create_model("litellm:ollama/llama3", "heartbeat")


def test_scripted_is_the_default_and_per_role():
    model = create_model(None, "perception")
    assert isinstance(model, ScriptedModel) and model.role == "perception" and model.model_id == "scripted"
    with pytest.raises(ValueError, match="roles"):
        ScriptedModel("nobody")


# --- the scripted model ---------------------------------------------------------------------------


def test_planning_calls_get_a_plan_with_real_token_counts():
    model = ScriptedModel("perception")
    prompt = [msg("user", "Now begin! Here is your task:\n```\nObserve.\nContext: afternoon focus\n```\nFirst in part 1")]
    out = model.generate(prompt, stop_sequences=["<end_plan>"])
    assert "<end_plan>" not in out.content  # cut at the stop sequence, as a provider would
    assert "afternoon focus" in out.content and "## 2. Plan" in out.content
    assert "Recall the memories related to the context." in out.content
    assert out.token_usage.input_tokens == count_tokens(render_messages(prompt)) > 0
    assert out.token_usage.output_tokens == count_tokens(out.content)


def test_tool_calls_follow_the_script_with_arguments_from_the_task(runtime):
    model = ScriptedModel("perception")
    tools = make_tools(runtime, ["observe_environment", "semantic_recall", "mosaeic_capture", "query_wisdom"])
    from smolagents.default_tools import FinalAnswerTool

    tools.append(FinalAnswerTool())
    task = msg("user", "New task:\nObserve phase.\nContext: losing focus after lunch")
    first = model.generate([task], tools_to_call_from=tools)
    assert first.tool_calls[0].function.name == "observe_environment"
    history = [task, call_msg("observe_environment", {}), msg("tool-response", "Observation:\nEnvironment (sqlite): 0 basins")]
    second = model.generate(history, tools_to_call_from=tools)
    assert second.tool_calls[0].function.name == "semantic_recall"
    assert second.tool_calls[0].function.arguments == {"query": "losing focus after lunch", "k": 5}
    # An error is an observation too: the script moves on rather than looping.
    history += [call_msg("semantic_recall", {"query": "x"}), msg("tool-response", "Call id: c\nError:\nstore down\nNow let's retry")]
    third = model.generate(history, tools_to_call_from=tools)
    assert third.tool_calls[0].function.name == "query_wisdom"


def test_answers_are_composed_from_observations():
    t = Transcript.from_messages(
        [
            msg("user", "New task:\nDecide.\nContext: exam\nReasoning reported:\n- Relevant basins: attention, rest"),
            call_msg("assess_coherence", {}),
            msg("tool-response", "Observation:\nCoherence 41.0% (ok): Moderately coherent."),
            call_msg("activate_basin", {"basin": "attention"}),
            msg("tool-response", "Observation:\nActivated attention: 0.20 -> 0.60; spread: none; strengthened 0 links."),
        ]
    )
    move = METACOGNITION.next(t)
    assert isinstance(move, Call) and move.tool == "assess_coherence"  # the check after activating
    answer = METACOGNITION.answer(t)
    assert "Recommended focus: attention" in answer and "Activated: attention 0.20 -> 0.60" in answer
    assert "Coherence before: 41.0% (ok)" in answer


def test_a_spent_budget_makes_the_policy_answer():
    t = Transcript.from_messages(
        [msg("user", "New task:\nHeartbeat"), call_msg("observe_environment", {}),
         msg("tool-response", f"Call id: c\nError:\nRiver flow is turbulent: ...; {BUDGET_SPENT} with what you have.")]
    )
    assert isinstance(HEARTBEAT.next(t, set(TOOLS) | {"final_answer"}), Answer)


def test_manager_writes_delegation_code_then_a_decision():
    model = ScriptedModel("manager")
    task = msg("user", "New task:\nRun one OODA cycle.\nContext: afternoon focus")
    out = model.generate([task], stop_sequences=["Observation:", "Calling tools:", "</code>"])
    assert "observed = perception(task=" in out.content and "Context: afternoon focus" in out.content
    assert "</code>" not in out.content
    code1 = out.content.split("<code>\n", 1)[1]
    report = "Here is the final answer from your managed agent 'perception':\n- Recalled basins: attention"
    history = [task, call_msg("python_interpreter", code1), msg("tool-response", f"Observation:\nExecution logs:\n{report}")]
    out = model.generate(history, stop_sequences=["</code>"])
    assert "oriented = reasoning(task=" in out.content and "+ observed" in out.content


def test_decision_from_reports():
    t = Transcript(
        "Run.\nContext: afternoon focus",
        [
            Exchange("python_interpreter", f"{agent}(task='x')", observation)
            for agent, observation in [
                ("perception", "- Wisdom: Protect deep focus."),
                ("reasoning", "- Relevant basins: attention, rest\n- Top memory: Notifications cut focus.\n- Principle: Protect deep focus."),
                ("metacognition", "- Recommended focus: attention\n- Coherence after: 60.0% (ok)\n- Activated: attention 0.20 -> 0.60"),
            ]
        ],
    )
    d = decision(t)
    assert d["decision"].startswith("Focus on 'attention'")
    assert "Notifications cut focus." in d["decision"]
    assert d["confidence"] == round(0.5 * 0.6 + 0.3 + 0.2, 2)
    assert any("0.20 -> 0.60" in a for a in d["actions"])


def test_transcript_parsing_helpers():
    assert extract_context("Do it.\nContext: a\nb\nPerception reported:\nstuff") == "a\nb"
    assert extract_context("no marker") == "no marker"
    [hit] = recall_hits("Recall 'x': 1 of 2 memories; basins: a\n1. (0.50) Some text [semantic; basins: a, b; mem-abc]")
    assert (hit.relevance, hit.text, hit.basins, hit.memory_id) == (0.5, "Some text", ["a", "b"], "mem-abc")


def test_the_heartbeat_policy_fills_the_budget_the_task_states():
    from agents.heartbeat import MAX_STEPS, TASK, heartbeat_task
    from agents.scripts import step_budget

    assert step_budget(Transcript(TASK)) == MAX_STEPS == 10
    assert step_budget(Transcript(heartbeat_task(37))) == 37
    for budget in (1, 2, 3, 4, 9, 10, 11, 16, 30, 100):
        moves = HEARTBEAT.moves_for(Transcript(heartbeat_task(budget)))
        assert len(moves) == budget - 1, budget  # one tool call per step, the answer last
        tools = [m.tool for m in moves]
        if budget >= 3:
            assert tools[0] == "observe_environment" and tools[-1] == "remember"
        for i, tool in enumerate(tools):  # a recall always has a survey at most three steps before it
            if tool == "semantic_recall":
                assert "list_basins" in tools[max(0, i - 3) : i], (budget, i)
    ten = [m.tool for m in HEARTBEAT.moves_for(Transcript(TASK))]
    assert ten == ["observe_environment", "list_basins", *["semantic_recall"] * 3, "assess_coherence",
                   "observe_environment", "list_basins", "remember"]


def test_a_long_plan_summarises_the_repetitive_middle():
    from agents.heartbeat import heartbeat_task

    plan = HEARTBEAT.plan(Transcript(heartbeat_task(100)), set(TOOLS) | {"final_answer"})
    assert "Keep going in the same rhythm for" in plan and plan.count("\n") < 40
    assert "Write a heartbeat note." in plan


def test_retry_after_is_read_as_providers_send_it():
    import email.utils
    import time

    import httpx

    from agents.provider import retry_after

    def response(**headers: str) -> httpx.Response:
        return httpx.Response(429, headers=headers)

    assert retry_after(response(**{"retry-after": "7"})) == 7.0
    assert retry_after(response(**{"retry-after-ms": "250", "retry-after": "7"})) == 0.25  # the precise one wins
    in_a_minute = email.utils.formatdate(time.time() + 60, usegmt=True)
    assert 50 < retry_after(response(**{"retry-after": in_a_minute})) <= 60
    assert retry_after(response()) is None and retry_after(None) is None


def test_model_settings_are_checked():
    from dionysus_mcp.config import ConfigError, Settings

    settings = Settings.from_env({"DIONYSUS_MODEL_TIMEOUT": "5", "DIONYSUS_MODEL_RETRIES": "0", "DIONYSUS_TEMPERATURE": "0"})
    assert (settings.model_timeout_s, settings.model_retries, settings.temperature) == (5.0, 0, 0.0)
    assert Settings.from_env({}).temperature is None
    for bad in ({"DIONYSUS_MODEL_TIMEOUT": "0"}, {"DIONYSUS_MODEL_RETRIES": "1.5"}, {"DIONYSUS_TEMPERATURE": "hot"}):
        with pytest.raises(ConfigError, match=next(iter(bad))):
            Settings.from_env(bad)
    model = create_model("openai:m", "heartbeat", env={"OPENAI_API_KEY": "x"}, settings=settings)
    assert (model.client.timeout, model.client.max_retries, model.kwargs.get("temperature")) == (5.0, 0, 0.0)

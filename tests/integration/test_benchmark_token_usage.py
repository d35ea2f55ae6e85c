"""The token-usage benchmark script runs the real heartbeat three ways and reports what it
promises. Behaviour only: the percentages themselves are the benchmark's output, not a test."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "benchmark_token_usage.py"
POLICY_KEYS = {
    "cumulative_prompt_tokens", "final_prompt_tokens", "cumulative_reduction_pct", "final_prompt_reduction_pct",
    "fact_retention_pct", "item_retention_pct", "pairing_ok", "model_calls", "planning_calls", "calls",
}


def load_script():
    name = "dionysus_benchmark_token_usage"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def gated_run() -> tuple[int, dict]:
    """One run of the CI gate (10 steps, the default window): its exit code and its JSON. Every
    test here reads this one run: the benchmark is deterministic, and a run is its slowest part."""
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--ci", "--steps", "10", "--json"], cwd=str(ROOT), capture_output=True, text=True, timeout=300
    )
    assert proc.returncode in (0, 1), proc.stderr[-4000:]
    return proc.returncode, json.loads(proc.stdout)  # exactly one JSON object on stdout


@pytest.fixture(scope="module")
def ten_steps(gated_run) -> dict:
    return gated_run[1]


def test_json_has_the_promised_keys(ten_steps):
    doc = ten_steps
    assert {"steps", "cumulative_reduction_pct", "final_prompt_reduction_pct", "fact_retention_pct", "reduction_pct", "policies"} <= set(doc)
    assert doc["steps"] == 10 and doc["reduction_pct"] == doc["cumulative_reduction_pct"]
    assert set(doc["policies"]) == {"none", "placeholder", "pruning"}
    for policy in doc["policies"].values():
        assert POLICY_KEYS <= set(policy)
    assert doc["setup"]["encoding"] == "o200k_base" and doc["setup"]["model"] == "scripted"
    main = doc["policies"]["pruning"]
    assert doc["cumulative_reduction_pct"] == main["cumulative_reduction_pct"]
    assert doc["final_prompt_reduction_pct"] == main["final_prompt_reduction_pct"]
    assert doc["fact_retention_pct"] == main["fact_retention_pct"]


def test_every_call_is_counted_planning_included(ten_steps):
    for policy in ten_steps["policies"].values():
        calls = policy["calls"]
        assert policy["status"] == "success" and policy["action_steps"] == 10
        assert [c["step"] for c in calls if c["kind"] == "plan"] == [1, 4, 7, 10]  # plans every 3 steps
        assert len(calls) == policy["model_calls"] == 14 and all(c["prompt_tokens"] > 0 for c in calls)
        assert sum(c["prompt_tokens"] for c in calls) == policy["cumulative_prompt_tokens"]
        assert calls[-1]["prompt_tokens"] == policy["final_prompt_tokens"]


def test_policies_compare_as_they_should(ten_steps):
    none, placeholder, pruning = (ten_steps["policies"][p] for p in ("none", "placeholder", "pruning"))
    assert none["cumulative_reduction_pct"] == none["final_prompt_reduction_pct"] == 0.0
    assert none["fact_retention_pct"] == 100.0 and none["pruned_observations"] == 0
    assert pruning["cumulative_prompt_tokens"] < none["cumulative_prompt_tokens"]
    assert pruning["final_prompt_tokens"] < none["final_prompt_tokens"]
    assert pruning["pruned_observations"] > 0 and pruning["pruned_plans"] > 0
    assert placeholder["fact_retention_pct"] < pruning["fact_retention_pct"]
    assert placeholder["final_prompt_tokens"] <= pruning["final_prompt_tokens"]  # it keeps nothing
    assert pruning["same_actions_as_none"]  # the summaries kept what the policy acts on
    assert ten_steps["pairing_ok"] and all(p["pairing_ok"] and not p["callback_errors"] for p in ten_steps["policies"].values())


def test_headline_facts_follow_the_documented_definition():
    bench = load_script()
    observation = "\n".join(
        [
            "Recall 'q': 2 of 9 memories; basins: a, b",
            "1. (1.00) The March 14 outage lasted 47 minutes. It was the pool. [episodic; basins: a; mem-1]",
            "2. (0.50) Another memory entirely. [semantic; basins: b; mem-2]",
        ]
    )
    assert bench.headline_facts(observation) == ["Recall 'q': 2 of 9 memories; basins: a, b", "The March 14 outage lasted 47 minutes."]
    assert bench.item_sentences(observation) == ["The March 14 outage lasted 47 minutes.", "Another memory entirely."]
    assert bench.first_sentence("1. e.g. too short. Here it ends. Not this.") == "1. e.g. too short. Here it ends."  # >= 20 chars


def test_pairing_check_catches_a_lost_tool_result():
    from smolagents.models import ChatMessage, MessageRole

    bench = load_script()

    def m(role: str, text: str) -> ChatMessage:
        return ChatMessage(role=MessageRole(role), content=[{"type": "text", "text": text}])

    paired = [m("user", "task"), m("tool-call", "Calling tools: [...]"), m("tool-response", "Observation:\nx")]
    assert bench.tool_call_pairing(paired, 1) == []
    lost = [m("user", "task"), m("tool-call", "Calling tools: [...]"), m("assistant", "Thought")]
    assert bench.tool_call_pairing(lost, 1)


def test_ci_gate_exit_code_matches_the_figures(gated_run):
    bench = load_script()
    code, doc = gated_run
    met = all(doc[key] >= threshold for key, threshold in bench.CI_GATE.items()) and doc["pairing_ok"]
    assert doc["ci"]["passed"] is met and code == (0 if met else 1)
    assert doc["ci"]["gate"] == bench.CI_GATE and (doc["ci"]["failures"] == []) is met
    with pytest.raises(SystemExit) as exc:
        bench.main(["--ci", "--steps", "30"])  # the gate is defined at 10 steps
    assert exc.value.code == 2


def test_pruning_meets_the_ci_gate_at_ten_steps(ten_steps):
    # The run is deterministic (scripted model, seeded ids, fixed clock), so the gate is
    # a regression guard for pruning, not a timing: a change that prunes less fails here.
    assert ten_steps["steps"] == 10
    assert ten_steps["cumulative_reduction_pct"] >= 30
    assert ten_steps["final_prompt_reduction_pct"] >= 60
    assert ten_steps["fact_retention_pct"] >= 95


def test_baselines_against_stock_smolagents_and_on_an_ooda_cycle(ten_steps):
    doc = ten_steps
    base = doc["baselines"]
    heartbeat, ooda = base["heartbeat"], base["ooda_cycle"]
    # the pruning-alone figures are the headline ones, measured on the same runs
    assert heartbeat["pruning_alone_pct"] == doc["cumulative_reduction_pct"]
    assert heartbeat["ours_unpruned_prompt_tokens"] == doc["policies"]["none"]["cumulative_prompt_tokens"]
    assert heartbeat["ours_prompt_tokens"] == doc["policies"]["pruning"]["cumulative_prompt_tokens"]
    assert doc["ours_vs_stock_reduction_pct"] == heartbeat["ours_vs_stock_pct"]
    assert doc["ooda_ours_vs_stock_reduction_pct"] == ooda["ours_vs_stock_pct"]
    assert set(ooda["status"].values()) == {"success"} and len(set(ooda["model_calls"].values())) == 1
    for run in (heartbeat, ooda):
        assert run["ours_prompt_tokens"] < run["ours_unpruned_prompt_tokens"] < run["stock_prompt_tokens"]
    for name, prompt in base["system_prompt_tokens"].items():
        assert prompt["ours"] < prompt["stock"], name

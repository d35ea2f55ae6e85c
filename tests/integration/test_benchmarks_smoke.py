"""The speed benchmark script runs and reports what it promises (behaviour, never timings)."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "benchmark_speed.py"
BENCHMARKS = {
    "cold_start", "tool_latency", "trace_writes", "ooda_overhead", "trace_queries", "concurrent",
    "coherence_scaling", "activation_scaling", "free_loop", "isolation",
}

pytestmark = pytest.mark.slow  # runs OODA cycles and spawns stdio servers


def run_script(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args], cwd=str(ROOT), capture_output=True, text=True, timeout=timeout
    )


def quick_sizes() -> dict[str, int]:
    spec = importlib.util.spec_from_file_location("dionysus_benchmark_speed_sizes", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return dict(module.QUICK)


def test_quick_run_prints_one_json_object_with_every_benchmark():
    proc = run_script("--quick", "--skip-neo4j", "--json")
    assert proc.returncode == 0, proc.stderr[-4000:]
    doc = json.loads(proc.stdout)  # stdout is exactly one JSON object; progress went to stderr
    assert doc["benchmark"] == "speed" and doc["model"] == "scripted" and doc["quick"] is True
    assert doc["neo4j"] == "skipped" and doc["errors"] == {}
    assert set(doc["results"]) == set(doc["selected"]) == BENCHMARKS
    assert {"cpu", "cores", "python", "loadavg_at_start", "packages"} <= set(doc["machine"])
    assert doc["sizes"] == quick_sizes()  # it ran at the sizes --quick promises

    results = doc["results"]
    cold = results["cold_start"]
    assert cold["repetitions"] == len(cold["runs"]) >= 1 and cold["first_tool_result_s"]["median"] > 0
    assert {"python_startup_s", "import_and_build_server_s", "smolagents_imported_at_startup"} <= set(cold["breakdown"])

    latency = results["tool_latency"]
    assert latency["sqlite"]["status"] == "ok" and latency["neo4j"]["status"] == "not available"
    for tool in ("assess_coherence", "semantic_recall", "list_basins", "mcp_noop"):
        stats = latency["sqlite"][tool]
        assert stats["n"] > 0 and 0 < stats["min_ms"] <= stats["p50_ms"] <= stats["p99_ms"] <= stats["max_ms"]
    assert latency["sqlite"]["seeding"]["memories"] == doc["sizes"]["memories"] and latency["sqlite"]["semantic_recall_hits"] > 0

    writes = results["trace_writes"]["sqlite"]
    assert writes["status"] == "ok" and writes["per_step_amortized_ms"] > 0 and writes["traces_stored"] > 0

    ooda = results["ooda_overhead"]["sqlite"]
    assert ooda["status"] == "ok" and "persist=False" in ooda["persistence"]
    assert ooda["ratio"] > 0 and ooda["writes_per_cycle"]["step"] > 0

    queries = results["trace_queries"]["sqlite"]
    assert queries["traces_stored"] == doc["sizes"]["traces_sqlite"] and queries["list_traces_page_size"] == 20
    assert queries["get_trace_root_sub_runs"] == 3 and queries["get_trace_root"]["p50_ms"] > 0

    concurrent = results["concurrent"]
    assert concurrent["status"] == "ok" and concurrent["ooda_cycles_completed"] >= 4
    assert concurrent["under_load"]["all"]["n"] == doc["sizes"]["concurrent_samples"]

    scaling = results["coherence_scaling"]["sqlite"]
    assert scaling["status"] == "ok" and scaling["active"] == 100 and scaling["ratio_p50"] > 0
    small, large = str(doc["sizes"]["coherence_small"]), str(doc["sizes"]["coherence_large"])
    assert scaling[small]["n"] == scaling[large]["n"] > 0
    activation = results["activation_scaling"]["sqlite"]
    assert activation["status"] == "ok" and activation["active"] == 20 and activation["ratio_p50"] > 0
    small, large = str(doc["sizes"]["activation_small"]), str(doc["sizes"]["activation_large"])
    assert activation[small]["n"] == activation[large]["n"] > 0 and activation[large]["active_after"] == 20
    free = results["free_loop"]
    assert free["status"] == "ok" and free["ping_idle"]["n"] == doc["sizes"]["free_loop_pings"]
    assert free["ping_under_load"]["n"] > 0 and free["ooda_cycle_s"] > 0
    assert cold["bare_mcpserver_first_result_s_median"] > 0
    assert len(cold["bare_runs_s"]) == cold["repetitions"] and cold["ratio_to_bare"] > 0  # interleaved with ours

    # Headline figures are ratios to a reference measured in the same run.
    with_ratio = {f["benchmark"] for f in doc["figures"] if f["ratio"] is not None and f["reference"]}
    assert {"cold_start", "tool_latency", "ooda_overhead", "concurrent", "coherence_scaling", "activation_scaling",
            "free_loop"} <= with_ratio

    # Every figure says which store, size and model it was measured with; targets say if met.
    assert doc["figures"]
    for figure in doc["figures"]:
        assert {"benchmark", "metric", "value", "unit", "store", "size", "model", "target", "met"} <= set(figure)
        assert figure["model"] == "scripted" and figure["benchmark"] in BENCHMARKS
    targets = {(t["benchmark"], t["store"]) for t in doc["targets"]}
    assert {("cold_start", "sqlite"), ("tool_latency", "sqlite"), ("ooda_overhead", "sqlite"),
            ("trace_queries", "sqlite"), ("concurrent", "sqlite")} <= targets
    assert all(isinstance(t["met"], bool) and t["at_target_size"] in (True, False) for t in doc["targets"])


def test_only_runs_the_named_benchmarks_and_the_table_labels_them():
    proc = run_script("--quick", "--skip-neo4j", "--only", "trace_writes")
    assert proc.returncode == 0, proc.stderr[-4000:]
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("dionysus-mcp speed benchmarks — model scripted")
    assert any(line.startswith("trace_writes") and "sqlite" in line for line in lines)
    assert not any(line.startswith(("cold_start", "concurrent", "tool_latency")) for line in lines)


def test_an_unknown_benchmark_name_is_refused():
    proc = run_script("--only", "warp_speed", timeout=60)
    assert proc.returncode != 0 and "unknown benchmark" in proc.stderr and "cold_start" in proc.stderr


def test_event_loop_benchmark_reports_the_first_agent_call_against_idle():
    script = ROOT / "scripts" / "benchmark_event_loop.py"
    proc = subprocess.run([sys.executable, str(script), "--json"], cwd=str(ROOT), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-4000:]
    doc = json.loads(proc.stdout)
    assert doc["tool"] == "run_ooda_cycle" and doc["pings_during_call"] > 0 and doc["goal_ms"] == 100
    assert doc["worst_ping_during_first_call_ms"] >= doc["p50_ping_during_first_call_ms"] > 0
    assert doc["worst_ping_idle_ms"] > 0 and doc["worst_ping_first_2s_after_start_ms"] > 0

"""scripts/benchmark_recall.py runs and reports what it promises (behaviour, never timings)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow  # seeds a store and spawns two child processes


def test_small_run_prints_one_json_object_with_every_mode(tmp_path):
    proc = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "benchmark_recall.py"), "--sizes", "200", "--ping-seconds", "0.5",
         "--workdir", str(tmp_path), "--json", "--lexical-weights", "0.1", "0.3"],
        cwd=str(ROOT), capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    doc = json.loads(proc.stdout)
    assert doc["paraphrase_pairs"] >= 100 and doc["exact_pairs"] >= 30
    [size] = doc["sizes"]
    assert size["size"] == 200
    modes = {"lexical", "embedding", "hybrid-rrf", "hybrid-weighted"}
    assert set(size["exact"]) == modes | {"sweep"}
    assert set(size["paraphrase"]) == modes | {"sweep", "tune", "heldout"}
    assert set(size["paraphrase"]["heldout"]) == modes | {"sweep"}
    assert size["paraphrase"]["lexical"]["hit@3"] == 0.0  # no shared word: words alone find nothing
    assert size["exact"]["lexical"]["hit@1"] == 1.0
    assert size["exact"]["hybrid-weighted"]["mrr"] >= size["exact"]["lexical"]["mrr"]
    assert size["paraphrase"]["hybrid-weighted"]["hit@3"] > 0.5
    assert set(size["paraphrase"]["heldout"]["sweep"]) == {"0.1", "0.3"}
    assert {"recall_p50_ms", "recall_p50_cpu_ms", "search_p50_cpu_ms", "rss_mb", "first_recall_after_start_s", "ping_busy_max_ms"} <= set(size)
    assert "exact_hybrid_over_lexical_mrr_200" in doc["ratios"]

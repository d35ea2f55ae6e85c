"""Embedding models side by side: load time, RSS, one-text latency, batch throughput, size.

    python scripts/benchmark_embedders.py            # minilm (2 threads, 1 thread) and wordllama; a table
    python scripts/benchmark_embedders.py --json

Each model runs in its own process (so RSS and load time are its own) on one BLAS thread, as the
server runs it; `minilm` splits a batch over two threads (the default), `minilm:1` over one.
Texts are the recall benchmark's distractor notes (scripts/recall_corpus.py, 14 tokens on
average). CPU seconds are reported beside wall seconds: on a shared machine the CPU figure is
what an idle core would give. "remember" embeds one text, so the one-text latency is what it
adds per memory. `installed_mb` is what the model brings to an install: its files in this
package, or its wheel's installed files.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return float("nan")


def measure(name: str, batch: int) -> dict[str, float | str]:
    import recall_corpus as corpus

    from dionysus_mcp.cognition.embedding import create_embedder

    texts = corpus.distractors(batch)
    before = rss_mb()
    name, _, threads = name.partition(":")
    embedder = create_embedder(name)
    if threads:
        embedder.threads = int(threads)
    t, c = time.perf_counter(), time.process_time()
    embedder.warm_up()
    out: dict[str, float | str] = {"embedder": embedder.name + (f" ({threads} thread)" if threads else ""), "dim": embedder.dim}
    out["installed_mb"] = installed_mb(name)
    out["load_s"], out["load_cpu_s"] = round(time.perf_counter() - t, 3), round(time.process_time() - c, 3)
    out["rss_loaded_mb"] = round(rss_mb() - before, 1)
    one, one_cpu = [], []
    for text in texts[:30]:
        t, c = time.perf_counter(), time.process_time()
        embedder.embed([text])
        one.append(time.perf_counter() - t)
        one_cpu.append(time.process_time() - c)
    out["one_text_ms"], out["one_text_cpu_ms"] = round(statistics.median(one) * 1e3, 2), round(statistics.median(one_cpu) * 1e3, 2)
    t, c = time.perf_counter(), time.process_time()
    embedder.embed(texts)
    wall, cpu = time.perf_counter() - t, time.process_time() - c
    out["batch_texts_per_s"], out["batch_texts_per_cpu_s"] = round(len(texts) / wall), round(len(texts) / cpu)
    out["rss_after_batch_mb"] = round(rss_mb() - before, 1)
    return out


def installed_mb(name: str) -> float:
    from importlib.metadata import distribution

    if name == "minilm":
        from dionysus_mcp.cognition.minilm import model_folder

        files = [p.stat().st_size for p in model_folder().iterdir()]
    else:
        dist = distribution(name)
        files = [f.size or 0 for f in dist.files or []]
    return round(sum(files) / 1e6, 1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--embedders", nargs="+", default=["minilm", "minilm:1", "wordllama"])
    parser.add_argument("--batch", type=int, default=1000, help="texts in the throughput batch")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:
        print(json.dumps(measure(args.one, args.batch)))
        return 0
    rows = []
    for name in args.embedders:
        cmd = [sys.executable, __file__, "--one", name, "--batch", str(args.batch)]
        rows.append(json.loads(subprocess.run(cmd, capture_output=True, text=True, check=True, cwd=ROOT).stdout))
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    keys = list(rows[0])
    print("  ".join(f"{k:>14}" for k in keys))
    for r in rows:
        print("  ".join(f"{r[k]!s:>14}" for k in keys))
    return 0


if __name__ == "__main__":
    sys.exit(main())

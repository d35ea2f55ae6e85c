"""Recall quality and speed at scale: lexical-only, embedding-only and hybrid recall.

    python scripts/benchmark_recall.py                      # 1k, 10k, 100k distractors; a table
    python scripts/benchmark_recall.py --sizes 1000 --json  # one JSON object
    python scripts/benchmark_recall.py --embedder wordllama --sizes 1000 10000  # the former default
    python scripts/benchmark_recall.py --sizes 10000 --lexical-weights 0.05 0.1 0.2  # a sweep

Corpus (scripts/recall_corpus.py): 108 paraphrase pairs (the query shares no content word with
its memory; checked here before anything runs), 32 exact-term pairs (ticket codes, invoice
numbers, names, IP addresses, SKUs), and generated everyday notes as distractors. Every size runs
on a real SQLite file through the real services, with the --embedder model (the default,
all-MiniLM-L6-v2, shipped in the package); seeding prints its load time and embedding throughput.

The paraphrase pairs are split in two fixed halves: pairs 0, 2, 4, … tune (every weight of the
fusion, and the vector search's candidate counts, are chosen on them) and pairs 1, 3, 5, … are
held out (what docs/benchmarks.md reports as the result). Both halves are printed.

Per size: hit@1, hit@3 and MRR@10 for each mode; p50/p99 of `semantic_recall` (service level,
k = 5, hybrid); RSS after the run; the first recall after a restart (a new process: runtime
start + first recall, which waits for the model and loads the vectors); and the worst latency of
an MCP `bench_ping` tool while four clients recall without pause, next to the same ping's worst
latency on an idle server. Speed goals are reported as ratios measured in the same run.
Seeded databases are kept in --workdir (default: a folder under the system temp dir) and reused.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "scripts")]

import recall_corpus as corpus  # noqa: E402
from pydantic import BaseModel  # noqa: E402

from dionysus_mcp.cognition.ranking import FUSION  # noqa: E402

class Pong(BaseModel):
    ok: bool


MODES = ("lexical", "embedding", "hybrid-rrf", "hybrid-weighted")
TOP = 10
HALVES = {"tune": 0, "heldout": 1}  # paraphrase pair i belongs to the half whose value is i % 2


def check_corpus() -> None:
    bad = [(m, q, sorted(corpus.shared_words(m, q))) for m, q in corpus.PARAPHRASES if corpus.shared_words(m, q)]
    if bad or len(corpus.PARAPHRASES) < 100:
        raise SystemExit(f"paraphrase set invalid: {len(corpus.PARAPHRASES)} pairs, overlaps {bad[:3]}")


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return float("nan")


def pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def seed(db: Path, size: int, embedder_name: str) -> None:
    from datetime import datetime, timedelta, timezone
    import random

    from dionysus_mcp.cognition.embedding import create_embedder
    from dionysus_mcp.cognition.memory import embedding_text
    from dionysus_mcp.store.base import Embedding
    from dionysus_mcp.store.sqlite import SQLiteStore
    from schema.models import Memory

    rows = [(f"noise-{i:06d}", text) for i, text in enumerate(corpus.distractors(size))]
    targets = [(f"para-{i:03d}", m) for i, (m, _) in enumerate(corpus.PARAPHRASES)]
    targets += [(f"exact-{i:03d}", m) for i, (m, _) in enumerate(corpus.EXACT)]
    rng = random.Random(11)
    for item in targets:  # spread the targets among the distractors
        rows.insert(rng.randrange(len(rows) + 1), item)
    embedder = create_embedder(embedder_name)
    texts = [embedding_text(text, []) for _, text in rows]
    t, c = time.perf_counter(), time.process_time()
    embedder.warm_up()
    print(f"  {embedder.name}: loaded in {time.perf_counter() - t:.2f} s ({time.process_time() - c:.2f} CPU)", file=sys.stderr)
    t, c = time.perf_counter(), time.process_time()
    vectors = embedder.embed(texts)
    wall, cpu = time.perf_counter() - t, time.process_time() - c
    print(f"  embedded {len(texts)} texts in {wall:.1f} s ({cpu:.1f} CPU): {len(texts) / cpu:.0f} texts per CPU second, "
          f"RSS {rss_mb()} MB", file=sys.stderr, flush=True)
    store = SQLiteStore(db)
    await store.open()
    t0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
    for i, ((mid, text), vector) in enumerate(zip(rows, vectors)):
        memory = Memory(id=mid, kind="semantic", content=text, importance=0.5, created_at=t0 + timedelta(seconds=i))
        await store.memories.add(memory, Embedding(embedder.name, vector))
        if i % 10_000 == 0:
            print(f"  seeded {i}/{len(rows)}", file=sys.stderr, flush=True)
    await store.close()


def rank_of(ids: list[str], target: str) -> int | None:
    return ids.index(target) + 1 if target in ids else None


def scores(ranks: list[int | None]) -> dict[str, float]:
    n = len(ranks)
    return {
        "hit@1": round(sum(1 for r in ranks if r == 1) / n, 3),
        "hit@3": round(sum(1 for r in ranks if r and r <= 3) / n, 3),
        "mrr": round(sum(1 / r for r in ranks if r) / n, 3),
    }


async def quality(rt: Any, pairs: list[tuple[str, str]], prefix: str, weights: list[float]) -> dict[str, Any]:
    """Scores per mode over all pairs and, for paraphrases, per half; `sweep` holds the weighted
    hybrid at each lexical weight of `weights`."""
    from dionysus_mcp.cognition.embedding import NoEmbedder
    from schema.text import tokens

    memory, store = rt.memory, rt.store
    shipped = memory.ranking  # the ranking settings of this embedder (cognition/ranking.py, RANKINGS)
    ranks: dict[str, list[int | None]] = {mode: [] for mode in MODES}
    swept: dict[float, list[int | None]] = {w: [] for w in weights}
    for i, (_, query) in enumerate(pairs):
        target = f"{prefix}-{i:03d}"
        vector = await memory.embed(query)
        found = await store.memories.search([], vector, None, TOP)
        ranks["embedding"].append(rank_of([mid for mid, _ in found.semantic], target))
        for mode, fusion in (("hybrid-rrf", "rrf"), ("hybrid-weighted", "weighted")):
            memory.ranking = dataclasses.replace(shipped, fusion=fusion)
            hits = (await memory.semantic_recall(query, k=TOP)).hits
            ranks[mode].append(rank_of([h.memory_id for h in hits], target))
        for w in weights:
            memory.ranking = dataclasses.replace(shipped, fusion="weighted", lexical_weight=w)
            swept[w].append(rank_of([h.memory_id for h in (await memory.semantic_recall(query, k=TOP)).hits], target))
        memory.ranking = shipped
        embedder, memory.embedder = memory.embedder, NoEmbedder()
        hits = (await memory.semantic_recall(query, k=TOP)).hits if tokens(query) else []
        memory.embedder = embedder
        ranks["lexical"].append(rank_of([h.memory_id for h in hits], target))
    out: dict[str, Any] = {mode: scores(r) for mode, r in ranks.items()}
    if prefix == "para":
        for half, parity in HALVES.items():
            out[half] = {mode: scores(r[parity::2]) for mode, r in ranks.items()}
            out[half]["sweep"] = {str(w): scores(r[parity::2]) for w, r in swept.items()}
    out["sweep"] = {str(w): scores(r) for w, r in swept.items()}
    return out


async def ping_during_recall(rt: Any, queries: list[str], seconds: float) -> dict[str, float]:
    from contextlib import asynccontextmanager

    from mcp import Client

    from dionysus_mcp.surface.server import build_server

    @asynccontextmanager
    async def shared():
        yield rt

    server = build_server(runtime_factory=lambda: shared())

    @server.tool(name="bench_ping")
    async def bench_ping() -> Pong:
        return Pong(ok=True)

    async def pings(client: Any, until: float) -> list[float]:
        out = []
        while time.perf_counter() < until:
            t = time.perf_counter()
            await client.call_tool("bench_ping", {})
            out.append(time.perf_counter() - t)
            await asyncio.sleep(0.01)
        return out

    async with Client(server) as client:
        await pings(client, time.perf_counter() + 0.5)  # warm-up: first calls pay one-off costs
        idle = await pings(client, time.perf_counter() + seconds / 2)
        stop = time.perf_counter() + seconds

        async def recaller(k: int) -> int:
            n = 0
            while time.perf_counter() < stop:
                await client.call_tool("semantic_recall", {"query": queries[(k * 7 + n) % len(queries)], "k": 5})
                n += 1
            return n

        busy, *counts = await asyncio.gather(pings(client, stop), *(recaller(k) for k in range(4)))
    return {
        "ping_idle_max_ms": round(max(idle) * 1000, 2),
        "ping_busy_max_ms": round(max(busy) * 1000, 2),
        "ping_busy_p50_ms": round(statistics.median(busy) * 1000, 2),
        "recalls_during_ping": sum(counts),
    }


async def measure(db: Path, size: int, ping_seconds: float, embedder_name: str, weights: list[float],
                  candidates: int | None = None, quality_only: bool = False) -> dict[str, Any]:
    from dionysus_mcp.config import Settings
    from dionysus_mcp.runtime import open_runtime
    from dionysus_mcp.store import vector_cache

    if candidates is not None:  # 0: exact search at every size; N: rescore N prefiltered rows
        vector_cache.PREFILTER_MIN = 10**12 if candidates == 0 else vector_cache.PREFILTER_MIN
        vector_cache.PREFILTER_CANDIDATES = candidates or vector_cache.PREFILTER_CANDIDATES

    settings = Settings.from_env(
        {"DIONYSUS_DB_PATH": str(db), "DIONYSUS_OUTBOX_PATH": str(db.parent / f"outbox-{size}.db"), "DIONYSUS_EMBEDDER": embedder_name}
    )
    queries = [q for _, q in corpus.PARAPHRASES] + [q for _, q in corpus.EXACT]
    t0, c0 = time.perf_counter(), time.process_time()
    async with open_runtime(settings) as rt:
        await rt.memory.semantic_recall(queries[0], k=5)
        first, first_cpu = time.perf_counter() - t0, time.process_time() - c0
        out: dict[str, Any] = {
            "size": size,
            "embedder": rt.embedder.name,
            "first_recall_after_start_s": round(first, 3),
            # CPU seconds of every thread of the process: what the wall time would be on an idle
            # machine, give or take the model load running beside the vector load.
            "first_recall_after_start_cpu_s": round(first_cpu, 3),
            "load_average": round(os.getloadavg()[0], 2),
            "vector_search": "exact" if size <= vector_cache.PREFILTER_MIN
            else f"sign-bit prefilter, {vector_cache.PREFILTER_CANDIDATES} rescored",
        }
        out["paraphrase"] = await quality(rt, corpus.PARAPHRASES, "para", weights)
        out["exact"] = await quality(rt, corpus.EXACT, "exact", weights)
        if quality_only:
            return out
        # The store's part alone (query vectors computed beforehand): what grows with the store.
        from schema.text import tokens

        vectors = [(tokens(q), await rt.memory.embed(q)) for q in queries]
        search_cpu = []
        for _ in range(3):
            for terms, vector in vectors:
                c = time.process_time()
                await rt.store.memories.search(terms, vector, None, 30)
                search_cpu.append(time.process_time() - c)
        out["search_p50_cpu_ms"] = round(statistics.median(search_cpu) * 1000, 2)
        samples, cpu = [], []
        for _ in range(3):
            for q in queries:
                t, c = time.perf_counter(), time.process_time()
                await rt.memory.semantic_recall(q, k=5)
                samples.append(time.perf_counter() - t)
                cpu.append(time.process_time() - c)
        out["recall_p50_ms"] = round(statistics.median(samples) * 1000, 2)
        # CPU time of the recall (all threads): the wall time on a machine with a core to spare.
        out["recall_p50_cpu_ms"] = round(statistics.median(cpu) * 1000, 2)
        out["recall_p99_ms"] = round(pct(samples, 0.99) * 1000, 2)
        out["rss_mb"] = rss_mb()
        out.update(await ping_during_recall(rt, queries, ping_seconds))
    return out


def run_child(args: list[str]) -> dict[str, Any]:
    proc = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True, cwd=str(ROOT))
    sys.stderr.write(proc.stderr)
    if proc.returncode != 0:
        raise SystemExit(f"benchmark child {args} failed with exit code {proc.returncode}")
    return json.loads(proc.stdout or "{}")


def table(report: dict[str, Any]) -> str:
    lines = ["size     set                   mode             hit@1  hit@3  MRR"]
    for r in report["sizes"]:
        for part, label, block in (
            ("paraphrase", "paraphrase (all)", r["paraphrase"]),
            ("paraphrase", "paraphrase tune", r["paraphrase"]["tune"]),
            ("paraphrase", "paraphrase held-out", r["paraphrase"]["heldout"]),
            ("exact", "exact", r["exact"]),
        ):
            for mode in MODES:
                s = block[mode]
                lines.append(f"{r['size']:<8} {label:<21} {mode:<16} {s['hit@1']:<6} {s['hit@3']:<6} {s['mrr']}")
            for w, s in block["sweep"].items():
                lines.append(f"{r['size']:<8} {label:<21} {'weighted w=' + w:<16} {s['hit@1']:<6} {s['hit@3']:<6} {s['mrr']}")
    lines.append("")
    lines.append("size     p50 ms (cpu)   store cpu ms  p99 ms  RSS MB  first recall s (cpu)  ping idle max ms  ping busy max ms  load avg")
    for r in report["sizes"]:
        if "recall_p50_ms" not in r:  # --quality-only
            continue
        first = f"{r['first_recall_after_start_s']} ({r['first_recall_after_start_cpu_s']})"
        p50 = f"{r['recall_p50_ms']} ({r['recall_p50_cpu_ms']})"
        lines.append(
            f"{r['size']:<8} {p50:<14} {r['search_p50_cpu_ms']:<13} {r['recall_p99_ms']:<7} {r['rss_mb']:<7} "
            f"{first:<21} {r['ping_idle_max_ms']:<17} {r['ping_busy_max_ms']:<17} {r['load_average']}"
        )
    lines.append("")
    lines.extend(f"{k}: {v}" for k, v in report["ratios"].items())
    return "\n".join(lines)


def ratios(sizes: list[dict[str, Any]]) -> dict[str, Any]:
    by = {r["size"]: r for r in sizes}
    out: dict[str, Any] = {}
    if 10_000 in by and 100_000 in by and "recall_p50_ms" in by[10_000] and "recall_p50_ms" in by[100_000]:
        out["p50_100k_over_10k"] = round(by[100_000]["recall_p50_ms"] / by[10_000]["recall_p50_ms"], 2)
        out["p50_cpu_100k_over_10k"] = round(by[100_000]["recall_p50_cpu_ms"] / by[10_000]["recall_p50_cpu_ms"], 2)
        out["store_search_cpu_100k_over_10k"] = round(by[100_000]["search_p50_cpu_ms"] / by[10_000]["search_p50_cpu_ms"], 2)
    for r in sizes:
        out[f"exact_hybrid_over_lexical_mrr_{r['size']}"] = round(
            r["exact"][f"hybrid-{FUSION}"]["mrr"] / (r["exact"]["lexical"]["mrr"] or 1), 3
        )
        out[f"paraphrase_hybrid_hit3_{r['size']}"] = r["paraphrase"][f"hybrid-{FUSION}"]["hit@3"]
        out[f"paraphrase_heldout_hybrid_hit3_{r['size']}"] = r["paraphrase"]["heldout"][f"hybrid-{FUSION}"]["hit@3"]
        if "ping_busy_max_ms" in r:
            out[f"ping_busy_over_idle_max_{r['size']}"] = round(r["ping_busy_max_ms"] / r["ping_idle_max_ms"], 2)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 10_000, 100_000])
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "dionysus-recall-bench")
    parser.add_argument("--ping-seconds", type=float, default=4.0)
    parser.add_argument("--embedder", default="minilm", choices=["minilm", "wordllama"], help="DIONYSUS_EMBEDDER to measure")
    parser.add_argument("--lexical-weights", type=float, nargs="*", default=[], help="also measure the weighted fusion at these lexical weights")
    parser.add_argument("--prefilter-candidates", type=int, help="rows the vector prefilter rescores (0: exact search)")
    parser.add_argument("--quality-only", action="store_true", help="hit@k and MRR only, no speed figures")
    parser.add_argument("--seed-one", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--measure-one", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    check_corpus()
    args.workdir.mkdir(parents=True, exist_ok=True)
    db = lambda n: args.workdir / f"recall-{args.embedder}-{n}.db"  # noqa: E731
    if args.seed_one is not None:
        asyncio.run(seed(db(args.seed_one), args.seed_one, args.embedder))
        return 0
    if args.measure_one is not None:
        print(json.dumps(asyncio.run(measure(db(args.measure_one), args.measure_one, args.ping_seconds, args.embedder,
                                             args.lexical_weights, args.prefilter_candidates, args.quality_only))))
        return 0
    sizes = []
    for n in args.sizes:
        if not db(n).exists():
            print(f"seeding {n} distractors in {db(n)}", file=sys.stderr, flush=True)
            run_child(["--workdir", str(args.workdir), "--embedder", args.embedder, "--seed-one", str(n)])
        print(f"measuring {n}", file=sys.stderr, flush=True)
        sizes.append(
            run_child(["--workdir", str(args.workdir), "--embedder", args.embedder, "--ping-seconds", str(args.ping_seconds),
                       "--measure-one", str(n), "--lexical-weights", *map(str, args.lexical_weights),
                       *(["--prefilter-candidates", str(args.prefilter_candidates)] if args.prefilter_candidates is not None else []),
                       *(["--quality-only"] if args.quality_only else [])])
        )
    report = {"embedder": args.embedder, "paraphrase_pairs": len(corpus.PARAPHRASES), "exact_pairs": len(corpus.EXACT), "sizes": sizes, "ratios": ratios(sizes)}
    print(json.dumps(report, indent=2) if args.json else table(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())

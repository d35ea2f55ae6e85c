#!/usr/bin/env python
"""Speed benchmarks of dionysus-mcp (issue 5, item 2): prints a table, or one JSON object.

    python scripts/benchmark_speed.py                    # everything, SQLite and Neo4j (local Bolt server)
    python scripts/benchmark_speed.py --quick --skip-neo4j --json
    python scripts/benchmark_speed.py --only tool_latency,trace_queries

Benchmarks (names for --only):

    cold_start      spawn `python -m dionysus_mcp serve` over stdio with a fresh database, time to
                    the first tool result (the real `mcp` client), plus an import breakdown
    tool_latency    assess_coherence / semantic_recall round trips through the in-memory MCP
                    client, 200 basins and 10,000 memories, on SQLite and Neo4j
    trace_writes    create_trace / add_step / complete_trace cost per step, on both stores
    ooda_overhead   an OODA cycle's wall time with trace persistence / without (the runner's
                    `persist` switch), and the trace writes one cycle makes
    trace_queries   list_traces / get_trace with 100,000 stored traces (SQLite; fewer on Neo4j)
    concurrent      tool latency while 4 OODA cycles run at once
    isolation       an OODA cycle with the manager's code in its child process / with the same
                    interpreter in the server process (a benchmark-only reference), scripts/speed_isolation.py

Every figure is labelled with its store, its size and the model (`scripted`: the deterministic
offline policy, no LLM). The machine is shared and noisy: figures are medians / percentiles of
many calls, and ratios are only compared within one run. Nothing here is a timed test; the
smoke test (tests/integration/test_benchmarks_smoke.py) checks only that the script runs and
prints the expected keys. Progress goes to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import inspect
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any
from schema.trace_writes import AddStep, CreateTrace

ROOT = Path(__file__).resolve().parent.parent
for _p in (str(ROOT), str(ROOT / "scripts")):
    if _p not in sys.path:
        sys.path.insert(0, _p)

import anyio  # noqa: E402
import anyio.to_thread  # noqa: E402
from pydantic import BaseModel  # noqa: E402

from speed_corpus import Corpus  # noqa: E402

# speed_ratios imports its helpers from this module by name: run as a script, it is __main__.
sys.modules.setdefault("benchmark_speed", sys.modules[__name__])
import speed_isolation  # noqa: E402
import speed_ratios  # noqa: E402

MODEL = "scripted"
BENCHMARKS = (
    "cold_start", "tool_latency", "trace_writes", "ooda_overhead", "trace_queries", "concurrent",
    "coherence_scaling", "activation_scaling", "free_loop", "isolation",
)

FULL = {
    "basins": 200, "links_per_basin": 3, "memories": 10_000, "active_basins": 20,
    "latency_calls": 300, "cold_reps": 5, "import_reps": 3,
    "write_traces": 40, "steps_per_trace": 10,
    "ooda_reps": 80,  # the effect measured is ~5 % of a ~0.1 s cycle: fewer reps drown it in noise
    "traces_sqlite": 100_000, "traces_neo4j": 20_000, "steps_per_stored_trace": 2, "query_calls": 200,
    "concurrent_cycles": 4, "concurrent_samples": 300,
    "coherence_small": 200, "coherence_large": 1_000, "coherence_active": 100,
    "activation_small": 100, "activation_large": 10_000, "activation_active": 20,
    "free_loop_memories": 100_000, "free_loop_pings": 200,
}
QUICK = {  # a smoke run: every benchmark's code path, none of its figures worth quoting
    "basins": 100, "links_per_basin": 3, "memories": 200, "active_basins": 20,
    "latency_calls": 30, "cold_reps": 1, "import_reps": 1,
    "write_traces": 6, "steps_per_trace": 10,
    "ooda_reps": 3,
    "traces_sqlite": 400, "traces_neo4j": 200, "steps_per_stored_trace": 2, "query_calls": 20,
    "concurrent_cycles": 4, "concurrent_samples": 40,
    "coherence_small": 200, "coherence_large": 500, "coherence_active": 100,
    "activation_small": 100, "activation_large": 500, "activation_active": 20,
    "free_loop_memories": 300, "free_loop_pings": 30,
}
# The sizes the targets are stated at.
TARGET_SIZES = {"memories": 10_000, "traces_sqlite": 100_000, "concurrent_cycles": 4}

_T0 = time.perf_counter()
GC_FREEZE = False  # --gc-freeze: a what-if, not how the server runs
_LOAD_AT_START = [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else None


def progress(message: str) -> None:
    print(f"[{time.perf_counter() - _T0:7.1f}s] {message}", file=sys.stderr, flush=True)


# --- statistics and figures --------------------------------------------------------------------


def pct(samples: list[float], q: float) -> float:
    """Nearest-rank percentile (q in [0, 100])."""
    ordered = sorted(samples)
    rank = max(1, math.ceil(q / 100.0 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def summary_ms(samples_s: list[float]) -> dict[str, Any]:
    ms = [s * 1000.0 for s in samples_s]
    return {
        "n": len(ms),
        "p50_ms": round(statistics.median(ms), 3),
        "p99_ms": round(pct(ms, 99), 3),
        "mean_ms": round(statistics.fmean(ms), 3),
        "min_ms": round(min(ms), 3),
        "max_ms": round(max(ms), 3),
    }


class Report:
    def __init__(self, sizes: dict[str, int], quick: bool):
        self.sizes = sizes
        self.quick = quick
        self.figures: list[dict[str, Any]] = []
        self.results: dict[str, Any] = {}

    def figure(
        self,
        bench: str,
        metric: str,
        value: float | None,
        unit: str,
        *,
        store: str | None = None,
        size: str | None = None,
        target: float | None = None,
        target_text: str | None = None,
        at_target_size: bool = True,
        note: str | None = None,
        ratio: float | None = None,
        reference: str | None = None,
    ) -> None:
        """`ratio`: the value divided by `reference`, a figure measured in the same run (the
        headline: it holds on a loaded machine where the absolute value does not)."""
        met = None
        if target is not None and value is not None:
            met = value <= target
        self.figures.append({
            "benchmark": bench, "metric": metric, "value": value, "unit": unit, "store": store, "size": size,
            "model": MODEL, "target": target_text or (f"<= {target:g} {unit}" if target is not None else None),
            "met": met, "at_target_size": at_target_size if target is not None else None, "note": note,
            "ratio": ratio, "reference": reference,
        })


# --- stores ----------------------------------------------------------------------------------------


class Stores:
    """Where each benchmark gets a fresh database: a SQLite file, or a new database on the local
    Bolt server (started once, on demand)."""

    def __init__(self, workdir: Path, use_neo4j: bool, heap: str):
        self.workdir = workdir
        self.use_neo4j = use_neo4j
        self.heap = heap
        self.bolt: Any = None
        self.neo4j_error: str | None = None if use_neo4j else "skipped (--skip-neo4j)"
        self._count = 0

    def names(self) -> list[str]:
        return ["sqlite", "neo4j"]

    def settings(self, backend: str, label: str):
        from dionysus_mcp.config import Settings

        self._count += 1
        folder = self.workdir / f"{label}-{backend}-{self._count}"
        folder.mkdir(parents=True, exist_ok=True)
        env = {"DIONYSUS_DB_PATH": str(folder / "dionysus.db"), "DIONYSUS_MODEL": MODEL, "DIONYSUS_LOG_LEVEL": "WARNING"}
        if os.environ.get("DIONYSUS_EMBEDDER"):  # measure another embedder (the default: the product's)
            env["DIONYSUS_EMBEDDER"] = os.environ["DIONYSUS_EMBEDDER"]
        if backend == "neo4j":
            server = self.bolt_server()
            database = f"bench{self._count}{label.replace('_', '')}"[:60]
            server.create_database(database)
            env.update({"NEO4J_URI": server.uri, "NEO4J_USERNAME": server.user, "NEO4J_PASSWORD": server.password, "NEO4J_DATABASE": database})
        return Settings.from_env(env)

    def usable(self, report: "Report", out: dict[str, Any], bench: str, metric: str, unit: str, size: str):
        """The backends a benchmark can run on; each one that cannot is recorded as such."""
        for backend in self.names():
            why = self.available(backend)
            if why:
                out[backend] = {"status": "not available", "reason": why}
                report.figure(bench, metric, None, unit, store=backend, size=size, note=why)
                continue
            yield backend

    def available(self, backend: str) -> str | None:
        """None when usable, else why not."""
        if backend == "sqlite":
            return None
        if self.neo4j_error:
            return self.neo4j_error
        try:
            self.bolt_server()
        except Exception as exc:  # BoltServerUnavailable / BoltServerError
            self.neo4j_error = f"local Bolt server not available: {exc}"
            return self.neo4j_error
        return None

    def bolt_server(self) -> Any:
        if self.bolt is None:
            from bolt_server import BoltServer

            progress(f"starting the local Bolt server (ArcadeDB, heap {self.heap})")
            server = BoltServer(self.workdir / "bolt", heap=self.heap, optimize=True)
            started = time.perf_counter()
            server.start()
            self.bolt = server
            progress(f"Bolt server up on {server.uri} in {time.perf_counter() - started:.1f}s")
        return self.bolt

    def close(self) -> None:
        if self.bolt is not None:
            self.bolt.stop()
            self.bolt = None


@asynccontextmanager
async def shared(runtime: Any) -> AsyncIterator[Any]:
    """A runtime factory for build_server that hands out an already open runtime."""
    yield runtime


class Pong(BaseModel):
    ok: bool


def mcp_client(runtime: Any, noop: bool = False):
    from mcp import Client

    from dionysus_mcp.surface.server import build_server

    server = build_server(runtime_factory=lambda: shared(runtime))
    if noop:
        # The floor: a tool that does nothing, so the MCP layer's own cost is visible.
        @server.tool(name="bench_noop")
        async def bench_noop() -> Pong:
            return Pong(ok=True)

    return Client(server)


async def call(client: Any, tool: str, args: dict[str, Any]) -> Any:
    result = await client.call_tool(tool, args)
    if result.is_error:
        text = " ".join(getattr(b, "text", "") for b in result.content)
        raise RuntimeError(f"{tool} failed: {text}")
    return result


def warm_server_ready() -> None:
    """Called once a benchmark's server is warm (index built, agents imported). With
    --gc-freeze, move every object alive now out of the collector's reach, as a server could
    after start-up: full collections then stop rescanning the imported libraries."""
    if GC_FREEZE:
        import smolagents  # noqa: F401 - what a server running agents has loaded

        gc.collect()
        gc.freeze()


class GcPauses:
    """Pauses of the cyclic garbage collector's full (generation 2) collections while active:
    with 10,000 memories indexed they are long enough to show up in p99."""

    def __init__(self) -> None:
        self.pauses: list[float] = []
        self._start = 0.0

    def _callback(self, phase: str, info: dict[str, Any]) -> None:
        if info.get("generation") != 2:
            return
        if phase == "start":
            self._start = time.perf_counter()
        else:
            self.pauses.append(time.perf_counter() - self._start)

    def __enter__(self) -> "GcPauses":
        gc.callbacks.append(self._callback)
        return self

    def __exit__(self, *exc: object) -> None:
        gc.callbacks.remove(self._callback)

    def summary(self) -> dict[str, Any]:
        return {"full_collections": len(self.pauses),
                "max_pause_ms": round(max(self.pauses) * 1000, 1) if self.pauses else 0.0,
                "median_pause_ms": round(statistics.median(self.pauses) * 1000, 1) if self.pauses else 0.0}


async def timed(fn: Callable[[], Awaitable[Any]], n: int) -> list[float]:
    out = []
    for _ in range(n):
        t = time.perf_counter()
        await fn()
        out.append(time.perf_counter() - t)
    return out


# --- seeding ---------------------------------------------------------------------------------------


async def gather_limited(coros: list[Callable[[], Awaitable[Any]]], limit: int) -> None:
    if limit <= 1:
        for c in coros:
            await c()
        return
    sem = asyncio.Semaphore(limit)

    async def one(c: Callable[[], Awaitable[Any]]) -> None:
        async with sem:
            await c()

    await asyncio.gather(*(one(c) for c in coros))


async def seed_cognition(runtime: Any, sizes: dict[str, int], store: str) -> dict[str, Any]:
    """200 basins and their links through the services, N memories through the store (attached
    as remember() would attach them), then the most related basins activated."""
    corpus = Corpus(basins=sizes["basins"])
    links = corpus.make_links(sizes["links_per_basin"])
    started = time.perf_counter()
    ids: dict[str, str] = {}
    for spec in corpus.basins:
        view = await runtime.basins.upsert_basin(spec.name, spec.description, spec.keywords, spec.stability)
        ids[spec.name] = view.id
    for source, target, weight in links:
        await runtime.basins.link_basins(source, target, weight)
    basins_s = time.perf_counter() - started

    memories = corpus.memories(sizes["memories"], ids)
    started = time.perf_counter()
    concurrency = 8 if store == "neo4j" else 1
    done = 0
    step = max(1, len(memories) // 10)

    def adder(m):
        async def add() -> None:
            nonlocal done
            await runtime.store.memories.add(m)
            done += 1
            if done % step == 0:
                progress(f"  {store}: {done}/{len(memories)} memories ({time.perf_counter() - started:.1f}s)")
        return add

    await gather_limited([adder(m) for m in memories], concurrency)
    memories_s = time.perf_counter() - started

    started = time.perf_counter()
    for spec in corpus.rng.sample(corpus.basins, sizes["active_basins"]):
        await runtime.basins.activate_basin(spec.name, round(corpus.rng.uniform(0.5, 0.9), 3), "benchmark")
    activate_s = time.perf_counter() - started
    return {
        "corpus": corpus,
        "seeding": {
            "basins": len(corpus.basins), "links": len(links), "memories": len(memories),
            "active_basins": sizes["active_basins"],
            "basins_and_links_s": round(basins_s, 2),
            "memories_s": round(memories_s, 2),
            "memories_per_s": round(len(memories) / memories_s, 1) if memories_s else None,
            "memories_via": f"store.memories.add (links computed as remember() does), concurrency {concurrency}",
            "activations_s": round(activate_s, 2),
        },
    }


# --- 1. cold start ---------------------------------------------------------------------------------


async def _one_cold_start(folder: Path) -> dict[str, float]:
    from mcp import Client, StdioServerParameters

    env = {k: v for k, v in os.environ.items() if not k.startswith("NEO4J_")}
    env.update({"DIONYSUS_DB_PATH": str(folder / "dionysus.db"), "DIONYSUS_LOG_LEVEL": "WARNING", "DIONYSUS_MODEL": MODEL})
    params = StdioServerParameters(command=sys.executable, args=["-m", "dionysus_mcp", "serve"], env=env, cwd=str(ROOT))
    t0 = time.perf_counter()
    async with Client(params) as client:
        t_init = time.perf_counter()
        result = await client.call_tool("list_basins", {})
        t_first = time.perf_counter()
        if result.is_error:
            raise RuntimeError(f"list_basins failed over stdio: {result.content}")
    t_closed = time.perf_counter()
    return {"initialized_s": t_init - t0, "first_result_s": t_first - t0, "shutdown_s": t_closed - t_first}


def _subprocess_seconds(code: str, reps: int) -> float:
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True, cwd=str(ROOT), capture_output=True)
        times.append(time.perf_counter() - t)
    return round(statistics.median(times), 3)


async def bench_cold_start(report: Report, stores: Stores, sizes: dict[str, int]) -> None:
    # Interleaved with the bare reference (ours, bare, ours, bare, …), so both see the same load
    # on this shared machine; the ratio of the medians is the figure.
    reps = sizes["cold_reps"]
    runs, bares = [], []
    for i in range(reps):
        folder = stores.workdir / f"cold-{i}"
        folder.mkdir(parents=True, exist_ok=True)
        runs.append(await _one_cold_start(folder))
        bares.append(await speed_ratios.cold_reference_once(stores.workdir))
        progress(f"  cold start {i + 1}/{reps}: first result after {runs[-1]['first_result_s']:.3f}s (bare {bares[-1]:.3f}s)")
    first = [r["first_result_s"] for r in runs]
    init = [r["initialized_s"] for r in runs]
    ireps = sizes["import_reps"]
    probe = (
        "import sys; from dionysus_mcp.surface.server import build_server; build_server(); "
        "print(int('smolagents' in sys.modules))"
    )
    loaded = subprocess.run([sys.executable, "-c", probe], cwd=str(ROOT), capture_output=True, text=True, check=True).stdout.strip()
    breakdown = {
        "python_startup_s": _subprocess_seconds("pass", ireps),
        "import_mcp_server_s": _subprocess_seconds("import mcp.server", ireps),
        "import_and_build_server_s": _subprocess_seconds("from dionysus_mcp.surface.server import build_server; build_server()", ireps),
        "import_smolagents_s": _subprocess_seconds("import smolagents", ireps),
        "smolagents_imported_at_startup": loaded == "1",
    }
    report.results["cold_start"] = {
        "store": "sqlite (fresh file)", "repetitions": reps,
        "first_tool_result_s": {"median": round(statistics.median(first), 3), "min": round(min(first), 3), "max": round(max(first), 3)},
        "initialized_s": {"median": round(statistics.median(init), 3), "min": round(min(init), 3)},
        "shutdown_s_median": round(statistics.median(r["shutdown_s"] for r in runs), 3),
        "breakdown": breakdown,
        "runs": [{k: round(v, 3) for k, v in r.items()} for r in runs],
    }
    bare = statistics.median(bares)
    report.results["cold_start"]["bare_mcpserver_first_result_s_median"] = round(bare, 3)
    report.results["cold_start"]["bare_runs_s"] = [round(b, 3) for b in bares]
    report.results["cold_start"]["ratio_to_bare"] = round(statistics.median(first) / bare, 2)
    size = "fresh database"
    report.figure("cold_start", "spawn → first tool result (median)", round(statistics.median(first), 3), "s", store="sqlite", size=size, target=1.0,
                  ratio=round(statistics.median(first) / bare, 2), reference=f"a bare MCPServer with one tool, interleaved: {bare:.3f} s (target ≤ 1.3x)")
    report.figure("cold_start", "first tool result / bare MCPServer (medians, interleaved)", round(statistics.median(first) / bare, 2), "x",
                  store="sqlite", size=size, target=1.3, note="issue 21: warm-ups start after the first request")
    report.figure("cold_start", "spawn → first tool result (min)", round(min(first), 3), "s", store="sqlite", size=size)
    report.figure("cold_start", "spawn → initialized (median)", round(statistics.median(init), 3), "s", store="sqlite", size=size)
    report.figure("cold_start", "import + build_server (subprocess)", breakdown["import_and_build_server_s"], "s", size="-",
                  note=f"smolagents imported at start-up: {breakdown['smolagents_imported_at_startup']}")


# --- 2. tool latency -------------------------------------------------------------------------------


async def bench_tool_latency(report: Report, stores: Stores, sizes: dict[str, int]) -> None:
    from dionysus_mcp.runtime import freeze_startup_objects, open_runtime

    out: dict[str, Any] = {}
    n = sizes["latency_calls"]
    size = f"{sizes['basins']} basins, {sizes['memories']} memories"
    for backend in stores.usable(report, out, "tool_latency", "assess_coherence / semantic_recall", "ms", size):
        progress(f"tool_latency on {backend}: seeding {size}")
        settings = stores.settings(backend, "tool_latency")
        async with open_runtime(settings) as runtime:
            freeze_startup_objects()  # as `dionysus-mcp serve` does once its runtime is open
            seeded = await seed_cognition(runtime, sizes, backend)
            corpus = seeded["corpus"]
            queries = corpus.recall_queries(64)
            progress(f"  seeded in {seeded['seeding']['basins_and_links_s'] + seeded['seeding']['memories_s']:.1f}s; measuring")
            res: dict[str, Any] = {"status": "ok", "size": size, "seeding": seeded["seeding"]}
            async with mcp_client(runtime, noop=True) as client:
                # The first recall builds the BM25 index over every memory.
                t = time.perf_counter()
                await call(client, "semantic_recall", {"query": queries[0]})
                res["semantic_recall_first_call_ms"] = round((time.perf_counter() - t) * 1000, 2)
                for _ in range(5):  # warm-up
                    await call(client, "assess_coherence", {})
                    await call(client, "list_basins", {})
                warm_server_ready()
                i = 0

                async def recall() -> None:
                    nonlocal i
                    i += 1
                    await call(client, "semantic_recall", {"query": queries[i % len(queries)]})

                with GcPauses() as pauses:
                    res["assess_coherence"] = summary_ms(await timed(lambda: call(client, "assess_coherence", {}), n))
                    res["semantic_recall"] = summary_ms(await timed(recall, n))
                res["gc_during_measurement"] = pauses.summary()
                res["list_basins"] = summary_ms(await timed(lambda: call(client, "list_basins", {}), max(20, n // 3)))
                res["mcp_noop"] = summary_ms(await timed(lambda: call(client, "bench_noop", {}), max(20, n // 3)))
                hit = await call(client, "semantic_recall", {"query": queries[1]})
                res["semantic_recall_hits"] = len(hit.structured_content["hits"])
            # The same services without the MCP layer: what the protocol itself costs.
            m = max(20, n // 3)
            res["service_only"] = {
                "assess_coherence": summary_ms(await timed(runtime.coherence.assess_coherence, m)),
                "semantic_recall": summary_ms(await timed(lambda: runtime.memory.semantic_recall(queries[3]), m)),
            }
        out[backend] = res
        on_target = sizes["memories"] >= TARGET_SIZES["memories"]
        sqlite = backend == "sqlite"
        floor = res["mcp_noop"]["p50_ms"]
        for tool, target in (("assess_coherence", 5.0), ("semantic_recall", 20.0)):
            report.figure("tool_latency", f"{tool} p50 (MCP in-memory)", res[tool]["p50_ms"], "ms", store=backend, size=size,
                          target=target if sqlite else None, at_target_size=on_target,
                          ratio=round(res[tool]["p50_ms"] / floor, 1), reference=f"no-op tool p50 {floor} ms")
            report.figure("tool_latency", f"{tool} p99 (MCP in-memory)", res[tool]["p99_ms"], "ms", store=backend, size=size)
            report.figure("tool_latency", f"{tool} p50 (service only)", res["service_only"][tool]["p50_ms"], "ms", store=backend, size=size)
        report.figure("tool_latency", "GC full-collection pause max (during the calls)", res["gc_during_measurement"]["max_pause_ms"], "ms",
                      store=backend, size=size, note=f"{res['gc_during_measurement']['full_collections']} full collections")
        report.figure("tool_latency", "MCP floor: no-op tool p50 (in-memory)", res["mcp_noop"]["p50_ms"], "ms", store=backend, size=size)
        report.figure("tool_latency", "semantic_recall first call (index build)", res["semantic_recall_first_call_ms"], "ms", store=backend, size=size)
        report.figure("tool_latency", "seeding: memories", seeded["seeding"]["memories_s"], "s", store=backend, size=size,
                      note=f"{seeded['seeding']['memories_per_s']}/s via store.memories.add")
    report.results["tool_latency"] = out


# --- 3. trace writes -------------------------------------------------------------------------------


async def bench_trace_writes(report: Report, stores: Stores, sizes: dict[str, int]) -> None:
    from dionysus_mcp.runtime import open_runtime

    out: dict[str, Any] = {}
    traces, steps = sizes["write_traces"], sizes["steps_per_trace"]
    corpus = Corpus(basins=20)
    payloads = corpus.step_payloads(steps)
    size = f"{traces} traces x {len(payloads)} steps ({steps} action + planning every 3rd), 1.5 kB observations"
    for backend in stores.usable(report, out, "trace_writes", "per-step write cost", "ms", size):
        progress(f"trace_writes on {backend}: {size}")
        async with open_runtime(stores.settings(backend, "trace_writes")) as runtime:
            svc = runtime.traces
            create, add, complete, totals = [], [], [], []
            for t in range(traces):
                t0 = time.perf_counter()
                tid = await svc.create_trace("perception", model=MODEL, task="benchmark run")
                t1 = time.perf_counter()
                for p in payloads:
                    s = time.perf_counter()
                    await svc.add_step(tid, dict(p))
                    add.append(time.perf_counter() - s)
                t2 = time.perf_counter()
                await svc.complete_trace(tid, "success", summary="done")
                t3 = time.perf_counter()
                create.append(t1 - t0)
                complete.append(t3 - t2)
                totals.append(t3 - t0)

            # The way an agent's callback writes: from its worker thread, hopping onto the loop.
            def from_thread() -> list[float]:
                times = []
                for _ in range(max(2, traces // 2)):
                    tid = runtime.call(svc.create_trace, "reasoning", model=MODEL, task="benchmark run")
                    for p in payloads:
                        s = time.perf_counter()
                        runtime.call(svc.add_step, tid, dict(p))
                        times.append(time.perf_counter() - s)
                    runtime.call(svc.complete_trace, tid, "success", summary="done")
                return times

            threaded = await anyio.to_thread.run_sync(from_thread)
            stored = await runtime.store.traces.count()
        per_step = statistics.median(totals) / len(payloads)
        res = {
            "status": "ok", "size": size, "traces_stored": stored,
            "create_trace": summary_ms(create), "add_step": summary_ms(add), "complete_trace": summary_ms(complete),
            "add_step_from_worker_thread": summary_ms(threaded),
            "per_step_amortized_ms": round(per_step * 1000, 3),
            "per_trace_total_ms_median": round(statistics.median(totals) * 1000, 2),
        }
        out[backend] = res
        report.figure("trace_writes", "per step, amortized (create+steps+complete)", res["per_step_amortized_ms"], "ms", store=backend, size=size)
        report.figure("trace_writes", "add_step p50", res["add_step"]["p50_ms"], "ms", store=backend, size=size)
        report.figure("trace_writes", "add_step p99", res["add_step"]["p99_ms"], "ms", store=backend, size=size)
        report.figure("trace_writes", "add_step p50 from agent thread (runtime.call)", res["add_step_from_worker_thread"]["p50_ms"], "ms", store=backend, size=size)
        report.figure("trace_writes", "create_trace p50", res["create_trace"]["p50_ms"], "ms", store=backend, size=size)
        report.figure("trace_writes", "complete_trace p50", res["complete_trace"]["p50_ms"], "ms", store=backend, size=size)
    report.results["trace_writes"] = out


# --- 4. OODA overhead ------------------------------------------------------------------------------


class WriteMeter:
    """Counts the trace writes of persisted runs by kind (schema.trace_writes) and the time the
    event loop spends storing them (wraps the runtime's TraceService.write_batch while active)."""

    def __init__(self, traces: Any):
        self.calls: dict[str, int] = {}
        self.seconds = 0.0
        self.active = False
        original = traces.write_batch

        async def wrapper(writes: Any) -> Any:
            if not self.active:
                return await original(writes)
            t = time.perf_counter()
            try:
                return await original(writes)
            finally:
                self.seconds += time.perf_counter() - t
                for write in writes:
                    self.calls[write.kind] = self.calls.get(write.kind, 0) + 1

        traces.write_batch = wrapper


def persistence_switch() -> tuple[str, str] | None:
    """How the project's runner turns trace persistence off, if it offers a way."""
    from agents import runner

    from dionysus_mcp.config import Settings

    params = inspect.signature(runner.run_ooda_cycle).parameters
    for name in ("persist", "persist_traces", "persistence", "record_traces", "traces", "trace"):
        if name in params:
            return ("kwarg", name)
    for field in Settings.model_fields:
        if "persist" in field or field in ("traces_enabled", "trace_enabled", "record_traces"):
            return ("setting", field)
    return None


async def bench_ooda_overhead(report: Report, stores: Stores, sizes: dict[str, int]) -> None:
    from agents.demo import DEMO_CONTEXT, seed_if_empty
    from agents.runner import run_ooda_cycle

    from dionysus_mcp.runtime import open_runtime

    out: dict[str, Any] = {}
    reps = sizes["ooda_reps"]
    size = "demo memory (5 basins, 12 memories)"
    for backend in stores.usable(report, out, "ooda_overhead", "wall time with / without persistence", "x", size):
        progress(f"ooda_overhead on {backend}: {reps} cycles per mode")
        async with open_runtime(stores.settings(backend, "ooda")) as runtime:
            await seed_if_empty(runtime)
            before = await runtime.store.traces.count()
            await run_ooda_cycle(runtime, DEMO_CONTEXT)  # warm-up (imports, first model calls)
            project_persists = await runtime.store.traces.count() > before
            switch = persistence_switch()
            meter = WriteMeter(runtime.traces)

            modes: dict[str, Callable[[], Awaitable[Any]]] = {}
            if switch is None:
                project_note = ("not available: agents/runner.py offers no switch to turn trace persistence off"
                                if project_persists else "not available: agents/runner.py does not persist traces yet")
            else:
                kind, name = switch
                project_note = f"project persistence (callbacks/trace.py), turned off with {kind} {name}=False"

                async def without() -> Any:
                    if kind == "kwarg":
                        return await run_ooda_cycle(runtime, DEMO_CONTEXT, **{name: False})
                    saved = runtime.settings
                    runtime.settings = saved.replace(**{name: False})
                    try:
                        return await run_ooda_cycle(runtime, DEMO_CONTEXT)
                    finally:
                        runtime.settings = saved

                async def with_persistence() -> Any:
                    meter.active = True
                    try:
                        return await run_ooda_cycle(runtime, DEMO_CONTEXT)
                    finally:
                        meter.active = False

                modes["on"] = with_persistence
                modes["off"] = without
            times: dict[str, list[float]] = {m: [] for m in modes}
            cpu: dict[str, list[float]] = {m: [] for m in modes}  # this process's CPU, all threads
            for i in range(reps):
                order = list(modes) if i % 2 == 0 else list(reversed(modes))  # interleaved: drift hits both
                for mode in order:
                    t, c = time.perf_counter(), time.process_time()
                    await modes[mode]()
                    times[mode].append(time.perf_counter() - t)
                    cpu[mode].append(time.process_time() - c)
        res: dict[str, Any] = {"status": "ok", "size": size, "persistence": project_note,
                               "median_s": {m: round(statistics.median(v), 4) for m, v in times.items()},
                               "runs_s": {m: [round(x, 4) for x in v] for m, v in times.items()}}
        if "on" in times:
            ratio = statistics.median(times["on"]) / statistics.median(times["off"])
            delta_ms = (statistics.median(times["on"]) - statistics.median(times["off"])) * 1000
            in_service_ms = meter.seconds / reps * 1000
            res.update({
                "ratio": round(ratio, 3), "overhead_pct": round((ratio - 1) * 100, 1), "overhead_ms": round(delta_ms, 1),
                # The least-disturbed runs of each mode: less sensitive to a noisy neighbour.
                "ratio_of_minimums": round(min(times["on"]) / min(times["off"]), 3),
                # CPU time is what persistence adds to the work; a neighbour's load moves it less.
                "cpu_ratio": round(statistics.median(cpu["on"]) / statistics.median(cpu["off"]), 3),
                "writes_per_cycle": {m: round(c / reps, 1) for m, c in meter.calls.items()},
                "trace_service_ms_per_cycle": round(in_service_ms, 1),
            })
            report.figure("ooda_overhead", "persistence overhead (wall time with / without - 1)", res["overhead_pct"], "%", store=backend, size=size,
                          target=5.0 if backend == "sqlite" else None, note=project_note,
                          ratio=res["ratio"], reference=f"the same cycles without persistence, interleaved: {res['median_s']['off']} s")
            report.figure("ooda_overhead", "persistence overhead, fastest runs (min / min - 1)", round((res["ratio_of_minimums"] - 1) * 100, 1), "%",
                          store=backend, size=size)
            report.figure("ooda_overhead", "persistence overhead in CPU time (median with / without - 1)", round((res["cpu_ratio"] - 1) * 100, 1), "%",
                          store=backend, size=size, ratio=res["cpu_ratio"])
            report.figure("ooda_overhead", "  of which in TraceService writes (per cycle)", res["trace_service_ms_per_cycle"], "ms", store=backend, size=size,
                          note=f"writes per cycle: {res['writes_per_cycle']}; wall-time delta {res['overhead_ms']} ms")
        else:
            report.figure("ooda_overhead", "persistence overhead (wall time with / without - 1)", None, "%", store=backend, size=size, note=project_note)
        out[backend] = res
        report.figure("ooda_overhead", "OODA cycle wall time, no persistence (median)", round(statistics.median(times["off"]) * 1000, 1) if "off" in times else None,
                      "ms", store=backend, size=size)
    report.results["ooda_overhead"] = out


# --- 5. trace queries ------------------------------------------------------------------------------


async def seed_traces(runtime: Any, count: int, steps: int, backend: str) -> dict[str, Any]:
    from schema.models import utcnow

    corpus = Corpus(basins=20, seed=11)
    runs = max(1, count // 4)
    base = utcnow() - timedelta(days=30)
    spacing = timedelta(days=30) / runs
    store = runtime.store
    roots: list[str] = []
    children: list[str] = []
    middle: Any = None
    started = time.perf_counter()
    done = 0
    report_every = max(1, runs // 10)

    def writer(r: int):
        async def write() -> None:
            nonlocal done, middle
            run = corpus.trace_run(base + spacing * r, steps, 400)
            for trace, step_records in run:
                await store.traces.write([CreateTrace(trace=trace)])
                for s in step_records:
                    await store.traces.write([AddStep(step=s)])
            if r % 97 == 0:
                roots.append(run[0][0].id)
                children.append(run[1][0].id)
            if r == runs // 2:
                middle = run[0][0]
            done += 1
            if done % report_every == 0:
                elapsed = time.perf_counter() - started
                progress(f"  {backend}: {done * 4}/{runs * 4} traces ({elapsed:.1f}s, {done * 4 / elapsed:.0f}/s)")
        return write

    await gather_limited([writer(r) for r in range(runs)], 8 if backend == "neo4j" else 1)
    seconds = time.perf_counter() - started
    return {"roots": roots, "children": children, "middle": middle,
            "seeding": {"traces": runs * 4, "steps": runs * 4 * steps, "seconds": round(seconds, 1),
                        "traces_per_s": round(runs * 4 / seconds, 1),
                        "via": "store.traces.write (create and step records; completed traces: root + 3 delegated sub-runs per run)"
                               + (", concurrency 8" if backend == "neo4j" else "")}}


async def bench_trace_queries(report: Report, stores: Stores, sizes: dict[str, int]) -> None:
    from dionysus_mcp.runtime import open_runtime
    from dionysus_mcp.traces import encode_cursor

    out: dict[str, Any] = {}
    n = sizes["query_calls"]
    for backend in stores.names():
        count = sizes["traces_sqlite"] if backend == "sqlite" else sizes["traces_neo4j"]
        size = f"{count} traces ({count // 4} runs x 4), {sizes['steps_per_stored_trace']} steps each"
        why = stores.available(backend)
        if why:
            out[backend] = {"status": "not available", "reason": why}
            report.figure("trace_queries", "list_traces / get_trace", None, "ms", store=backend, size=size, note=why)
            continue
        progress(f"trace_queries on {backend}: seeding {size}")
        async with open_runtime(stores.settings(backend, "trace_queries")) as runtime:
            seeded = await seed_traces(runtime, count, sizes["steps_per_stored_trace"], backend)
            stored = await runtime.store.traces.count()
            progress(f"  seeded {stored} traces in {seeded['seeding']['seconds']}s; measuring")
            roots, kids = seeded["roots"], seeded["children"]
            cursor = encode_cursor(seeded["middle"])
            res: dict[str, Any] = {"status": "ok", "size": size, "traces_stored": stored, "seeding": seeded["seeding"]}
            async with mcp_client(runtime) as client:
                for _ in range(3):
                    await call(client, "list_traces", {})
                    await call(client, "get_trace", {"trace_id": roots[0], "detail": "full"})
                i = 0

                def cycling(tool: str, ids: list[str]) -> Callable[[], Awaitable[Any]]:
                    async def go() -> None:
                        nonlocal i
                        i += 1
                        # get_trace measured on its full form (the summary is built from it).
                        await call(client, tool, {"trace_id": ids[i % len(ids)], **({"detail": "full"} if tool == "get_trace" else {})})
                    return go

                res["list_traces"] = summary_ms(await timed(lambda: call(client, "list_traces", {}), n))
                res["list_traces_agent_filter"] = summary_ms(await timed(lambda: call(client, "list_traces", {"agent_name": "reasoning"}), n))
                res["list_traces_roots_only"] = summary_ms(await timed(lambda: call(client, "list_traces", {"roots_only": True}), n))
                res["list_traces_cursor_mid"] = summary_ms(await timed(lambda: call(client, "list_traces", {"cursor": cursor}), n))
                res["get_trace_root"] = summary_ms(await timed(cycling("get_trace", roots), n))
                res["get_trace_child"] = summary_ms(await timed(cycling("get_trace", kids), n))
                page = await call(client, "list_traces", {"limit": 20})
                res["list_traces_page_size"] = len(page.structured_content["traces"])
                detail = await call(client, "get_trace", {"trace_id": roots[0], "detail": "full"})
                res["get_trace_root_sub_runs"] = len(detail.structured_content["sub_runs"])
        out[backend] = res
        on_target = backend == "sqlite" and count >= TARGET_SIZES["traces_sqlite"]
        for key, label in (("list_traces", "list_traces (newest 20)"), ("list_traces_agent_filter", "list_traces agent_name filter"),
                           ("list_traces_roots_only", "list_traces roots_only"), ("list_traces_cursor_mid", "list_traces cursor mid-history"),
                           ("get_trace_root", "get_trace root (3 sub-runs)"), ("get_trace_child", "get_trace sub-run")):
            target = 20.0 if backend == "sqlite" and key in ("list_traces", "get_trace_root") else None
            report.figure("trace_queries", f"{label} p50", res[key]["p50_ms"], "ms", store=backend, size=size, target=target, at_target_size=on_target)
            report.figure("trace_queries", f"{label} p99", res[key]["p99_ms"], "ms", store=backend, size=size)
        report.figure("trace_queries", "seeding", seeded["seeding"]["seconds"], "s", store=backend, size=size,
                      note=f"{seeded['seeding']['traces_per_s']} traces/s")
    report.results["trace_queries"] = out


# --- 6. concurrent load ----------------------------------------------------------------------------


async def bench_concurrent(report: Report, stores: Stores, sizes: dict[str, int]) -> None:
    from agents.runner import run_ooda_cycle

    from dionysus_mcp.runtime import freeze_startup_objects, open_runtime

    backend = "sqlite"
    cycles_at_once = sizes["concurrent_cycles"]
    samples = sizes["concurrent_samples"]
    size = f"{sizes['basins']} basins, {sizes['memories']} memories, {cycles_at_once} OODA cycles at once"
    progress(f"concurrent on {backend}: seeding {sizes['memories']} memories")
    async with open_runtime(stores.settings(backend, "concurrent")) as runtime:
        freeze_startup_objects()  # as `dionysus-mcp serve` does once its runtime is open
        seeded = await seed_cognition(runtime, sizes, backend)
        corpus = seeded["corpus"]
        queries = corpus.recall_queries(64)
        contexts = corpus.ooda_contexts(64)
        res: dict[str, Any] = {"status": "ok", "size": size, "store": backend}
        async with mcp_client(runtime) as client:
            await call(client, "semantic_recall", {"query": queries[0]})  # builds the index
            await run_ooda_cycle(runtime, contexts[0])  # warm-up: imports, first agent build
            warm_server_ready()
            i = 0

            async def sample() -> tuple[str, float]:
                nonlocal i
                i += 1
                tool, args = ("semantic_recall", {"query": queries[i % len(queries)]}) if i % 2 else ("list_basins", {})
                t = time.perf_counter()
                await call(client, tool, args)
                return tool, time.perf_counter() - t

            async def collect(count: int) -> dict[str, list[float]]:
                got: dict[str, list[float]] = {"semantic_recall": [], "list_basins": []}
                for _ in range(count):
                    tool, dt = await sample()
                    got[tool].append(dt)
                    await asyncio.sleep(0.002)  # a client does not call back-to-back
                return got

            idle = await collect(max(20, samples // 2))
            stop = asyncio.Event()
            cycle_times: list[float] = []
            running = 0
            started_all = asyncio.Event()

            async def worker(k: int) -> None:
                nonlocal running
                j = k
                first = True
                while first or not stop.is_set():
                    if first:
                        running += 1
                        if running == cycles_at_once:
                            started_all.set()
                    first = False
                    t = time.perf_counter()
                    await run_ooda_cycle(runtime, contexts[j % len(contexts)])
                    cycle_times.append(time.perf_counter() - t)
                    j += cycles_at_once

            workers = [asyncio.create_task(worker(k)) for k in range(cycles_at_once)]
            await started_all.wait()
            await asyncio.sleep(0.05)
            t_load = time.perf_counter()
            with GcPauses() as pauses:
                loaded = await collect(samples)
            load_window = time.perf_counter() - t_load
            stop.set()
            await asyncio.gather(*workers)
        both_idle = idle["semantic_recall"] + idle["list_basins"]
        both_load = loaded["semantic_recall"] + loaded["list_basins"]
        res.update({
            "idle": {"all": summary_ms(both_idle), **{k: summary_ms(v) for k, v in idle.items()}},
            "under_load": {"all": summary_ms(both_load), **{k: summary_ms(v) for k, v in loaded.items()}},
            "load_window_s": round(load_window, 2),
            "gc_during_load": pauses.summary(),
            "ooda_cycles_completed": len(cycle_times),
            "ooda_cycle_s_median_under_load": round(statistics.median(cycle_times), 3),
        })
    report.results["concurrent"] = res
    on_target = sizes["memories"] >= TARGET_SIZES["memories"]
    report.figure("concurrent", "tool p99 during 4 OODA cycles (recall + list_basins)", res["under_load"]["all"]["p99_ms"], "ms",
                  store=backend, size=size, target=50.0, at_target_size=on_target,
                  ratio=round(res["under_load"]["all"]["p99_ms"] / res["idle"]["all"]["p99_ms"], 1),
                  reference=f"the same calls idle: p99 {res['idle']['all']['p99_ms']} ms")
    report.figure("concurrent", "tool p50 during 4 OODA cycles", res["under_load"]["all"]["p50_ms"], "ms", store=backend, size=size)
    report.figure("concurrent", "semantic_recall p99 during load", res["under_load"]["semantic_recall"]["p99_ms"], "ms", store=backend, size=size)
    report.figure("concurrent", "list_basins p99 during load", res["under_load"]["list_basins"]["p99_ms"], "ms", store=backend, size=size)
    report.figure("concurrent", "GC full-collection pause max during load", res["gc_during_load"]["max_pause_ms"], "ms", store=backend, size=size,
                  note=f"{res['gc_during_load']['full_collections']} full collections in the window")
    report.figure("concurrent", "tool p99 idle (same data)", res["idle"]["all"]["p99_ms"], "ms", store=backend, size=size)
    report.figure("concurrent", "OODA cycle median under load", res["ooda_cycle_s_median_under_load"], "s", store=backend, size=size,
                  note=f"{res['ooda_cycles_completed']} cycles in the window")


# --- driver ----------------------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    from importlib.metadata import PackageNotFoundError, version

    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gb = None
    try:
        mem_gb = round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    except (ValueError, OSError, AttributeError):
        pass
    versions = {}
    for pkg in ("mcp", "smolagents", "neo4j", "pydantic", "arcadedb-embedded"):
        try:
            versions[pkg] = version(pkg)
        except PackageNotFoundError:
            versions[pkg] = None
    return {
        "cpu": cpu, "cores": os.cpu_count(), "memory_gb": mem_gb, "os": platform.platform(),
        "python": platform.python_version(), "sqlite": __import__("sqlite3").sqlite_version,
        "loadavg_at_start": _LOAD_AT_START,
        "packages": versions,
    }


RUNNERS: dict[str, Callable[[Report, Stores, dict[str, int]], Awaitable[None]]] = {
    "cold_start": bench_cold_start,
    "tool_latency": bench_tool_latency,
    "trace_writes": bench_trace_writes,
    "ooda_overhead": bench_ooda_overhead,
    "trace_queries": bench_trace_queries,
    "concurrent": bench_concurrent,
    "coherence_scaling": speed_ratios.bench_coherence_scaling,
    "activation_scaling": speed_ratios.bench_activation_scaling,
    "free_loop": speed_ratios.bench_free_loop,
    "isolation": speed_isolation.bench_isolation,
}


def print_table(report: Report, out: Any = sys.stdout) -> None:
    rows = [("benchmark", "metric", "store", "size", "value", "ratio", "target", "met")]
    for f in report.figures:
        value = "n/a" if f["value"] is None else f"{f['value']:g} {f['unit']}"
        ratio = "" if f.get("ratio") is None else f"{f['ratio']:g}x"
        met = "" if f["met"] is None else ("yes" if f["met"] else "NO")
        if f["met"] is not None and not f["at_target_size"]:
            met += " (smaller size)"
        rows.append((f["benchmark"], f["metric"], f["store"] or "-", f["size"] or "-", value, ratio, f["target"] or "", met))
    widths = [min(max(len(str(r[i])) for r in rows), 60) for i in range(len(rows[0]))]
    for k, r in enumerate(rows):
        print("  ".join(str(c)[:60].ljust(w) for c, w in zip(r, widths)).rstrip(), file=out)
        if k == 0:
            print("  ".join("-" * w for w in widths), file=out)
    refs = [f for f in report.figures if f.get("reference")]
    if refs:
        print("\nratios are to a reference measured in the same run:", file=out)
        for f in refs:
            print(f"  {f['benchmark']} / {f['metric']} [{f['store'] or '-'}]: {f['reference']}", file=out)
    notes = [f for f in report.figures if f["note"]]
    if notes:
        print("\nnotes:", file=out)
        for f in notes:
            print(f"  {f['benchmark']} / {f['metric']} [{f['store'] or '-'}]: {f['note']}", file=out)


async def run(args: argparse.Namespace) -> tuple[dict[str, Any], Report]:
    sizes = dict(QUICK if args.quick else FULL)
    for override in args.size or []:
        key, _, value = override.partition("=")
        if key not in sizes:
            raise SystemExit(f"--size: unknown key {key!r} (known: {', '.join(sizes)})")
        sizes[key] = int(value)
    selected = list(BENCHMARKS) if not args.only else [n.strip() for n in args.only.split(",") if n.strip()]
    unknown = [n for n in selected if n not in RUNNERS]
    if unknown:
        raise SystemExit(f"--only: unknown benchmark(s) {', '.join(unknown)} (known: {', '.join(BENCHMARKS)})")
    report = Report(sizes, args.quick)
    errors: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="dionysus-bench-", dir=args.workdir) as tmp:
        stores = Stores(Path(tmp), use_neo4j=not args.skip_neo4j, heap=args.neo4j_heap)
        try:
            for name in selected:
                progress(f"== {name}")
                started = time.perf_counter()
                try:
                    await RUNNERS[name](report, stores, sizes)
                except Exception as exc:  # report and go on with the next benchmark
                    errors[name] = f"{type(exc).__name__}: {exc}"
                    report.results[name] = {"status": "error", "error": errors[name]}
                    traceback.print_exc(file=sys.stderr)
                progress(f"   {name} took {time.perf_counter() - started:.1f}s")
        finally:
            stores.close()
    targets = [f for f in report.figures if f["met"] is not None]
    doc = {
        "benchmark": "speed",
        "model": MODEL,
        "embedder": os.environ.get("DIONYSUS_EMBEDDER") or "minilm (the default)",
        "quick": args.quick,
        "gc_freeze": args.gc_freeze,
        "neo4j": "skipped" if args.skip_neo4j else (stores.neo4j_error or "local Bolt server (ArcadeDB, arcadedb-embedded)"),
        "selected": selected,
        "sizes": sizes,
        "machine": {**machine(), "loadavg_at_end": [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else None},
        "results": report.results,
        "figures": report.figures,
        "targets": [{"benchmark": f["benchmark"], "metric": f["metric"], "store": f["store"], "size": f["size"],
                     "value": f["value"], "unit": f["unit"], "target": f["target"], "met": f["met"],
                     "at_target_size": f["at_target_size"]} for f in targets],
        "errors": errors,
        "elapsed_s": round(time.perf_counter() - _T0, 1),
    }
    return doc, report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Speed benchmarks of dionysus-mcp (table, or one JSON object with --json).")
    parser.add_argument("--quick", action="store_true", help="small sizes for a smoke run (500 memories, 1,500 traces; ~30 s): shows the code runs, its figures are noise")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    parser.add_argument("--only", metavar="NAME[,NAME]", help=f"run only these: {', '.join(BENCHMARKS)}")
    parser.add_argument("--skip-neo4j", action="store_true", help="SQLite only (no local Bolt server)")
    parser.add_argument("--neo4j-heap", default="1g", help="JVM heap of the local Bolt server (default 1g)")
    parser.add_argument("--size", action="append", metavar="KEY=N", help="override one size, e.g. --size traces_neo4j=5000")
    parser.add_argument("--gc-freeze", action="store_true",
                        help="what-if: gc.freeze() once the server is warm (tool_latency, concurrent); off by default")
    parser.add_argument("--out", metavar="FILE", help="also write the JSON object to FILE")
    parser.add_argument("--workdir", default=None, help="where the temporary databases go (default: system temp)")
    args = parser.parse_args(argv)
    global GC_FREEZE
    GC_FREEZE = args.gc_freeze
    doc, report = asyncio.run(run(args))
    if args.out:
        Path(args.out).write_text(json.dumps(doc, indent=2, default=str) + "\n")
    if args.json:
        print(json.dumps(doc, indent=2, default=str))
    else:
        m = doc["machine"]
        print(f"dionysus-mcp speed benchmarks — model {MODEL}, {'quick' if args.quick else 'full'} sizes{', gc.freeze() what-if' if args.gc_freeze else ''}, "
              f"{m['cores']} cores ({m['cpu']}), Python {m['python']}, load {m['loadavg_at_start']} → {m['loadavg_at_end']}\n")
        print_table(report)
        if doc["errors"]:
            print("\nerrors:", file=sys.stdout)
            for name, err in doc["errors"].items():
                print(f"  {name}: {err}")
    return 1 if doc["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())

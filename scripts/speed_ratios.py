"""Benchmarks of scripts/benchmark_speed.py that are ratios by design (issue 13): each figure is
divided by a reference measured in the same run, so it holds on a loaded machine.

    coherence_scaling  assess_coherence (service) at a large store / at a small store, with the
                       same number of active basins: cost follows the active set (target <= 1.5x)
    activation_scaling activate_basin (service) at 10,000 basins / at 100, the same active set
                       and neighbourhood: an activation reads what it touches (target <= 1.5x)
    free_loop          a no-op tool's worst round trip while another client runs heavy recalls and
                       an OODA cycle, against the same ping idle (target: worst < 50 ms)
    cold start         `cold_reference_once`: a bare MCPServer with one tool, spawned over stdio the
                       same way, is the reference for the server's cold start (interleaved with it)
"""

from __future__ import annotations

import asyncio
import os
import random
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

BARE_SERVER = """
from mcp.server import MCPServer
server = MCPServer("bare")

@server.tool()
def ping() -> str:
    return "pong"

server.run()
"""


async def cold_reference_once(workdir: Path) -> float:
    """Seconds from spawning a bare one-tool MCPServer over stdio to its first result."""
    from mcp import Client, StdioServerParameters

    script = workdir / "bare_server.py"
    script.write_text(BARE_SERVER)
    params = StdioServerParameters(command=sys.executable, args=[str(script)], env=dict(os.environ), cwd=str(workdir))
    t0 = time.perf_counter()
    async with Client(params) as client:
        result = await client.call_tool("ping", {})
        elapsed = time.perf_counter() - t0
        if result.is_error:
            raise RuntimeError(f"the bare server's ping failed: {result.content}")
    return elapsed


async def cold_reference(workdir: Path, reps: int) -> float:
    """Median of `reps` bare cold starts."""
    return statistics.median([await cold_reference_once(workdir) for _ in range(reps)])


# --- coherence scaling ---------------------------------------------------------------------------


async def _seed_active_set(runtime: Any, total: int, active: int, seed: int = 13) -> None:
    """`total` basins, `active` of them active now; the others were activated ten half-lives ago
    (so they are in the store, with links and memories, but decayed). Three links per basin."""
    from schema.models import ActivationUpdate, Basin, BasinLink, Memory, MemoryBasin, utcnow

    rng = random.Random(seed)
    now = utcnow()
    long_ago = now - timedelta(seconds=10 * runtime.basins.half_life_s)
    ids = [f"basin-{i:05d}" for i in range(total)]
    for i, bid in enumerate(ids):
        await runtime.store.basins.upsert(Basin(id=bid, name=f"b{i:05d}", keywords=[f"k{i}"], created_at=now))
    updates = [
        ActivationUpdate(basin_id=bid, activation=0.3 + 0.6 * rng.random() if i < active else 0.9, depth=0.1,
                         last_activated_at=now if i < active else long_ago)
        for i, bid in enumerate(ids)
    ]
    # Links among the active set and from every basin to three random others.
    links = {(a, b): rng.random() for a in ids for b in rng.sample(ids, 3) if a != b}
    for a in ids[:active]:
        for b in rng.sample(ids[:active], 3):
            if a != b:
                links[(a, b)] = rng.random()
    await runtime.store.basins.apply_activation(updates, [BasinLink(source_id=a, target_id=b, weight=w) for (a, b), w in links.items()])
    for m in range(total * 2):
        bid = ids[m % total]
        await runtime.store.memories.add(Memory(id=f"mem-{m:06d}", kind="semantic", content=f"note {m} about {bid}",
                                              created_at=now, basins=[MemoryBasin(basin_id=bid, weight=1.0)]))


async def bench_coherence_scaling(report: Any, stores: Any, sizes: dict[str, int]) -> None:
    from contextlib import AsyncExitStack

    from benchmark_speed import progress, summary_ms

    from dionysus_mcp.runtime import open_runtime

    small, large, active, n = sizes["coherence_small"], sizes["coherence_large"], sizes["coherence_active"], sizes["latency_calls"]
    out: dict[str, Any] = {}
    label = f"{active} active of {small} / {large} basins"
    for backend in stores.usable(report, out, "coherence_scaling", "assess_coherence p50 large / small", "x", label):
        res: dict[str, Any] = {"status": "ok", "active": active}
        async with AsyncExitStack() as stack:
            runtimes = {}
            for total in (small, large):
                progress(f"coherence_scaling on {backend}: {total} basins, {active} active")
                runtime = runtimes[total] = await stack.enter_async_context(open_runtime(stores.settings(backend, "coherence")))
                await _seed_active_set(runtime, total, active)
                for _ in range(3):  # warm-up; the first two write the snapshots continuity needs
                    first = await runtime.coherence.assess_coherence()
                if first.active_count != active:
                    raise RuntimeError(f"expected {active} active basins, found {first.active_count}")
            before = {t: len(await r.store.snapshots.recent(10_000)) for t, r in runtimes.items()}
            # Interleaved, so a change in the machine's load hits both sizes alike.
            samples: dict[int, list[float]] = {small: [], large: []}
            for i in range(n):
                for total in ((small, large) if i % 2 == 0 else (large, small)):
                    t = time.perf_counter()
                    await runtimes[total].coherence.assess_coherence()
                    samples[total].append(time.perf_counter() - t)
            for total, runtime in runtimes.items():
                res[str(total)] = summary_ms(samples[total])
                res[str(total)]["snapshots_written"] = len(await runtime.store.snapshots.recent(10_000)) - before[total]
        ratio = res[str(large)]["p50_ms"] / res[str(small)]["p50_ms"]
        res["ratio_p50"] = round(ratio, 3)
        out[backend] = res
        report.figure("coherence_scaling", f"assess_coherence p50 (service), {large} basins", res[str(large)]["p50_ms"], "ms",
                      store=backend, size=label, ratio=round(ratio, 2), reference=f"same at {small} basins: {res[str(small)]['p50_ms']} ms")
        report.figure("coherence_scaling", "ratio p50 large / small store", round(ratio, 2), "x", store=backend, size=label,
                      target=1.5 if backend == "sqlite" else None,
                      note=f"snapshots written in {n} unchanged assessments: {res[str(large)]['snapshots_written']}")
    report.results["coherence_scaling"] = out


# --- activation scaling ------------------------------------------------------------------------------


async def _seed_activation(runtime: Any, total: int, active: int, seed: int = 17) -> list[str]:
    """`total` basins, `active` of them active now, the rest decayed long ago. Each active basin
    links to three other active ones (weight >= 0.4: spreads keep them active) and to two
    inactive ones (weight 0.1: a spread of strength 0.1 is below MIN_SPREAD, so the active set
    stays the same); every inactive basin links to three random others. Returns the active ids."""
    from schema.models import ActivationUpdate, Basin, BasinLink, utcnow

    rng = random.Random(seed)
    now = utcnow()
    long_ago = now - timedelta(seconds=10 * runtime.basins.half_life_s)
    ids = [f"basin-{i:05d}" for i in range(total)]
    for i, bid in enumerate(ids):
        await runtime.store.basins.upsert(Basin(id=bid, name=f"a{i:05d}", keywords=[f"k{i}"], created_at=now))
    hot, cold = ids[:active], ids[active:]
    links: dict[tuple[str, str], float] = {}
    for a in hot:
        for b in rng.sample([h for h in hot if h != a], 3):
            links[(a, b)] = 0.4 + 0.6 * rng.random()
        for b in rng.sample(cold, 2):
            links[(a, b)] = 0.1
    for a in cold:
        for b in rng.sample(cold, 3):
            if a != b and (b, a) not in links:
                links[(a, b)] = rng.random()
    updates = [
        ActivationUpdate(basin_id=bid, activation=0.3 + 0.6 * rng.random() if i < active else 0.9, depth=0.1,
                         last_activated_at=now if i < active else long_ago)
        for i, bid in enumerate(ids)
    ]
    await runtime.store.basins.apply_activation(updates, [BasinLink(source_id=a, target_id=b, weight=w) for (a, b), w in links.items()])
    return hot


async def bench_activation_scaling(report: Any, stores: Any, sizes: dict[str, int]) -> None:
    from contextlib import AsyncExitStack

    from benchmark_speed import progress, summary_ms

    from dionysus_mcp.runtime import open_runtime

    small, large, active = sizes["activation_small"], sizes["activation_large"], sizes["activation_active"]
    n = sizes["latency_calls"]
    out: dict[str, Any] = {}
    label = f"{active} active of {small} / {large} basins"
    for backend in stores.usable(report, out, "activation_scaling", "activate_basin p50 large / small", "x", label):
        res: dict[str, Any] = {"status": "ok", "active": active}
        async with AsyncExitStack() as stack:
            runtimes, targets = {}, {}
            for total in (small, large):
                progress(f"activation_scaling on {backend}: {total} basins, {active} active")
                runtime = runtimes[total] = await stack.enter_async_context(open_runtime(stores.settings(backend, "activation")))
                targets[total] = [f"a{int(bid[-5:]):05d}" for bid in await _seed_activation(runtime, total, active)]
                for name in targets[total][:3]:  # warm-up
                    await runtime.basins.activate_basin(name, 0.1, "benchmark")
            # Interleaved, so a change in the machine's load hits both sizes alike; the targets
            # cycle through the active set (each activation reads its links and the active set).
            samples: dict[int, list[float]] = {small: [], large: []}
            for i in range(n):
                for total in ((small, large) if i % 2 == 0 else (large, small)):
                    name = targets[total][i % active]
                    t = time.perf_counter()
                    await runtimes[total].basins.activate_basin(name, 0.1, "benchmark")
                    samples[total].append(time.perf_counter() - t)
            for total, runtime in runtimes.items():
                res[str(total)] = summary_ms(samples[total])
                res[str(total)]["active_after"] = len(await runtime.basins.active())
        if res[str(small)]["active_after"] != active or res[str(large)]["active_after"] != active:
            raise RuntimeError(f"the active set moved: {res[str(small)]['active_after']} / {res[str(large)]['active_after']} of {active}")
        ratio = res[str(large)]["p50_ms"] / res[str(small)]["p50_ms"]
        res["ratio_p50"] = round(ratio, 3)
        out[backend] = res
        report.figure("activation_scaling", f"activate_basin p50 (service), {large} basins", res[str(large)]["p50_ms"], "ms",
                      store=backend, size=label, ratio=round(ratio, 2), reference=f"same at {small} basins: {res[str(small)]['p50_ms']} ms")
        report.figure("activation_scaling", "ratio p50 large / small store", round(ratio, 2), "x", store=backend, size=label,
                      target=1.5, at_target_size=large >= 10_000)
    report.results["activation_scaling"] = out


# --- a free event loop -------------------------------------------------------------------------------


async def bench_free_loop(report: Any, stores: Any, sizes: dict[str, int]) -> None:
    from agents.runner import run_ooda_cycle
    from benchmark_speed import GcPauses, call, mcp_client, progress, seed_cognition, summary_ms, warm_server_ready

    from dionysus_mcp.runtime import open_runtime

    backend = "sqlite"
    memories = sizes["free_loop_memories"]
    seed_sizes = {**sizes, "memories": memories}
    size = f"{sizes['basins']} basins, {memories} memories"
    progress(f"free_loop on {backend}: seeding {memories} memories")
    async with open_runtime(stores.settings(backend, "free_loop")) as runtime:
        seeded = await seed_cognition(runtime, seed_sizes, backend)
        queries = seeded["corpus"].recall_queries(64)
        contexts = seeded["corpus"].ooda_contexts(8)
        async with mcp_client(runtime, noop=True) as pinger, mcp_client(runtime) as worker:
            t = time.perf_counter()
            await call(worker, "semantic_recall", {"query": queries[0]})  # builds the index
            index_s = time.perf_counter() - t
            await run_ooda_cycle(runtime, contexts[0])  # warm-up: imports, first agent build
            warm_server_ready()

            async def pings(count: int | None, stop: asyncio.Event | None = None) -> list[float]:
                got: list[float] = []
                while (count is not None and len(got) < count) or (stop is not None and not stop.is_set()):
                    t = time.perf_counter()
                    await call(pinger, "bench_noop", {})
                    got.append(time.perf_counter() - t)
                    await asyncio.sleep(0.005)
                return got

            idle = await pings(sizes["free_loop_pings"])
            stop = asyncio.Event()
            recalls: list[float] = []

            async def heavy_recalls() -> None:
                i = 0
                while not stop.is_set():
                    i += 1
                    t = time.perf_counter()
                    await call(worker, "semantic_recall", {"query": " ".join(queries[i % 64].split() * 2), "k": 50})
                    recalls.append(time.perf_counter() - t)

            async def cycle() -> float:
                t = time.perf_counter()
                await run_ooda_cycle(runtime, contexts[1])
                return time.perf_counter() - t

            with GcPauses() as pauses:
                recall_task = asyncio.create_task(heavy_recalls())
                ping_task = asyncio.create_task(pings(None, stop))
                cycle_s = await cycle()
                stop.set()
                loaded = await ping_task
                await recall_task
    res = {
        "status": "ok", "size": size, "store": backend, "index_build_s": round(index_s, 3),
        "ping_idle": summary_ms(idle), "ping_under_load": summary_ms(loaded),
        "recalls_during_load": len(recalls), "recall_under_load": summary_ms(recalls) if recalls else None,
        "ooda_cycle_s": round(cycle_s, 3), "gc_during_load": pauses.summary(),
    }
    res["ratio_max_to_idle_p50"] = round(res["ping_under_load"]["max_ms"] / res["ping_idle"]["p50_ms"], 1)
    report.results["free_loop"] = res
    report.figure("free_loop", "no-op ping worst round trip during recalls + OODA", res["ping_under_load"]["max_ms"], "ms",
                  store=backend, size=size, target=50.0, ratio=res["ratio_max_to_idle_p50"],
                  reference=f"idle ping p50 {res['ping_idle']['p50_ms']} ms",
                  note=f"{len(recalls)} recalls (k=50) and one OODA cycle ({cycle_s:.2f} s) ran meanwhile")
    report.figure("free_loop", "no-op ping p99 during load", res["ping_under_load"]["p99_ms"], "ms", store=backend, size=size,
                  ratio=round(res["ping_under_load"]["p99_ms"] / res["ping_idle"]["p99_ms"], 1),
                  reference=f"idle ping p99 {res['ping_idle']['p99_ms']} ms")

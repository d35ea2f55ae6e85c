"""The cost of running the manager's code in a child process (issue 17), for
scripts/benchmark_speed.py (`--only isolation`):

    isolation   OODA cycles (scripted model, SQLite, persistence on) with the code in its child
                process, as production runs it, against the same cycles with the same guarded
                interpreter in the server process — tests/sandbox_helpers.InProcessSandbox,
                which lives with the tests: nothing in the server can select it. Interleaved, medians and the
                ratio of the fastest runs; the children's CPU is counted (RUSAGE_CHILDREN).
                Target: ratio <= 1.10.
"""

from __future__ import annotations

import resource
import statistics
import time
from typing import Any

TARGET = 1.10


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


async def bench_isolation(report: Any, stores: Any, sizes: dict[str, int]) -> None:
    import agents.safe_executor as safe_executor
    from agents.demo import DEMO_CONTEXT, seed_if_empty
    from agents.runner import run_ooda_cycle
    from dionysus_mcp.runtime import open_runtime

    reps = sizes["ooda_reps"]
    size = "demo memory (5 basins, 12 memories)"
    # The tests' in-process sandbox: the child's half wired to the server's through the channel's
    # codec, so the two modes differ by the process alone. It lives with the tests: nothing in
    # the server can select it.
    from tests.sandbox_helpers import InProcessSandbox as in_process

    production = safe_executor.SafeExecutor

    async def cycle(executor_class: Any) -> None:
        safe_executor.SafeExecutor = executor_class  # what agents/manager.py builds for this cycle
        try:
            result = await run_ooda_cycle(runtime, DEMO_CONTEXT)
        finally:
            safe_executor.SafeExecutor = production
        if result.status != "success":
            raise RuntimeError(f"an OODA cycle ended {result.status}")

    async with open_runtime(stores.settings("sqlite", "isolation")) as runtime:
        await seed_if_empty(runtime)
        await cycle(production)  # warm-up: imports, first model calls, the child's files in the page cache
        await cycle(in_process)
        modes = {"child process": production, "in process": in_process}
        times: dict[str, list[float]] = {m: [] for m in modes}
        cpu: dict[str, list[float]] = {m: [] for m in modes}
        for i in range(reps):
            for mode in list(modes) if i % 2 == 0 else list(reversed(modes)):  # interleaved
                t, c, k = time.perf_counter(), time.process_time(), _children_cpu()
                await cycle(modes[mode])
                times[mode].append(time.perf_counter() - t)
                cpu[mode].append(time.process_time() - c + _children_cpu() - k)
    median = {m: statistics.median(v) for m, v in times.items()}
    ratio = median["child process"] / median["in process"]
    res = {
        "status": "ok", "size": size, "cycles_per_mode": reps,
        "median_s": {m: round(v, 4) for m, v in median.items()},
        "ratio": round(ratio, 3),
        "ratio_of_minimums": round(min(times["child process"]) / min(times["in process"]), 3),
        "cpu_ratio_with_children": round(statistics.median(cpu["child process"]) / statistics.median(cpu["in process"]), 3),
        "overhead_ms": round((median["child process"] - median["in process"]) * 1000, 1),
        "target": TARGET,
        "runs_s": {m: [round(x, 4) for x in v] for m, v in times.items()},
    }
    report.results["isolation"] = res
    report.figure("isolation", "OODA cycle, code in a child process / in process (median)", res["ratio"], "x", store="sqlite", size=size,
                  target=TARGET, ratio=res["ratio"], reference=f"the same cycles, interpreter in the server process: {res['median_s']['in process']} s")
    report.figure("isolation", "  the same, fastest runs (min / min)", res["ratio_of_minimums"], "x", store="sqlite", size=size)
    report.figure("isolation", "  CPU with the children's (median / median)", res["cpu_ratio_with_children"], "x", store="sqlite", size=size,
                  note=f"wall-time delta {res['overhead_ms']} ms per cycle")

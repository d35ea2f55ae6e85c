#!/usr/bin/env python3
"""What an update_memory costs the next recall: the recall index changed in place (what the
server does for its own edits) against a rebuild (what a change by another process costs).

    .venv/bin/python scripts/benchmark_recall_edits.py [--memories 10000] [--rounds 5]

Real SQLite file in a temporary folder, the real MemoryService; prints one line and a JSON
object. The ratio (rebuild / in place) is the number to compare across machines.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import anyio

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dionysus_mcp.config import Settings  # noqa: E402
from dionysus_mcp.runtime import open_runtime  # noqa: E402
from schema.models import Memory, utcnow  # noqa: E402

WORDS = "sleep exam focus walk lunch coffee notes review plan deadline energy nap phone music study cycle".split()


async def measure(memories: int, rounds: int) -> dict:
    with tempfile.TemporaryDirectory() as folder:
        settings = Settings.from_env({"DIONYSUS_DB_PATH": str(Path(folder) / "bench.db")})
        async with open_runtime(settings) as rt:
            rnd = random.Random(1)
            for i in range(memories):
                content = " ".join(rnd.choices(WORDS, k=20))
                await rt.store.add_memory(Memory(id=f"m{i:06d}", kind="semantic", content=content, created_at=utcnow()))
            await rt.memory.semantic_recall("sleep")
            timings: dict[str, list[float]] = {"in_place": [], "rebuild": []}
            for r in range(2 * rounds):
                way = "in_place" if r % 2 == 0 else "rebuild"
                started = time.perf_counter()
                await rt.memory.update_memory(f"m{r:06d}", content="a walk after lunch")
                if way == "rebuild":
                    rt.memory._index = None  # as after another process's edit
                await rt.memory.semantic_recall("sleep")
                timings[way].append(time.perf_counter() - started)
    in_place, rebuild = (statistics.median(timings[k]) * 1000 for k in ("in_place", "rebuild"))
    return {"memories": memories, "rounds": rounds, "in_place_ms": round(in_place, 1),
            "rebuild_ms": round(rebuild, 1), "ratio": round(rebuild / in_place, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--memories", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    result = anyio.run(measure, args.memories, args.rounds)
    print(f"update_memory + next recall at {result['memories']} memories (median of {result['rounds']}): "
          f"in place {result['in_place_ms']} ms, rebuild {result['rebuild_ms']} ms, {result['ratio']}x")
    print(json.dumps(result))


if __name__ == "__main__":
    main()

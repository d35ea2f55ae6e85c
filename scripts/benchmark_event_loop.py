"""How long the first agent call stalls the server's event loop.

The first run_ooda_cycle / run_heartbeat loads the agents (smolagents and its dependencies,
~2-3 s of imports). This starts a fresh server as a stdio subprocess (`python -m dionysus_mcp
serve`, SQLite file in a temporary directory), pings it every 10 ms (a `tools/list` request: MCP 2026-07-28 removed
`ping`, and listing tools touches no store), and reports the worst round trip while the
first agent call runs, against the worst while the server is idle (the reference, measured in
the same run). The client is this process, so a stalled server loop shows in full:

    .venv/bin/python scripts/benchmark_event_loop.py [--tool run_heartbeat] [--json]

Goal: the worst ping during the first call under 100 ms (it was 2.4-3.6 s when the agents were
imported on the event loop).

`--spin`: the manager's code spins (`while True: ...`) for a whole step, written by a loopback
OpenAI-compatible endpoint (tests/hostile_endpoint.py) playing the model; the code runs in its
child process while the server answers. Reports the worst `tools/list` round trip during that
step (after a warm-up cycle), goal under 50 ms:

    .venv/bin/python scripts/benchmark_event_loop.py --spin [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import anyio

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mcp import Client, StdioServerParameters  # noqa: E402

PING_EVERY_S = 0.01
AFTER_START_S = 2.0
GOAL_MS = 100.0
SPIN_GOAL_MS = 50.0
SPIN_STEP_S = 5


async def pings(client: Client, until: anyio.Event, sent_at: list[float] | None = None) -> list[float]:
    """Round trips (ms) of pings sent every PING_EVERY_S until `until` is set."""
    rtts = []
    while not until.is_set():
        started = time.perf_counter()
        await client.list_tools()
        rtts.append((time.perf_counter() - started) * 1000)
        if sent_at is not None:
            sent_at.append(started)
        await anyio.sleep(PING_EVERY_S)
    return rtts


async def ping_for(client: Client, seconds: float) -> list[float]:
    done = anyio.Event()
    rtts: list[float] = []
    async with anyio.create_task_group() as tg:

        async def run() -> None:
            rtts.extend(await pings(client, done))

        tg.start_soon(run)
        await anyio.sleep(seconds)
        done.set()
    return rtts


async def measure(tool: str) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "DIONYSUS_DB_PATH": str(Path(tmp) / "loop.db"), "DIONYSUS_LOG_LEVEL": "WARNING"}
        server = StdioServerParameters(command=sys.executable, args=["-m", "dionysus_mcp", "serve"], env=env, cwd=str(ROOT))
        async with Client(server) as client:
            await client.call_tool("upsert_basin", {"name": "attention", "keywords": ["focus"]})
            # After its first tool result the server loads the embedding model and builds the
            # tokenizer in a background thread (dionysus_mcp/warm_up.py; the tokenizer holds the
            # GIL ~0.15 s); these pings see what that costs. Then an idle second: the reference.
            start_window = await ping_for(client, AFTER_START_S)
            idle = await ping_for(client, 1.0)

            done = anyio.Event()
            during: list[float] = []
            sent_at: list[float] = []
            arguments = {"context": "I keep losing focus in the afternoons."} if tool == "run_ooda_cycle" else {}
            async with anyio.create_task_group() as tg:

                async def busy_pings() -> None:
                    during.extend(await pings(client, done, sent_at))

                tg.start_soon(busy_pings)
                started = time.perf_counter()
                result = await client.call_tool(tool, arguments)
                call_s = time.perf_counter() - started
                done.set()
            if result.is_error:
                raise SystemExit(f"{tool} failed: {result.content}")
    worst = max(during)
    slowest = sorted(zip(during, sent_at), reverse=True)[:3]
    return {
        "tool": tool,
        "first_call_s": round(call_s, 2),
        "pings_during_call": len(during),
        "worst_ping_during_first_call_ms": round(worst, 1),
        "p50_ping_during_first_call_ms": round(sorted(during)[len(during) // 2], 2),
        "slowest_pings_ms_at_s": [[round(ms, 1), round(at - started, 2)] for ms, at in slowest],
        "worst_ping_idle_ms": round(max(idle), 2),
        "worst_ping_first_2s_after_start_ms": round(max(start_window), 1),
        "ratio_to_idle_worst": round(worst / max(idle), 1),
        "goal_ms": GOAL_MS,
        "met": worst < GOAL_MS,
    }


class SpinningModel:
    """The manager's code: a final answer (the warm-up cycle), then a step that spins, then the
    final answer; team members answer at once."""

    FINAL = 'final_answer({"decision": "wait", "actions": [], "confidence": 0.1})'

    def __init__(self) -> None:
        # (each turn a C call of ~10 ms: smolagents' own cap of 1,000,000 loop turns is never
        # reached, the step's time limit ends it)
        self.codes = [self.FINAL, "while True:\n    total = sum(range(1000000))", self.FINAL]

    def __call__(self, request: dict) -> dict:
        from tests.hostile_endpoint import message_texts, text_reply, tool_call_reply

        if request.get("tools"):
            return tool_call_reply("final_answer", {"answer": "nothing to report"})
        last = message_texts(request)[-1]
        if "Survey the facts" in last or "Update the facts survey" in last:
            return text_reply("## 1. Facts survey\nA situation.\n## 2. Plan\n1. Think.\n<end_plan>")
        code = self.codes.pop(0) if self.codes else self.FINAL
        return text_reply(f"Thought: go.\n<code>\n{code}\n</code>")


async def measure_spin() -> dict:
    from tests.hostile_endpoint import HostileEndpoint

    with tempfile.TemporaryDirectory() as tmp, HostileEndpoint(SpinningModel()) as endpoint:
        env = {
            **os.environ, "DIONYSUS_DB_PATH": str(Path(tmp) / "spin.db"), "DIONYSUS_LOG_LEVEL": "WARNING",
            "DIONYSUS_MODEL": "openai:spinner", "OPENAI_BASE_URL": endpoint.base_url, "OPENAI_API_KEY": "benchmark",
            "DIONYSUS_CODE_STEP_TIMEOUT": str(SPIN_STEP_S), "DIONYSUS_EMBEDDER": "none",
        }
        server = StdioServerParameters(command=sys.executable, args=["-m", "dionysus_mcp", "serve"], env=env, cwd=str(ROOT))
        async with Client(server) as client:
            arguments = {"context": "I keep losing focus in the afternoons."}
            warm = await client.call_tool("run_ooda_cycle", arguments)  # imports, first model calls
            if warm.is_error:
                raise SystemExit(f"warm-up failed: {warm.content}")
            idle = await ping_for(client, 1.0)
            done = anyio.Event()
            during: list[float] = []
            async with anyio.create_task_group() as tg:

                async def busy_pings() -> None:
                    during.extend(await pings(client, done))

                tg.start_soon(busy_pings)
                started = time.perf_counter()
                result = await client.call_tool("run_ooda_cycle", arguments)
                call_s = time.perf_counter() - started
                done.set()
            data = result.structured_content or {}
            if result.is_error or data.get("status") != "success":
                raise SystemExit(f"the spinning cycle did not complete: {result.content}")
            if call_s < SPIN_STEP_S:
                raise SystemExit(f"the cycle took {call_s:.1f} s: its code did not spin for the whole {SPIN_STEP_S} s step")
    worst = max(during)
    return {
        "spinning_step_s": SPIN_STEP_S,
        "cycle_s": round(call_s, 2),
        "pings_during_cycle": len(during),
        "worst_ping_during_spin_ms": round(worst, 1),
        "p50_ping_during_spin_ms": round(sorted(during)[len(during) // 2], 2),
        "p99_ping_during_spin_ms": round(sorted(during)[int(len(during) * 0.99)], 2),
        "worst_ping_idle_ms": round(max(idle), 2),
        "goal_ms": SPIN_GOAL_MS,
        "met": worst < SPIN_GOAL_MS,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tool", choices=["run_ooda_cycle", "run_heartbeat"], default="run_ooda_cycle")
    parser.add_argument("--spin", action="store_true", help="the worst ping while the manager's code spins for a whole step")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    if args.spin:
        figures = anyio.run(measure_spin)
        if args.json:
            print(json.dumps(figures))
            return
        print(
            f"a cycle whose code spins for {figures['spinning_step_s']} s: {figures['cycle_s']} s, {figures['pings_during_cycle']} pings; "
            f"worst {figures['worst_ping_during_spin_ms']} ms (p50 {figures['p50_ping_during_spin_ms']}, p99 {figures['p99_ping_during_spin_ms']}; "
            f"idle worst {figures['worst_ping_idle_ms']} ms); goal < {SPIN_GOAL_MS:.0f} ms: {'met' if figures['met'] else 'NOT met'}"
        )
        return
    figures = anyio.run(measure, args.tool)
    if args.json:
        print(json.dumps(figures))
        return
    print(f"first {figures['tool']}: {figures['first_call_s']} s, {figures['pings_during_call']} pings")
    print(f"slowest pings (ms, sent at s into the call): {figures['slowest_pings_ms_at_s']}")
    print(
        f"worst ping during it: {figures['worst_ping_during_first_call_ms']} ms "
        f"(p50 {figures['p50_ping_during_first_call_ms']} ms; idle worst {figures['worst_ping_idle_ms']} ms, "
        f"x{figures['ratio_to_idle_worst']}); goal < {GOAL_MS:.0f} ms: {'met' if figures['met'] else 'NOT met'}"
    )
    print(f"worst ping in the {AFTER_START_S:.0f} s after start (model and tokenizer warm-up): {figures['worst_ping_first_2s_after_start_ms']} ms")


if __name__ == "__main__":
    main()

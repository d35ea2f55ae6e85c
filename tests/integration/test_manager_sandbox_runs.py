"""Whole runs with the manager's code in its child process: a loopback model whose code spins
forever (the child holds no secret, the server idles, the step ends at its limit and the run
succeeds), a run cancelled mid-spin, and twenty cycles in a row leaving no process behind.
Real SQLite store, real smolagents loop, real child processes."""

from __future__ import annotations

import resource
import tempfile
import threading
import time
from pathlib import Path

import anyio
import anyio.to_thread

from agents.runner import run_ooda_cycle
from dionysus_mcp.config import Settings
from dionysus_mcp.runtime import open_runtime
from tests.helpers import CONTEXT, settings_env
from tests.hostile_endpoint import HostileEndpoint, message_texts, text_reply, tool_call_reply
from tests.integration.test_manager_sandbox import API_KEY, SECRET
from tests.sandbox_helpers import SPIN, children_now, code_children, stray_children

FINAL = 'final_answer({"decision": "wait", "actions": [], "confidence": 0.1})'
PLAN = "## 1. Facts survey\nA situation.\n## 2. Plan\n1. Think hard.\n<end_plan>"


SPIN_STEP_S = 8  # the spinning step's limit in the idle-server test


class Spinner:
    """Plays a model whose manager code spins forever, then answers."""

    def __init__(self) -> None:
        self.spinning = threading.Event()  # set when the spinning code was handed out
        self.steps = [SPIN, FINAL]

    def __call__(self, request: dict) -> dict:
        if request.get("tools"):
            return tool_call_reply("final_answer", {"answer": "nothing"})
        last = message_texts(request)[-1]
        if "Survey the facts" in last or "Update the facts survey" in last:
            return text_reply(PLAN)
        code = self.steps.pop(0) if self.steps else FINAL
        if code == SPIN:
            self.spinning.set()
        return text_reply(f"Thought: thinking.\n<code>\n{code}\n</code>")


def spinning_child(deadline_s: float = 30.0, ignore: "set[int]" = frozenset(), ticks: int = 10) -> int:
    """The pid of a code child that has computed for a while (it runs the spinning step): more
    than `ticks` clock ticks of its own CPU."""
    until = time.monotonic() + deadline_s
    while time.monotonic() < until:
        for pid, state in code_children():
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if state == "R" and int(fields[11]) > ticks and pid not in ignore:  # utime in clock ticks
                return pid
        time.sleep(0.02)
    raise AssertionError("no code child started spinning")


def settings_for(tmp_path, endpoint: HostileEndpoint, timeout: str) -> Settings:
    return Settings.from_env({**settings_env(),
        "DIONYSUS_DB_PATH": str(tmp_path / "runs.db"),
        "DIONYSUS_MODEL": "openai:hostile",
        "OPENAI_BASE_URL": endpoint.base_url,
        "OPENAI_API_KEY": API_KEY,
        "NEO4J_PASSWORD": SECRET,
        "DIONYSUS_CODE_STEP_TIMEOUT": timeout,
        "DIONYSUS_EMBEDDER": "none",
    })


async def test_spinning_code_runs_in_a_secretless_child_while_the_server_idles(tmp_path, monkeypatch):
    monkeypatch.setenv("NEO4J_PASSWORD", SECRET)
    monkeypatch.setenv("OPENAI_API_KEY", API_KEY)
    earlier = children_now()
    spinner = Spinner()
    seen: dict = {}

    def watch() -> None:
        assert spinner.spinning.wait(60)
        # The child runs at the lowest priority: on a busy machine its first tenth of a second of
        # CPU can take seconds, so two ticks of its own computing are the sign it spins, and the
        # step lasts long enough for the 1 s window to lie inside it whatever the load.
        pid = spinning_child(ignore=earlier, ticks=2)
        seen["environ"] = Path(f"/proc/{pid}/environ").read_bytes()
        before, started = resource.getrusage(resource.RUSAGE_SELF), time.monotonic()
        time.sleep(1.0)  # a window inside the step: how much CPU does the server use in it?
        after, seen["window"] = resource.getrusage(resource.RUSAGE_SELF), time.monotonic() - started
        seen["server_cpu"] = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        seen["still_spinning"] = pid in [p for p, _ in code_children()]

    with HostileEndpoint(spinner) as endpoint:
        async with open_runtime(settings_for(tmp_path, endpoint, str(SPIN_STEP_S))) as runtime:
            async with anyio.create_task_group() as tg:
                tg.start_soon(anyio.to_thread.run_sync, watch)
                result = await run_ooda_cycle(runtime, CONTEXT)
            trace = await runtime.traces.get_trace(result.trace_id)
    assert seen["environ"] == b""  # the spinning child's environment: none of the server's secrets
    assert seen["still_spinning"] and seen["server_cpu"] < 0.3 * seen["window"], seen
    assert result.status == "success" and result.decision == "wait"
    errors = [s.error for s in trace.steps if s.step_type == "action"]
    assert errors[0] and f"ran longer than {SPIN_STEP_S} s (DIONYSUS_CODE_STEP_TIMEOUT) and was stopped" in errors[0]
    assert errors[-1] is None
    assert stray_children(earlier) == []


async def test_a_run_cancelled_mid_spin_stops_at_once(tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", API_KEY)
    before = children_now()
    spinner = Spinner()
    with HostileEndpoint(spinner) as endpoint:
        async with open_runtime(settings_for(tmp_path, endpoint, "25")) as runtime:
            async with anyio.create_task_group() as tg:

                async def cancel_when_spinning() -> None:
                    await anyio.to_thread.run_sync(spinner.spinning.wait, 60)
                    await anyio.to_thread.run_sync(spinning_child)
                    tg.cancel_scope.cancel()

                tg.start_soon(cancel_when_spinning)
                started = time.monotonic()
                await run_ooda_cycle(runtime, CONTEXT, run_id="run-cancelled-mid-spin")
            stopped_after = time.monotonic() - started
            trace = await runtime.traces.get_trace("run-cancelled-mid-spin")
    assert tg.cancel_scope.cancelled_caught
    assert stopped_after < 20  # not the 25 s step limit: the child was ended when the run was cancelled
    assert trace.status == "cancelled"
    assert stray_children(before) == []


async def test_twenty_cycles_in_a_row_leave_no_process_and_no_directory(tmp_path, monkeypatch):
    # The working directories this process makes (other processes on the machine, another test
    # suite among them, make theirs in the same temporary folder).
    made: list[str] = []
    mkdtemp = tempfile.mkdtemp

    def recorded(*args, **kwargs):
        made.append(mkdtemp(*args, **kwargs))
        return made[-1]

    monkeypatch.setattr(tempfile, "mkdtemp", recorded)
    alive = children_now()
    settings = Settings.from_env({**settings_env(), "DIONYSUS_DB_PATH": str(tmp_path / "cycles.db"), "DIONYSUS_EMBEDDER": "none"})
    async with open_runtime(settings) as runtime:
        for n in range(20):
            result = await run_ooda_cycle(runtime, f"{CONTEXT} (cycle {n})")
            assert result.status == "success" and [p.status for p in result.phases] == ["success"] * 3
    assert stray_children(alive) == []  # no child alive, no zombie (the fork server stays)
    # A child is ended, reaped and its folder removed by a thread beside the run's return: wait
    # for those threads (on a loaded machine the folder went a moment after the reaping).
    for thread in threading.enumerate():
        if thread.name == "code-child-stop":
            thread.join(30)
    runs = [d for d in made if Path(d).name.startswith("dionysus-code-") and "zygote" not in d]
    assert len(runs) >= 20  # one per cycle's child at least
    assert [d for d in runs if Path(d).exists()] == []

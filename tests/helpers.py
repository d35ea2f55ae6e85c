"""What several test modules share that is not a fixture."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from callbacks.context import RunObserver
from dionysus_mcp.config import Settings
from dionysus_mcp.runtime import open_runtime

if TYPE_CHECKING:
    from smolagents.memory import PlanningStep


def planning_step(plan: str = "1. Recall.\n2. Answer.") -> PlanningStep:
    """A planning step as smolagents hands it to the step callbacks."""
    from smolagents.memory import PlanningStep
    from smolagents.models import ChatMessage, MessageRole
    from smolagents.monitoring import Timing

    return PlanningStep(
        model_input_messages=[],
        model_output_message=ChatMessage(role=MessageRole.ASSISTANT, content=plan),
        plan=plan,
        timing=Timing(start_time=0.0, end_time=0.1),
    )


def settings_env(**variables: str) -> dict[str, str]:
    """A settings environment for `Settings.from_env`, with the test's embedder (tests/conftest.py:
    none, or MiniLM for a test marked `meaning`)."""
    return {"DIONYSUS_EMBEDDER": os.environ.get("DIONYSUS_EMBEDDER", "none"), **variables}


CONTEXT = "I keep losing focus in the afternoons before my exam; notifications and short sleep make it worse."


class Runs(RunObserver):
    """The run contexts of a runner call, to compare what ran with what was stored."""

    def __init__(self):
        self.started, self.finished = [], []

    def run_started(self, ctx):
        self.started.append(ctx)

    def run_finished(self, ctx):
        self.finished.append(ctx)


async def seed_traces(db_path: Path) -> tuple[str, str]:
    """A finished manager run with one stored step and one delegated sub-run, in a SQLite file:
    (root trace id, child trace id). Its step cost 50 prompt tokens, 80 without pruning."""
    async with open_runtime(Settings.from_env(settings_env(DIONYSUS_DB_PATH=str(db_path)))) as rt:
        root = await rt.traces.create_trace("ConsciousnessManager", model="scripted", task="What now?")
        await rt.traces.add_step(root, {"step_number": 1, "step_type": "action", "observations": "all quiet",
                                        "input_tokens": 50, "output_tokens": 5, "unpruned_input_tokens": 80})
        child = await rt.traces.create_trace("perception", parent_id=root, parent_step=1, model="scripted")
        await rt.traces.complete_trace(child, "success", summary="saw nothing")
        await rt.traces.complete_trace(root, "success", summary="rest")
        return root, child


def counting_batches(runtime) -> list[list[str]]:
    """The kinds of the writes of each batch of trace writes the runtime's store takes from now
    on (a wrapper around the real `store.traces.write`, which still stores them)."""
    batches: list[list[str]] = []
    apply = runtime.store.traces.write

    async def counted(writes):
        batches.append([write.kind for write in writes])
        return await apply(writes)

    runtime.store.traces.write = counted
    return batches


def trace_news(changes) -> list[str]:
    """The trace ids `changes` (a service's change feed) announces from now on, in order."""
    heard: list[str] = []
    changes.subscribe(lambda kind, key: heard.append(key) if kind == "trace" else None)
    return heard


class SteppedClock:
    """The system clock for wall time, and a monotonic time that moves only when the test skips
    it (dionysus_mcp/clock.py). The trace writer retries a down store every RETRY_EVERY_S of
    monotonic time: held, it retries exactly when the test says the store is back, never against
    a server still starting up — on a loaded machine such a retry was refused and counted
    against the queued write, which made the outage test fail some runs."""

    def __init__(self) -> None:
        from dionysus_mcp.clock import SYSTEM_CLOCK

        self._system = SYSTEM_CLOCK
        self.elapsed = 1000.0

    def __call__(self):
        return self._system()

    def monotonic(self) -> float:
        return self.elapsed

    async def sleep(self, seconds: float) -> None:
        await self._system.sleep(seconds)

    def skip(self, seconds: float) -> None:
        self.elapsed += seconds


def queue_old_outbox_row(outbox, op: str, payload: dict) -> None:
    """An outbox row as versions before typed trace writes wrote it: the name of the store
    method and its arguments as JSON (what a queue left by an older server holds)."""
    import json
    import sqlite3

    from dionysus_mcp.store.outbox import DDL

    outbox.path.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(outbox.path) as db:
        db.executescript(DDL)
        db.execute("INSERT INTO outbox (op, payload) VALUES (?, ?)", (op, json.dumps(payload)))


def embed_with_the_network_cut(imports: str, make_embedder: str) -> list[str]:
    """In a fresh interpreter whose sockets refuse to connect, run `imports`, build an embedder
    with the expression `make_embedder` and embed one text: its name, dimension and dtype (an
    embedder that downloads anything fails here)."""
    code = (
        "import socket\n"
        "def refuse(*a, **k): raise OSError('network used')\n"
        "socket.socket.connect = refuse\nsocket.create_connection = refuse\n"
        f"{imports}\n"
        f"e = {make_embedder}; v = e.embed(['offline'])\n"
        "print(e.name, v.shape[1], v.dtype)\n"
    )
    root = Path(__file__).resolve().parents[1]
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=root, check=True).stdout.split()

"""What several test modules share that is not a fixture."""

from __future__ import annotations

from pathlib import Path

from callbacks.context import RunObserver
from dionysus_mcp.config import Settings
from dionysus_mcp.runtime import open_runtime

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
    async with open_runtime(Settings.from_env({"DIONYSUS_DB_PATH": str(db_path)})) as rt:
        root = await rt.traces.create_trace("ConsciousnessManager", model="scripted", task="What now?")
        await rt.traces.add_step(root, {"step_number": 1, "step_type": "action", "observations": "all quiet",
                                        "input_tokens": 50, "output_tokens": 5, "unpruned_input_tokens": 80})
        child = await rt.traces.create_trace("perception", parent_id=root, parent_step=1, model="scripted")
        await rt.traces.complete_trace(child, "success", summary="saw nothing")
        await rt.traces.complete_trace(root, "success", summary="rest")
        return root, child

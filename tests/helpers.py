"""What several test modules share that is not a fixture."""

from __future__ import annotations

from callbacks.context import RunObserver

CONTEXT = "I keep losing focus in the afternoons before my exam; notifications and short sleep make it worse."


class Runs(RunObserver):
    """The run contexts of a runner call, to compare what ran with what was stored."""

    def __init__(self):
        self.started, self.finished = [], []

    def run_started(self, ctx):
        self.started.append(ctx)

    def run_finished(self, ctx):
        self.finished.append(ctx)

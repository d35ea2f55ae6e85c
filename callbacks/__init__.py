"""Step callbacks that tie every agent step back into the cognitive layer.

`default_registry(settings)` is the set every agent of a run gets, in this order per step type:

| step | callbacks |
|---|---|
| PlanningStep | cancellation, iwmt, river, memory_pruning (superseded plans), tokens, progress |
| ActionStep | cancellation, basin_activation, river, memory_pruning, tokens, progress |
| FinalAnswerStep | progress |
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from smolagents.memory import ActionStep, FinalAnswerStep, PlanningStep

from callbacks.basin import BasinActivationCallback
from callbacks.context import RunContext, RunGroup, RunObserver
from callbacks.iwmt import IwmtCoherenceCallback
from callbacks.memory import MemoryPruningCallback
from callbacks.progress import CancellationCheck, ProgressCallback
from callbacks.registry import CallbackRegistry
from callbacks.river import RiverFlowCallback
from callbacks.tokens import TokenUsageCallback

if TYPE_CHECKING:
    from dionysus_mcp.config import Settings

__all__ = ["CallbackRegistry", "RunContext", "RunGroup", "RunObserver", "default_registry"]


def default_registry(settings: "Settings") -> CallbackRegistry:
    registry = CallbackRegistry()
    cancellation, river, tokens, progress = CancellationCheck(), RiverFlowCallback(), TokenUsageCallback(), ProgressCallback()
    pruning = MemoryPruningCallback(window=settings.memory_window)
    for callback in (cancellation, IwmtCoherenceCallback(), river, pruning, tokens, progress):
        registry.register(PlanningStep, callback)
    for callback in (
        cancellation,
        BasinActivationCallback(),
        river,
        pruning,
        tokens,
        progress,
    ):
        registry.register(ActionStep, callback)
    registry.register(FinalAnswerStep, progress)
    return registry

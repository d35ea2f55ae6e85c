"""Step callbacks that tie every agent step back into the cognitive layer.

`default_registry(settings)` is the set every agent of a run gets, in this order per step type:

| step | callbacks |
|---|---|
| PlanningStep | cancellation, iwmt, river, memory_pruning (superseded plans), tokens, progress |
| ActionStep | cancellation, basin_activation, river, memory_pruning, tokens, progress |
| FinalAnswerStep | progress |

Each callback that keeps records owns one state class, one instance per run (`ctx.state(Kind)`),
defined in its module; a callback reads another's state only as declared (`reads`), and runs
after it (checked when it is registered, callbacks/registry.py):

| callback | owns | reads |
|---|---|---|
| iwmt | `IwmtState` (coherence) | |
| basin_activation | `BasinState` (activations) | |
| river | `RiverState` (flow, step budget) | `IwmtState` |
| memory_pruning | `PruningState` (originals, folded steps) | |
| tokens | `TokenState` (model calls) | `PruningState` |
| trace_persistence (callbacks/trace.py) | `TraceState` | `TokenState`, `PruningState`, `BasinState` |

The agents read `RiverState` (the budget they enforce); the runner reads `TokenState`,
`BasinState` and `IwmtState` for its result.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from smolagents.memory import ActionStep, FinalAnswerStep, PlanningStep

from callbacks.basin import BasinActivationCallback
from callbacks.context import RunContext, RunGroup, RunObserver
from callbacks.iwmt import IwmtCoherenceCallback
from callbacks.pruning import MemoryPruningCallback
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
    plan = PlanningStep
    registry.register(plan, cancellation)
    registry.register(plan, IwmtCoherenceCallback(), after=["cancellation"])
    registry.register(plan, river, after=["iwmt"])  # river reads the coherence iwmt just computed
    registry.register(plan, pruning, after=["iwmt", "river"])  # a superseded plan keeps their lines
    registry.register(plan, tokens, after=["memory_pruning"])  # counts what pruning saved
    registry.register(plan, progress, after=["tokens"])
    registry.register(ActionStep, cancellation)
    registry.register(ActionStep, BasinActivationCallback(), after=["cancellation"])
    registry.register(ActionStep, river, after=["basin_activation"])
    registry.register(ActionStep, pruning, after=["river"])
    registry.register(ActionStep, tokens, after=["memory_pruning"])
    registry.register(ActionStep, progress, after=["tokens"])
    registry.register(FinalAnswerStep, progress)
    # The agents render prompts through the pruning callback's view (folding, planning summaries).
    registry.set_prompt_view(pruning)
    return registry

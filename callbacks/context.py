"""Per-run state the callbacks share: one `RunGroup` per runner call, one `RunContext` per agent run.

A runner call (`run_ooda_cycle`, `run_heartbeat`) creates a `RunGroup`. Every agent run inside
it — the root agent and each delegated sub-agent run — opens its own `RunContext`, so the
callbacks of a sub-agent record into that sub-agent's context while it runs under the manager.
The group keeps them in order with their parent links: exactly what the trace store needs to
persist a run as a root trace with child traces (DELEGATED_TO) and ACTIVATED_BASIN links.

Trace persistence (and anything else that must see whole runs) hooks in as a `RunObserver`;
step-level work hooks in as a callback in the `CallbackRegistry`.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from smolagents.memory import ActionStep, PlanningStep

from schema.models import utcnow

if TYPE_CHECKING:
    from dionysus_mcp.runtime import Runtime

log = logging.getLogger(__name__)

RunStatus = Literal["running", "success", "max_steps", "error", "cancelled"]
FlowState = Literal["calm", "flowing", "turbulent"]


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:16]}"


@dataclass
class Activation:
    """A basin activated because of what the agent did at `step_number` (→ ACTIVATED_BASIN)."""

    basin_id: str
    name: str
    strength: float
    step_number: int
    activation: float  # the basin's activation right after


@dataclass
class ModelCall:
    """Token figures of one model call. `unpruned_prompt_tokens` is what the same prompt would
    have cost with every pruned observation restored."""

    step_kind: Literal["planning", "action"]
    step_number: int
    prompt_tokens: int
    unpruned_prompt_tokens: int
    completion_tokens: int
    estimated: bool = False  # the provider reported no usage: counted with the tokenizer


@dataclass
class PrunedObservation:
    step_number: int
    original: str
    summary: str
    original_tokens: int
    summary_tokens: int


@dataclass
class StepEvent:
    """Something a callback noticed, kept for the trace and for tests (kind: iwmt, river, ...)."""

    kind: str
    step_number: int
    detail: dict[str, Any]
    at: float = field(default_factory=time.time)


@dataclass
class TokenTotals:
    prompt_tokens: int = 0
    unpruned_prompt_tokens: int = 0
    completion_tokens: int = 0
    model_calls: int = 0
    estimated_calls: int = 0

    @property
    def saved_tokens(self) -> int:
        return self.unpruned_prompt_tokens - self.prompt_tokens

    @property
    def reduction_pct(self) -> float:
        if not self.unpruned_prompt_tokens:
            return 0.0
        return round(100.0 * self.saved_tokens / self.unpruned_prompt_tokens, 2)

    def add(self, other: "TokenTotals") -> "TokenTotals":
        return TokenTotals(
            self.prompt_tokens + other.prompt_tokens,
            self.unpruned_prompt_tokens + other.unpruned_prompt_tokens,
            self.completion_tokens + other.completion_tokens,
            self.model_calls + other.model_calls,
            self.estimated_calls + other.estimated_calls,
        )


@dataclass(eq=False)  # identity: a run is itself, however alike two runs' records look
class RunContext:
    """One agent run: what its callbacks recorded, and where it sits in the group."""

    group: "RunGroup"
    agent_name: str
    trace_id: str
    task: str
    parent: "RunContext | None" = None
    parent_step: int | None = None  # the parent's step that delegated this run
    agent: Any = field(default=None, repr=False)
    started_at: Any = field(default_factory=utcnow)
    completed_at: Any = None
    status: RunStatus = "running"
    output: Any = None
    error: str | None = None
    activations: list[Activation] = field(default_factory=list)
    model_calls: list[ModelCall] = field(default_factory=list)
    # step_number → the observation as the tool returned it, before pruning replaced it.
    pruned: dict[int, PrunedObservation] = field(default_factory=dict)
    # the step a plan was made before → the plan as written, before a newer plan superseded it.
    pruned_plans: dict[int, PrunedObservation] = field(default_factory=dict)
    # step_number → an observation shown summarised in a planning call only (memory unchanged).
    planning_view: dict[int, PrunedObservation] = field(default_factory=dict)
    # step_number → an action step folded into the prompt's digest (callbacks/rolling_digest.py).
    folded: dict[int, Any] = field(default_factory=dict)
    events: list[StepEvent] = field(default_factory=list)
    coherence: float | None = None  # latest IWMT consciousness_level seen in this run
    flow: FlowState = "calm"
    step_budget: int | None = None  # lowered by the river callback when the flow is turbulent
    planning_steps: int = 0
    action_steps: int = 0

    @property
    def runtime(self) -> "Runtime":
        return self.group.runtime

    @property
    def model(self) -> str:
        return self.group.model

    def original_observation(self, step_number: int, current: str | None) -> str | None:
        entry = self.pruned.get(step_number)
        return entry.original if entry else current

    def original_plan(self, step_number: int, current: str | None) -> str | None:
        entry = self.pruned_plans.get(step_number)
        return entry.original if entry else current

    def tokens(self) -> TokenTotals:
        totals = TokenTotals()
        for call in self.model_calls:
            totals = totals.add(TokenTotals(call.prompt_tokens, call.unpruned_prompt_tokens, call.completion_tokens, 1, int(call.estimated)))
        return totals

    def budget_spent(self, step_number: int) -> bool:
        return self.step_budget is not None and step_number > self.step_budget

    def record(self, kind: str, step_number: int, **detail: Any) -> StepEvent:
        event = StepEvent(kind, step_number, detail)
        self.events.append(event)
        return event


class CancelSignal(threading.Event):
    """A run group's cancellation flag that also sets the events linked to it, so a thread
    waiting for something else (a model request) wakes at once on cancel: no polling."""

    def __init__(self) -> None:
        super().__init__()
        self._linked: set[threading.Event] = set()
        self._links = threading.Lock()

    def set(self) -> None:
        super().set()
        with self._links:
            linked = list(self._linked)
        for event in linked:
            event.set()

    def link(self, event: threading.Event) -> None:
        with self._links:
            self._linked.add(event)
        if self.is_set():
            event.set()

    def unlink(self, event: threading.Event) -> None:
        with self._links:
            self._linked.discard(event)


class RunObserver:
    """Sees whole agent runs (the trace store persists them). Methods run in the agent's worker
    thread; an exception is logged and never stops the run."""

    def run_started(self, ctx: RunContext) -> None:  # noqa: B027 - optional hook
        pass

    def run_finished(self, ctx: RunContext) -> None:  # noqa: B027 - optional hook
        pass


ProgressFn = Callable[[RunContext, str], None]


class RunGroup:
    """Everything one runner call starts: the contexts of its agent runs, cancellation, progress."""

    def __init__(
        self,
        runtime: "Runtime",
        model: str,
        run_id: str | None = None,
        observers: list[RunObserver] | None = None,
        progress: ProgressFn | None = None,
    ):
        self.runtime = runtime
        self.model = model
        self.run_id = run_id or new_id("run")
        self.observers = list(observers or [])
        self.progress = progress
        self.contexts: list[RunContext] = []
        self.cancelled = CancelSignal()
        self._stack: list[RunContext] = []
        self._agents: list[Any] = []
        self._lock = threading.Lock()

    # --- runs ----------------------------------------------------------------------------
    def open_run(self, agent: Any, task: str) -> RunContext:
        with self._lock:
            parent = self._stack[-1] if self._stack else None
            ctx = RunContext(
                group=self,
                agent_name=agent.name or type(agent).__name__,
                # The root run's trace id is the id the runner returns, so a caller can look the
                # trace up; delegated runs get their own.
                trace_id=self.run_id if not self.contexts else new_id("trace"),
                task=task,
                parent=parent,
                # The parent is mid-step while it delegates: its current step did it.
                parent_step=parent.agent.step_number if parent is not None and parent.agent is not None else None,
                agent=agent,
            )
            self.contexts.append(ctx)
            self._stack.append(ctx)
            if agent not in self._agents:
                self._agents.append(agent)
        self._notify("run_started", ctx)
        return ctx

    def close_run(self, ctx: RunContext, status: RunStatus, output: Any = None, error: str | None = None) -> None:
        ctx.status, ctx.output, ctx.error, ctx.completed_at = status, output, error, utcnow()
        steps = getattr(getattr(ctx.agent, "memory", None), "steps", [])
        ctx.planning_steps = sum(isinstance(s, PlanningStep) for s in steps)
        ctx.action_steps = sum(isinstance(s, ActionStep) for s in steps)
        with self._lock:
            if ctx in self._stack:
                self._stack.remove(ctx)
        self._notify("run_finished", ctx)

    def innermost(self) -> RunContext | None:
        """The run that is executing now (a delegated run sits above its parent)."""
        with self._lock:
            return self._stack[-1] if self._stack else None

    def current(self, agent: Any) -> RunContext | None:
        """The open context of this agent (the innermost one, should it recurse)."""
        name = agent.name or type(agent).__name__
        with self._lock:
            for ctx in reversed(self._stack):
                if ctx.agent_name == name:
                    return ctx
        return None

    @property
    def root(self) -> RunContext | None:
        return self.contexts[0] if self.contexts else None

    def runs_of(self, agent_name: str) -> list[RunContext]:
        return [c for c in self.contexts if c.agent_name == agent_name]

    def tokens(self) -> TokenTotals:
        totals = TokenTotals()
        for ctx in self.contexts:
            totals = totals.add(ctx.tokens())
        return totals

    # --- cancellation --------------------------------------------------------------------
    def cancel(self) -> None:
        """Stop every agent of this group at its next step boundary."""
        self.cancelled.set()
        with self._lock:
            agents = list(self._agents)
        for agent in agents:
            agent.interrupt()

    def register_agent(self, agent: Any) -> None:
        with self._lock:
            if agent not in self._agents:
                self._agents.append(agent)

    # --- progress ------------------------------------------------------------------------
    def report(self, ctx: RunContext, message: str) -> None:
        if self.progress is None or self.cancelled.is_set():
            return
        try:
            self.progress(ctx, message)
        except Exception:  # a client that went away must not stop the run
            log.warning("progress report failed; no more progress for run %s", self.run_id, exc_info=True)
            self.progress = None

    def _notify(self, hook: str, ctx: RunContext) -> None:
        for observer in self.observers:
            try:
                getattr(observer, hook)(ctx)
            except Exception:
                log.exception("run observer %s.%s failed", type(observer).__name__, hook)

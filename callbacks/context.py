"""Per-run state: one `RunGroup` per runner call, one `RunContext` per agent run.

A runner call (`run_ooda_cycle`, `run_heartbeat`) creates a `RunGroup`. Every agent run inside
it — the root agent and each delegated sub-agent run — opens its own `RunContext`, so the
callbacks of a sub-agent record into that sub-agent's context while it runs under the manager.
The group keeps them in order with their parent links: exactly what the trace store needs to
persist a run as a root trace with child traces (DELEGATED_TO) and ACTIVATED_BASIN links.

A `RunContext` holds only what is the run's own and shared by everyone: its identity (trace id,
agent, task, parent links), its times and outcome, and the event journal. What a callback
records lives in that callback's own state slot — a small dataclass it declares (`owns`), one
per run, reached as `ctx.state(Kind)`; the callback's module defines it (callbacks/iwmt.py's
`IwmtState`, …). A callback reads another's slot only if it declares so (`reads`) and runs
after it, which the registry checks when it is registered (callbacks/registry.py).

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
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypeVar

from smolagents.memory import ActionStep, PlanningStep

from dionysus_mcp.errors import CallCancelled
from schema.models import utcnow

if TYPE_CHECKING:
    from dionysus_mcp.runtime import Runtime

log = logging.getLogger(__name__)

RunStatus = Literal["running", "success", "max_steps", "error", "cancelled"]
S = TypeVar("S")


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:16]}"


@dataclass
class StepEvent:
    """Something a callback noticed, kept for the trace and for tests (kind: iwmt, river, ...)."""

    kind: str
    step_number: int
    detail: dict[str, Any]
    at: float = field(default_factory=time.time)


@dataclass(eq=False)  # identity: a run is itself, however alike two runs' records look
class RunContext:
    """One agent run: what is genuinely the run's and shared — who it is, where it sits in the
    group, its times and outcome, and its event journal — plus one state slot per callback.

    A callback's own records (coherence, activations, token figures, pruned originals, flow…)
    live in its state slot (`state(Kind)`, created empty on first use in this run), not here.
    """

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
    planning_steps: int = 0  # counted from the agent's memory when the run closes
    action_steps: int = 0
    events: list[StepEvent] = field(default_factory=list)
    _states: dict[type, Any] = field(default_factory=dict, repr=False)

    @property
    def runtime(self) -> "Runtime":
        return self.group.runtime

    def call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """A service call for this run's cognition, given up (CallCancelled) once the run is
        cancelled: a callback waiting on the store must not hold a cancelled run past its bound."""
        return self.group.runtime.call_unless(self.group.cancelled, fn, *args, **kwargs)

    @property
    def model(self) -> str:
        return self.group.model

    def state(self, kind: type[S]) -> S:
        """This run's slot of state `kind` (a callback's dataclass, see its `owns`): created
        empty the first time anything asks for it, so a reader of a callback that never ran in
        this run sees "nothing recorded"."""
        found = self._states.get(kind)
        if found is None:
            found = self._states.setdefault(kind, kind())
        return found

    def record(self, kind: str, step_number: int, **detail: Any) -> StepEvent:
        event = StepEvent(kind, step_number, detail)
        self.events.append(event)
        return event


class Settable(Protocol):
    """What a CancelSignal sets when it is set: a thread's event, or a pending call's stopper
    (`Runtime.call_unless`)."""

    def set(self) -> None: ...


class CancelSignal(threading.Event):
    """A run group's cancellation flag that also sets the events linked to it, so a thread
    waiting for something else (a model request) wakes at once on cancel: no polling."""

    def __init__(self) -> None:
        super().__init__()
        self._linked: set[Settable] = set()
        self._links = threading.Lock()

    def set(self) -> None:
        super().set()
        with self._links:
            linked = list(self._linked)
        for event in linked:
            event.set()

    def link(self, event: Settable) -> None:
        with self._links:
            self._linked.add(event)
        if self.is_set():
            event.set()

    def unlink(self, event: Settable) -> None:
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
        except CallCancelled:  # cancelled while a slow client held the report: nothing went wrong
            return
        except Exception:  # a client that went away must not stop the run
            log.warning("progress report failed; no more progress for run %s", self.run_id, exc_info=True)
            self.progress = None

    def _notify(self, hook: str, ctx: RunContext) -> None:
        for observer in self.observers:
            try:
                getattr(observer, hook)(ctx)
            except Exception:
                log.exception("run observer %s.%s failed", type(observer).__name__, hook)

"""Trace persistence: every agent run, step by step, in the trace store.

`TracePersistence` is both a `RunObserver` and a step callback, attached to every agent of a run
group (the runner does it by default, see `agents/runner.py`):

- `run_started`: the run's trace is created (`TraceService.create_trace`) with the run
  context's `trace_id` — so the root run's trace id is the id the runner returns — and a
  delegated run becomes a child trace (`parent_id` = the manager's trace, `parent_step` = the
  manager's step that delegated it). The task is written as step 0 (`task`).
- after every PlanningStep, ActionStep and FinalAnswerStep: the step is written
  (`add_step`, idempotent by `trace_id:step_type:step_number`) with its plan / model output /
  code / typed tool calls / error, the FULL observation (pruning may already have shortened
  the one in the agent's memory: the original comes from the pruning callback's state), timing,
  and the step's token figures recorded by the token callback (prompt, completion, prompt
  without pruning). Basin activations recorded so far (the basin callback's state) become
  ACTIVATED_BASIN links (`link_basin`). It reads those three callbacks' states, so it runs after
  every callback registered before it (`after=ALL`).
  Each step is stored within 0.1 s of its end (write_behind.LINGER_S), so a crash leaves the
  completed steps readable, all but those of its last 0.1 s.
- `run_finished`: remaining activations are linked and the trace is closed with its outcome
  (success, max_steps, error, cancelled), the final answer as summary, or the error.

Writes are write-behind (callbacks/write_behind.py): the agent's thread queues each write the
moment its step completes and goes straight back to the agent; one task on the event loop
stores the queue in order, in batches (one transaction each), and the runner returns only once
every write of the run is stored.

A store failure never fails the run: `TraceService` queues writes the store cannot take
(`StoreUnavailable`) in the durable outbox, and any other exception is logged (with the same
message the registry's guard / `RunGroup` would log) and recorded on the run as a
`callback_error` event — never raised into the agent.

Nothing secret is written: values are reduced to JSON primitives (no object is dumped through
its repr), and the secrets the process knows — the model's API key, the Neo4j password, the
HTTP token — are masked in text by the shared `Redactor` (dionysus_mcp/secrets.py, which says
how short secrets are matched).
"""

from __future__ import annotations

import logging
import threading
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from smolagents.memory import ActionStep, FinalAnswerStep, PlanningStep

from callbacks.basin import BasinState
from callbacks.context import RunContext, RunObserver
from callbacks.pruning import PruningState
from callbacks.registry import ALL, CallbackRegistry
from callbacks.tokens import ModelCall, TokenState
from callbacks.write_behind import Queued, WriteBehind
from dionysus_mcp.secrets import Redactor, environment_secrets
from schema.models import StepRecord, ToolCallRecord
from schema.trace_writes import TraceWrite

log = logging.getLogger(__name__)


def _utc(timestamp: float | None) -> datetime | None:
    return None if timestamp is None else datetime.fromtimestamp(timestamp, timezone.utc)


def secrets_of(ctx: RunContext, environment: list[str]) -> list[str | None]:
    """The secrets a run's text may carry. `environment`: the credential-looking variables
    (`environment_secrets()`, read once per run group by the caller)."""
    settings = ctx.runtime.settings
    found: list[str | None] = [
        getattr(settings, "neo4j_password", None),
        getattr(settings, "http_token", None),
        # Every credential-looking variable, not only OpenAI's.
        *environment,
    ]
    model = getattr(ctx.agent, "model", None)
    if model is not None:
        found.append(getattr(model, "api_key", None))
        client_kwargs = getattr(model, "client_kwargs", None)
        if isinstance(client_kwargs, dict):
            found.append(client_kwargs.get("api_key"))
    return found


def error_text(error: Any) -> str | None:
    if error is None:
        return None
    message = str(error)
    return f"{type(error).__name__}: {message}" if message else type(error).__name__


# Where a write came from, named as the registry's guard / RunGroup name a failing hook.
STARTED = "run observer TracePersistence.run_started"
FINISHED = "run observer TracePersistence.run_finished"
STEP = "callback trace_persistence"


@dataclass
class TraceState:
    """Owned by trace persistence, one per run: what it has done for the run."""

    redactor: Redactor | None = None  # the run's secrets masked (made when the run starts)
    linked: int = 0  # activations already linked
    last_action: int = 0  # the last action step's number (the final answer belongs to it)


class TracePersistence(RunObserver):
    """Persists the runs of one run group. Register it as an observer of the group AND as a step
    callback (`registry()`); the runner does both."""

    name = "trace_persistence"
    owns = TraceState
    reads = (TokenState, PruningState, BasinState)  # figures, originals and links of each step

    def __init__(self) -> None:
        self._environment: list[str] | None = None  # read once per run group, not per run
        self._lock = threading.Lock()  # guards _environment: sub-agents may run in other threads
        self._writes = WriteBehind(self._failed)

    def registry(self) -> CallbackRegistry:
        """A registry running this persistence after every planning, action and final-answer step,
        after every callback registered before it (merge it last, so it stores each step as
        every other callback left it)."""
        registry = CallbackRegistry()
        for step_type in (PlanningStep, ActionStep, FinalAnswerStep):
            registry.register(step_type, self, after=ALL)
        return registry

    # --- whole runs ----------------------------------------------------------------------------
    def run_started(self, ctx: RunContext) -> None:
        run = self._run(ctx)
        agent = ctx.agent
        metadata = {
            "agent_class": type(agent).__name__ if agent is not None else None,
            "max_steps": getattr(agent, "max_steps", None),
            "planning_interval": getattr(agent, "planning_interval", None),
            "tools": sorted(name for name in (getattr(agent, "tools", None) or {}) if name != "final_answer"),
            "managed_agents": sorted(getattr(agent, "managed_agents", None) or {}),
        }
        traces = ctx.runtime.traces
        self._queue(ctx, STARTED, *traces.opening(
            ctx.agent_name,
            run_id=ctx.group.run_id,
            parent_id=ctx.parent.trace_id if ctx.parent is not None else None,
            parent_step=ctx.parent_step,
            model=ctx.model,
            task=run.redactor.text(ctx.task) or "",
            trace_id=ctx.trace_id,
            metadata=run.redactor.plain(metadata),
            # When the run began: the write is stored later, behind the run.
            started_at=ctx.started_at,
        ))
        started = ctx.started_at
        self._write(ctx, STARTED, StepRecord(
            id="", trace_id=ctx.trace_id, step_number=0, step_type="task",
            started_at=started, completed_at=started, duration_ms=0.0,
            observations=run.redactor.text(ctx.task),
        ))

    def run_finished(self, ctx: RunContext) -> None:
        run = self._run(ctx)
        try:
            self._link_activations(ctx, FINISHED, run)
        finally:  # the outcome is recorded even if a link failed
            summary = run.redactor.as_text(ctx.output) if ctx.status in ("success", "max_steps") else None
            closing = ctx.runtime.traces.completion(
                ctx.trace_id, ctx.status, summary, run.redactor.text(ctx.error), completed_at=ctx.completed_at,
            )
            self._queue(ctx, FINISHED, closing)

    # --- steps ---------------------------------------------------------------------------------
    def __call__(self, step: Any, agent: Any, ctx: RunContext) -> None:
        run = self._run(ctx)
        record = self.record(step, agent, ctx, run)
        if record is None:
            return
        self._write(ctx, STEP, record)
        if isinstance(step, ActionStep):
            self._link_activations(ctx, STEP, run)

    def record(self, step: Any, agent: Any, ctx: RunContext, run: TraceState | None = None) -> StepRecord | None:
        """The StepRecord of a finished smolagents memory step (None for other step kinds)."""
        run = run or self._run(ctx)
        r = run.redactor
        calls = ctx.state(TokenState)
        if isinstance(step, PlanningStep):
            number = agent.step_number  # smolagents plans right before the action step of this number
            call = calls.call("planning", number)
            usage = step.token_usage
            return self._step(
                ctx, number, "planning", step.timing, call, usage,
                plan=r.text(step.plan),
            )
        if isinstance(step, ActionStep):
            run.last_action = max(run.last_action, step.step_number)
            call = calls.call("action", step.step_number)
            tool_calls = [
                ToolCallRecord(id=str(tc.id), name=str(tc.name), arguments=r.plain(tc.arguments))
                for tc in step.tool_calls or []
            ]
            return self._step(
                ctx, step.step_number, "action", step.timing, call, step.token_usage,
                model_output=r.as_text(step.model_output),
                code_action=r.text(step.code_action),
                tool_calls=tool_calls,
                # Pruning may have shortened the observation in memory: store the original.
                observations=r.text(ctx.state(PruningState).original_observation(step.step_number, step.observations)),
                error=r.text(error_text(step.error)),
            )
        if isinstance(step, FinalAnswerStep):
            # The answer belongs to the action step that gave it (or the forced one at max steps).
            number = run.last_action or agent.step_number
            now = datetime.now(timezone.utc)
            return StepRecord(
                id="", trace_id=ctx.trace_id, step_number=number, step_type="final_answer",
                started_at=now, completed_at=now, duration_ms=0.0,
                final_answer=r.as_text(step.output),
            )
        return None

    @staticmethod
    def _step(ctx: RunContext, number: int, step_type: str, timing: Any, call: ModelCall | None, usage: Any, **fields: Any) -> StepRecord:
        if call is not None:  # the token callback's figures: prompt as sent, and without pruning
            tokens = (call.prompt_tokens, call.completion_tokens, call.unpruned_prompt_tokens)
        elif usage is not None:  # no token callback on this agent: what the model reported
            tokens = (usage.input_tokens, usage.output_tokens, usage.input_tokens)
        else:
            tokens = (0, 0, 0)
        start = getattr(timing, "start_time", None)
        end = getattr(timing, "end_time", None)
        return StepRecord(
            id="", trace_id=ctx.trace_id, step_number=number, step_type=step_type,
            started_at=_utc(start), completed_at=_utc(end),
            duration_ms=None if start is None or end is None else round((end - start) * 1000.0, 3),
            input_tokens=int(tokens[0] or 0), output_tokens=int(tokens[1] or 0),
            unpruned_input_tokens=int(tokens[2] or 0),
            **fields,
        )

    # --- plumbing ------------------------------------------------------------------------------
    def _run(self, ctx: RunContext) -> TraceState:
        run = ctx.state(TraceState)
        if run.redactor is None:
            with self._lock:
                if self._environment is None:
                    self._environment = environment_secrets()
                environment = self._environment
            run.redactor = Redactor(secrets_of(ctx, environment))
        return run

    def _write(self, ctx: RunContext, origin: str, record: StepRecord) -> None:
        from dionysus_mcp.traces import step_id

        record.id = step_id(record.trace_id, record.step_type, record.step_number)
        self._queue(ctx, origin, ctx.runtime.traces.step(ctx.trace_id, record))

    def _link_activations(self, ctx: RunContext, origin: str, run: TraceState) -> None:
        activations = ctx.state(BasinState).activations
        while run.linked < len(activations):
            a = activations[run.linked]
            self._queue(ctx, origin, ctx.runtime.traces.basin_link(ctx.trace_id, a.basin_id, a.strength, a.step_number, a.name))
            run.linked += 1

    # --- write-behind --------------------------------------------------------------------------
    def _queue(self, ctx: RunContext, origin: str, *writes: TraceWrite) -> None:
        """Queue trace write records, built by the TraceService (worker thread)."""
        step_number = int(getattr(ctx.agent, "step_number", 0) or 0)
        self._writes.put(*(Queued(ctx, write, origin, step_number) for write in writes))

    def _failed(self, write: Queued, exc: Exception) -> None:
        log.error(
            "%s failed (trace write %s of %s); the run goes on", write.origin, write.write.kind, write.ctx.agent_name,
            exc_info=exc,
        )
        write.ctx.record("callback_error", write.step_number, callback=self.name, error=f"{type(exc).__name__}: {exc}")

    def writing_behind(self) -> AbstractAsyncContextManager[None]:
        """Hold open around a run (the runner does): writes queue and one drainer task stores
        them; leaving waits until every write of the run is stored (callbacks/write_behind.py)."""
        return self._writes.open()


def persistence_for(registry: CallbackRegistry) -> tuple[TracePersistence, CallbackRegistry]:
    """A fresh persistence and `registry` with it merged in last."""
    tracer = TracePersistence()
    return tracer, registry.merged(tracer.registry())


__all__ = ["TracePersistence", "Redactor", "persistence_for"]

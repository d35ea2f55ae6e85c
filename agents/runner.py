"""The async API the MCP server, the REST API and the CLI call: one OODA cycle, one heartbeat.

smolagents is synchronous, so each call builds fresh agents and runs them in a worker thread
(`anyio.to_thread.run_sync`); their tools reach the async services through `Runtime.call`, so
the event loop — and every other request — stays free while a run goes on. Cancelling the
awaiting task interrupts the agents (the manager and every sub-agent) at their next step
boundary, waits for the worker to stop, and re-raises the cancellation.
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import anyio
import anyio.from_thread
import anyio.lowlevel
import anyio.to_thread

from agents.heartbeat import TASK as HEARTBEAT_TASK
from agents.inputs import RunOodaCycle
from agents.heartbeat import build_heartbeat
from agents.manager import MAX_STEPS as MANAGER_MAX_STEPS
from agents.manager import build_manager
from agents.models import ModelSpec, create_model, parse_model_spec
from agents.provider import provider_failure
from agents.results import ActivatedBasin, HeartbeatResult, OodaResult, PhaseReport, TokenReport
from callbacks import default_registry
from callbacks.context import RunContext, RunGroup, RunObserver
from callbacks.registry import CallbackRegistry
from callbacks.iwmt import IwmtState
from callbacks.tokens import ENCODING_NAME, TokenState, tokens_of
from callbacks.trace import TracePersistence
from dionysus_mcp.config import RUN_STOP_WAIT_S
from dionysus_mcp.errors import DionysusError, InvalidInput
from dionysus_mcp.store.base import StoreUnavailable

if TYPE_CHECKING:
    from dionysus_mcp.runtime import Runtime

log = logging.getLogger(__name__)
T = TypeVar("T")

MAX_CONTEXT = RunOodaCycle.bound("context", "max_length")  # agents/inputs.py
MAX_STEPS_LIMIT = RunOodaCycle.span("max_steps")[1]
STOP_WAIT_S = RUN_STOP_WAIT_S  # how long a cancelled call waits for its agents to reach a step boundary
PHASES = (("observe", "perception"), ("orient", "reasoning"), ("decide", "metacognition"))

Progress = Callable[[float, "float | None", str], Awaitable[Any]]


class RunFailed(DionysusError):
    """The agents could not complete the run (e.g. the model endpoint failed)."""


def validate_context(context: str) -> str:
    context = (context or "").strip() if isinstance(context, str) else ""
    if not context:
        raise InvalidInput("context must not be empty: describe the situation to run the OODA cycle on")
    if len(context) > MAX_CONTEXT:
        raise InvalidInput(f"context is {len(context)} characters; the limit is {MAX_CONTEXT}")
    return context


def validate_max_steps(max_steps: int | None) -> int:
    if max_steps is None:
        return MANAGER_MAX_STEPS
    if isinstance(max_steps, bool) or not isinstance(max_steps, int) or not 1 <= max_steps <= MAX_STEPS_LIMIT:
        raise InvalidInput(f"max_steps must be an integer from 1 to {MAX_STEPS_LIMIT}, got {max_steps!r}")
    return max_steps


def ooda_task(context: str) -> str:
    return f"Run one OODA cycle (observe, orient, decide) on this situation.\nContext: {context}"


async def run_ooda_cycle(
    runtime: "Runtime",
    context: str,
    max_steps: int | None = None,
    progress: Progress | None = None,
    *,
    observers: Sequence[RunObserver] = (),
    callbacks: CallbackRegistry | None = None,
    persist: bool = True,
    run_id: str | None = None,
) -> OodaResult:
    """Run the ConsciousnessManager on `context`. `observers` see every agent run (root and
    delegated); `callbacks` are extra step callbacks run after the default ones. With `persist`
    (the default) every run — the manager's and each delegated one — is stored step by step as
    an execution trace; the result's `trace_id` is the manager's trace (`run_id` when given:
    a run started in the background announces its id before it starts)."""
    context = validate_context(context)
    steps = validate_max_steps(max_steps)
    spec = parse_model_spec(runtime.settings.model)
    group, registry = _group(runtime, spec, observers, callbacks, progress, persist, run_id)
    started = time.perf_counter()
    # Built in the worker too: building renders every agent's prompt templates (tens of ms).
    output = await _run_in_worker(
        group, lambda: build_manager(runtime, _models(runtime, spec, group), group, registry, max_steps=steps).run(ooda_task(context))
    )
    duration = time.perf_counter() - started
    coherence, coherence_status = await _coherence_after(runtime, group)
    root = _root(group)
    await _export_otel(runtime, root.trace_id, persist)
    decision, actions, confidence = parse_decision(output)
    phases = [_phase(group, phase, agent) for phase, agent in PHASES]
    return OodaResult(
        trace_id=root.trace_id,
        model=spec.label,
        status=root.status,
        decision=decision,
        actions=actions,
        confidence=confidence,
        coherence=coherence,
        coherence_status=coherence_status,
        phases=phases,
        failed_phases=[p.phase for p in phases if p.status == "error"],
        activated_basins=ActivatedBasin.all_of(group.contexts),
        tokens=_tokens(spec, group),
        steps=root.action_steps,
        duration_s=round(duration, 3),
    )


async def run_heartbeat(
    runtime: "Runtime",
    progress: Progress | None = None,
    *,
    observers: Sequence[RunObserver] = (),
    callbacks: CallbackRegistry | None = None,
    persist: bool = True,
    run_id: str | None = None,
) -> HeartbeatResult:
    """Run the HeartbeatAgent; persisted as an execution trace (`trace_id`) unless `persist=False`."""
    spec = parse_model_spec(runtime.settings.model)
    group, registry = _group(runtime, spec, observers, callbacks, progress, persist, run_id)
    started = time.perf_counter()
    output = await _run_in_worker(
        group, lambda: build_heartbeat(runtime, _models(runtime, spec, group)("heartbeat"), group, registry).run(HEARTBEAT_TASK)
    )
    duration = time.perf_counter() - started
    coherence, coherence_status = await _coherence_after(runtime, group)
    root = _root(group)
    await _export_otel(runtime, root.trace_id, persist)
    return HeartbeatResult(
        trace_id=root.trace_id,
        model=spec.label,
        status=root.status,
        summary=str(output),
        planning_steps=root.planning_steps,
        action_steps=root.action_steps,
        activated_basins=ActivatedBasin.all_of(group.contexts),
        coherence=coherence,
        coherence_status=coherence_status,
        tokens=_tokens(spec, group),
        duration_s=round(duration, 3),
    )


def _models(runtime: "Runtime", spec: ModelSpec, group: RunGroup) -> Callable[[str], Any]:
    """Each agent's own model, configured from the settings; cancelling the group stops a
    model call in flight."""
    return lambda role: create_model(spec, role, settings=runtime.settings, cancelled=group.cancelled)


async def _run_in_worker(group: RunGroup, work: Callable[[], T]) -> T:
    # Trace writes are write-behind (callbacks/trace.py): leaving this block — on success, error
    # or cancellation — waits until the run's queued writes are stored, so the caller can read
    # the whole trace as soon as the runner returns.
    tracers = [o for o in group.observers if isinstance(o, TracePersistence)]
    try:
        async with tracers[0].writing_behind() if tracers else contextlib.nullcontext():
            return await _run_agents(group, work)
    finally:
        if tracers:
            # Writes the outbox took during a short outage would otherwise wait for the next
            # write or a restart: the run is over, so try to deliver them now.
            with anyio.CancelScope(shield=True):
                await group.runtime.traces.deliver_pending()


async def _run_agents(group: RunGroup, work: Callable[[], T]) -> T:
    stopped = anyio.Event()
    token = anyio.lowlevel.current_token()

    def run() -> T:
        try:
            return work()
        finally:
            try:  # wakes the cancelled caller below, if it is waiting
                anyio.from_thread.run_sync(stopped.set, token=token)
            except RuntimeError:  # the event loop is gone: nobody is waiting
                pass

    try:
        return await anyio.to_thread.run_sync(run, abandon_on_cancel=True)
    except anyio.get_cancelled_exc_class():
        group.cancel()
        # Shielded, so the agents can still reach the loop (tools, callbacks) while they stop.
        with anyio.CancelScope(shield=True), anyio.move_on_after(STOP_WAIT_S):
            await stopped.wait()
        if not stopped.is_set():
            log.warning("run %s did not stop within %.0f s of its cancellation", group.run_id, STOP_WAIT_S)
        raise
    except Exception as exc:
        where = f" Its steps so far are stored: get_trace('{group.root.trace_id}')." if group.root else ""
        failure = provider_failure(exc)
        if failure is not None:  # the endpoint's problem, said in one line: no traceback
            log.warning("run %s failed: %s", group.run_id, failure)
            raise RunFailed(f"The agent run failed: {failure}.{where}") from None
        if isinstance(exc, DionysusError):
            raise
        log.exception("run %s failed", group.run_id)
        raise RunFailed(f"The agent run failed: {type(exc).__name__}: {exc}.{where}") from exc


async def _coherence_after(runtime: "Runtime", group: RunGroup) -> tuple[float, str]:
    """Coherence assessed right after the run. A store that went away during the run must not
    fail a run that completed (its trace writes wait in the outbox): then the latest coherence
    the run itself saw is reported, with status `store_unavailable`."""
    try:
        assessment = await runtime.coherence.assess_coherence()
    except StoreUnavailable as exc:
        log.warning("run %s: coherence not assessed after the run: %s", group.run_id, exc)
        seen = [level for c in group.contexts if (level := c.state(IwmtState).coherence) is not None]
        return (seen[-1] if seen else 0.0), "store_unavailable"
    return assessment.consciousness_level, assessment.status


async def _export_otel(runtime: "Runtime", trace_id: str, persist: bool) -> None:
    """With an OTLP endpoint configured, the run goes to it as it ends; never fails the run."""
    from dionysus_mcp.traces.otel import configured

    if not persist or not configured():
        return
    try:
        spans = await runtime.traces.export_otel(trace_id)
        log.info("run %s exported to OpenTelemetry: %d spans", trace_id, spans)
    except Exception as exc:
        log.warning("run %s not exported to OpenTelemetry: %s", trace_id, exc)


def _bridge(runtime: "Runtime", progress: Progress | None) -> Callable[[RunContext, str], None] | None:
    """A synchronous progress reporter for the worker thread, delivering on the event loop."""
    if progress is None:
        return None
    count = 0

    def report(ctx: RunContext, message: str) -> None:
        nonlocal count
        count += 1
        # Through the run's cancel flag: a client that stops reading must not hold a cancelled run.
        ctx.call(progress, float(count), None, message)

    return report


def _group(
    runtime: "Runtime",
    spec: ModelSpec,
    observers: Sequence[RunObserver],
    callbacks: CallbackRegistry | None,
    progress: Progress | None,
    persist: bool,
    run_id: str | None = None,
) -> tuple[RunGroup, CallbackRegistry]:
    """The run group and the callbacks of one runner call: the defaults, then the caller's, then
    trace persistence (last, so it stores each step as every other callback left it — with its
    token figures and the IWMT line in its plan)."""
    registry = default_registry(runtime.settings)
    if callbacks is not None:
        registry = registry.merged(callbacks)
    tracer = TracePersistence() if persist else None
    if tracer is not None:
        registry = registry.merged(tracer.registry())
    # The persistence observes first: a run's trace exists before anything else hears of it.
    group = RunGroup(
        runtime, spec.label, run_id=run_id, observers=[*([tracer] if tracer else []), *observers], progress=_bridge(runtime, progress)
    )
    return group, registry


def _root(group: RunGroup) -> RunContext:
    if group.root is None:  # the root run always opens before any step runs
        raise RunFailed("the run did not start")
    return group.root


def _phase(group: RunGroup, phase: str, agent: str) -> PhaseReport:
    runs = group.runs_of(agent)
    if not runs:
        return PhaseReport(phase=phase, agent=agent, status="not_run", report=None, steps=0, trace_id=None, prompt_tokens=0, completion_tokens=0)
    last = runs[-1]  # the manager may have asked twice; its latest answer is what it acted on
    tokens = last.state(TokenState).totals()
    return PhaseReport(
        phase=phase,
        agent=agent,
        status=last.status,
        report=str(last.output) if last.output is not None else last.error,
        steps=last.action_steps,
        trace_id=last.trace_id,
        prompt_tokens=tokens.prompt_tokens,
        completion_tokens=tokens.completion_tokens,
    )


def parse_decision(output: Any) -> tuple[str, list[str], float | None]:
    """The manager answers with a dict {decision, actions, confidence}; an LLM may answer with
    its JSON text, or with prose (then the prose is the decision)."""
    value = output
    if isinstance(output, str):
        try:
            value = json.loads(output)
        except ValueError:
            return output.strip(), [], None
    if not isinstance(value, dict):
        return str(output).strip(), [], None
    actions = value.get("actions")
    actions = [str(a) for a in actions] if isinstance(actions, list) else ([str(actions)] if actions else [])
    try:
        confidence: float | None = min(1.0, max(0.0, float(value["confidence"])))
    except (KeyError, TypeError, ValueError):
        confidence = None
    return str(value.get("decision") or "").strip(), actions, confidence


def _tokens(spec: ModelSpec, group: RunGroup) -> TokenReport:
    """Every model call of the group's runs: the token callback's figures, added up."""
    totals = tokens_of(group.contexts)
    return TokenReport.of(totals, _counted_by(spec, totals))


def _counted_by(spec: ModelSpec, totals: Any) -> str:
    tokenizer = f"{ENCODING_NAME} tokenizer (bpe-openai)"
    if spec.kind == "scripted":
        return tokenizer
    estimated, calls = totals.estimated_calls, totals.model_calls
    if not estimated:
        return f"provider-reported usage; pruning savings counted with {ENCODING_NAME}"
    if estimated == calls:
        return f"{tokenizer}: the provider reported no usage"
    return f"provider-reported usage for {calls - estimated} of {calls} calls; {tokenizer} for the {estimated} without usage"

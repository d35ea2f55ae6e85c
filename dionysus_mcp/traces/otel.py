"""OpenTelemetry export of stored runs (optional extra `otel`), GenAI semantic conventions.

A stored run becomes one OTel trace, rebuilt from the stored timestamps:

    invoke_agent ConsciousnessManager          gen_ai.operation.name=invoke_agent, gen_ai.agent.name, …
    ├─ chat scripted                           one per model call (planning / action step): tokens
    ├─ execute_tool python_interpreter         one per tool call of the step
    │  └─ invoke_agent perception              a delegated sub-run, under the call that made it
    │     ├─ chat scripted
    │     └─ execute_tool observe_environment
    …

Attributes follow the GenAI conventions (`gen_ai.operation.name`, `gen_ai.agent.name`,
`gen_ai.agent.id`, `gen_ai.conversation.id`, `gen_ai.request.model`, `gen_ai.provider.name`,
`gen_ai.usage.input_tokens`, `gen_ai.usage.output_tokens`, `gen_ai.tool.name`,
`gen_ai.tool.call.id`, `gen_ai.tool.type`, `error.type`); what they have no name for is under
`dionysus.*` (trace id and status, step type and number, tokens pruning saved). Steps record one
interval for the model call and its tool calls together, so chat and tool spans share it.

The exporter is OTLP over HTTP (`opentelemetry-exporter-otlp-proto-http`), configured by the
standard variables (`OTEL_EXPORTER_OTLP_ENDPOINT`, `…_TRACES_ENDPOINT`, `…_HEADERS`). When one
is set, every root run is exported as it ends (agents/runner.py); `dionysus-mcp traces otel ID`
exports a stored run by hand. A private TracerProvider is used: nothing global is touched.
"""

from __future__ import annotations

import os
from datetime import datetime
from typing import Any

from dionysus_mcp.errors import DionysusError
from dionysus_mcp.traces.models import TraceDetail

SERVICE_NAME = "dionysus-mcp"
ENDPOINT_VARIABLES = ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")
FAILED = {"error", "interrupted"}


class OtelUnavailable(DionysusError):
    """The `otel` extra is not installed."""


def configured(env: dict[str, str] | None = None) -> bool:
    env = os.environ if env is None else env
    return any(env.get(name) for name in ENDPOINT_VARIABLES)


def _ns(value: datetime | None) -> int | None:
    return None if value is None else int(value.timestamp() * 1_000_000_000)


def _provider(model: str) -> str:
    return model.split(":", 1)[0] if model else "unknown"


def export_run(run: TraceDetail, exporter: Any = None) -> int:
    """Export `run` (with its sub-runs) as spans; returns how many. `exporter` defaults to
    OTLP/HTTP configured from the environment."""
    try:
        from opentelemetry import trace as otel_trace
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
        from opentelemetry.trace import SpanKind, Status, StatusCode
    except ImportError:
        raise OtelUnavailable("OpenTelemetry export needs the otel extra: pip install 'dionysus-mcp[otel]'") from None
    if exporter is None:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        exporter = OTLPSpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": SERVICE_NAME}))
    provider.add_span_processor(BatchSpanProcessor(exporter))
    tracer = provider.get_tracer("dionysus-mcp.traces")
    count = 0

    def span(name: str, parent: Any, start: datetime | None, kind: Any, attributes: dict[str, Any]) -> Any:
        nonlocal count
        count += 1
        context = otel_trace.set_span_in_context(parent) if parent is not None else None
        clean = {k: v for k, v in attributes.items() if v is not None}
        return tracer.start_span(name, context=context, kind=kind, start_time=_ns(start), attributes=clean)

    def agent(r: TraceDetail, parent: Any) -> None:
        end = r.completed_at or max((s.completed_at for s in r.steps if s.completed_at), default=r.started_at)
        root = span(f"invoke_agent {r.agent_name}", parent, r.started_at, SpanKind.INTERNAL, {
            "gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": r.agent_name, "gen_ai.agent.id": r.id,
            "gen_ai.conversation.id": r.run_id, "gen_ai.request.model": r.model, "gen_ai.provider.name": _provider(r.model),
            "gen_ai.usage.input_tokens": r.tokens.input_tokens, "gen_ai.usage.output_tokens": r.tokens.output_tokens,
            "dionysus.trace.id": r.id, "dionysus.trace.status": r.status,
            "dionysus.usage.pruned_tokens_saved": r.tokens.pruned_tokens_saved, "dionysus.parent_step": r.parent_step,
        })
        delegated: dict[int, list[TraceDetail]] = {}
        for sub in r.sub_runs:
            delegated.setdefault(sub.parent_step if sub.parent_step is not None else -1, []).append(sub)
        for step in r.steps:
            if step.step_type == "task":
                continue
            start, stop = step.started_at or r.started_at, step.completed_at or step.started_at or end
            step_attrs = {"dionysus.step.type": step.step_type, "dionysus.step.number": step.step_number}
            if step.input_tokens or step.output_tokens:
                chat = span(f"chat {r.model}", root, start, SpanKind.CLIENT, {
                    "gen_ai.operation.name": "chat", "gen_ai.request.model": r.model, "gen_ai.provider.name": _provider(r.model),
                    "gen_ai.usage.input_tokens": step.input_tokens, "gen_ai.usage.output_tokens": step.output_tokens,
                    "dionysus.usage.pruned_tokens_saved": max(0, step.unpruned_input_tokens - step.input_tokens), **step_attrs,
                })
                if step.error and not step.tool_calls:
                    chat.set_status(Status(StatusCode.ERROR, step.error[:500]))
                    chat.set_attribute("error.type", "step_error")
                chat.end(end_time=_ns(stop))
            calls = [tc for tc in step.tool_calls if tc.name != "final_answer"]
            subs = delegated.pop(step.step_number, []) if step.step_type == "action" else []
            for i, call in enumerate(calls):
                tool = span(f"execute_tool {call.name}", root, start, SpanKind.INTERNAL, {
                    "gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": call.name, "gen_ai.tool.call.id": call.id,
                    "gen_ai.tool.type": "function", **step_attrs,
                })
                if i == len(calls) - 1:
                    for sub in subs:  # delegated by the code this call ran
                        agent(sub, tool)
                    subs = []
                    if step.error:
                        tool.set_status(Status(StatusCode.ERROR, step.error[:500]))
                        tool.set_attribute("error.type", "tool_error")
                tool.end(end_time=_ns(stop))
            for sub in subs:
                agent(sub, root)
        for rest in delegated.values():  # delegated at a step that was never stored (a crash)
            for sub in rest:
                agent(sub, root)
        if r.status in FAILED:
            root.set_status(Status(StatusCode.ERROR, (r.error or r.status)[:500]))
            root.set_attribute("error.type", r.status)
        root.end(end_time=_ns(end))

    try:
        agent(run, None)
        provider.force_flush()
    finally:
        provider.shutdown()
    return count

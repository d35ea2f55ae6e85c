"""OpenTelemetry export of a real scripted OODA cycle, checked on the spans the SDK's in-memory
exporter receives (GenAI semantic conventions, sub-runs as children); and over OTLP/HTTP, the
real protobuf exporter posting to a loopback endpoint that decodes what arrives."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from agents.runner import run_ooda_cycle

CONTEXT = "I keep losing focus in the afternoons; notifications make it worse."


async def test_a_cycle_as_genai_spans(rt):
    result = await run_ooda_cycle(rt, CONTEXT)
    run = await rt.traces.get_trace(result.trace_id)
    exporter = InMemorySpanExporter()
    assert await rt.traces.export_otel(result.trace_id, exporter) == len(exporter.get_finished_spans())
    spans = exporter.get_finished_spans()
    by_id = {s.context.span_id: s for s in spans}
    agents = [s for s in spans if s.attributes["gen_ai.operation.name"] == "invoke_agent"]
    root = next(s for s in agents if s.parent is None)
    assert (root.name, root.attributes["gen_ai.agent.id"], root.attributes["gen_ai.request.model"]) == (
        "invoke_agent ConsciousnessManager", run.id, "scripted")
    assert len({s.context.trace_id for s in spans}) == 1 and root.status.status_code != StatusCode.ERROR

    # Each sub-run is a child of the manager's tool call (the code step) that delegated it.
    subs = sorted((s for s in agents if s is not root), key=lambda s: s.start_time)
    assert [s.attributes["gen_ai.agent.name"] for s in subs] == ["perception", "reasoning", "metacognition"]
    for sub, stored in zip(subs, run.sub_runs):
        caller = by_id[sub.parent.span_id]
        assert caller.name == "execute_tool python_interpreter" and by_id[caller.parent.span_id] is root
        assert caller.attributes["dionysus.step.number"] == stored.parent_step
        assert sub.attributes["gen_ai.usage.input_tokens"] == stored.tokens.input_tokens

    # Token usage on the chat spans adds up to the stored totals, sub-runs included.
    chats = [s for s in spans if s.attributes["gen_ai.operation.name"] == "chat"]
    assert all(s.kind == SpanKind.CLIENT and s.name == "chat scripted" for s in chats)
    assert sum(s.attributes["gen_ai.usage.input_tokens"] for s in chats) == run.total_tokens.input_tokens
    assert sum(s.attributes["gen_ai.usage.output_tokens"] for s in chats) == run.total_tokens.output_tokens
    tools = {s.attributes["gen_ai.tool.name"] for s in spans if s.attributes["gen_ai.operation.name"] == "execute_tool"}
    assert {"observe_environment", "semantic_recall", "assess_coherence", "activate_basin"} <= tools
    # Spans keep the stored times.
    assert root.start_time == int(run.started_at.timestamp() * 1e9) and root.end_time >= max(s.end_time for s in subs)


async def test_each_run_goes_over_otlp_http_as_it_ends(rt, monkeypatch):
    """With OTEL_EXPORTER_OTLP_ENDPOINT set, the runner exports the run when it ends."""
    received: list[tuple[str, ExportTraceServiceRequest]] = []

    class Collector(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_POST(self):
            request = ExportTraceServiceRequest()
            request.ParseFromString(self.rfile.read(int(self.headers["Content-Length"])))
            received.append((self.path, request))
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Collector)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", f"http://127.0.0.1:{server.server_address[1]}")
        result = await run_ooda_cycle(rt, CONTEXT)
    finally:
        server.shutdown()
        server.server_close()
    spans = [s for _, req in received for rs in req.resource_spans for ss in rs.scope_spans for s in ss.spans]
    assert {path for path, _ in received} == {"/v1/traces"}
    service = {a.key: a.value.string_value for a in received[0][1].resource_spans[0].resource.attributes}
    assert service["service.name"] == "dionysus-mcp"
    agents = [s for s in spans if s.name.startswith("invoke_agent ")]
    assert len(agents) == 4
    root = next(s for s in agents if not s.parent_span_id)
    ids = {a.key: a.value.string_value for a in root.attributes}
    assert ids["gen_ai.agent.id"] == result.trace_id and ids["gen_ai.operation.name"] == "invoke_agent"

"""Secrets never reach a stored trace, checked where they really flow.

Real runs (smolagents loop, scripted policy or a loopback server speaking the OpenAI protocol),
a real SQLite file read back row by row. Each test first makes sure the secret really went
through the run (the mask is in the stored rows), so the test fails when masking is off.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import anyio
import pytest

from agents.runner import RunFailed, run_heartbeat, run_ooda_cycle
from dionysus_mcp.secrets import MASK
from tests.helpers import Runs

SECRET = "dtk-0123456789abcdef-not-a-real-key"


def trace_rows(db_path) -> list[str]:
    """Every stored trace, step and trace-basin row as text (the memories are not traces)."""
    with sqlite3.connect(db_path) as db:
        return [
            json.dumps(row)
            for table in ("traces", "trace_steps", "trace_basins")
            for row in db.execute(f"SELECT * FROM {table}").fetchall()  # noqa: S608 - fixed table names
        ]


async def test_a_secret_in_the_context_is_masked_in_every_run_step_and_sub_run(rt, monkeypatch):
    # A credential the process holds (named like one), which the user also pasted into the context:
    # it flows into the manager's task, the sub-agents' tasks, plans, code, tool arguments and the
    # observations of the tools that echo what they were given.
    monkeypatch.setenv("DIONYSUS_TEST_API_KEY", SECRET)
    context = f"I keep losing focus before my exam; my notes about sleep and focus hold the key {SECRET} by mistake."
    runs = Runs()
    with anyio.fail_after(120):
        result = await run_ooda_cycle(rt, context, observers=[runs])

    rows = trace_rows(rt.settings.db_path)
    assert not [row for row in rows if SECRET in row]
    detail = await rt.traces.get_trace(result.trace_id)
    assert SECRET not in detail.model_dump_json()

    # The secret did flow: masked in the task of the run and of every delegated run...
    assert MASK in detail.task and detail.sub_runs
    assert all(MASK in sub.task for sub in detail.sub_runs)
    steps = [s for run in (detail, *detail.sub_runs) for s in run.steps]
    # ...in the code and the tool arguments the model wrote, and in a tool's observation.
    assert any(s.code_action and MASK in s.code_action for s in steps)
    assert any(MASK in json.dumps(c.arguments) for s in steps for c in s.tool_calls)
    assert any(s.step_type == "action" and s.observations and MASK in s.observations for s in steps)


class EchoingProvider(BaseHTTPRequestHandler):
    """An OpenAI-protocol server that refuses the key and echoes it in the error, as providers do
    ("Incorrect API key provided: sk-..."), with the status the test sets."""

    status = 401

    def do_POST(self):  # noqa: N802 - http.server's name
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        key = (self.headers.get("Authorization") or "").removeprefix("Bearer ")
        body = json.dumps({"error": {"message": f"Incorrect API key provided: {key}.", "type": "invalid_request_error",
                                     "code": "invalid_api_key"}}).encode()
        self.send_response(self.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture(params=[401, 400])
def echoing_provider(request):
    # 401: the provider layer names the refusal and quotes nothing; 400: it quotes the
    # provider's message, so the key must be masked in what is stored.
    handler = type("Echoing", (EchoingProvider,), {"status": request.param})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1", request.param
    server.shutdown()
    server.server_close()


async def test_a_key_echoed_in_a_provider_error_is_masked_in_the_stored_errors(rt, monkeypatch, echoing_provider):
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    url, status = echoing_provider
    monkeypatch.setenv("OPENAI_BASE_URL", url)
    rt.settings = rt.settings.replace(model="openai:gpt-test")
    runs = Runs()
    with anyio.fail_after(60), pytest.raises(RunFailed):
        await run_heartbeat(rt, observers=[runs])

    rows = trace_rows(rt.settings.db_path)
    assert not [row for row in rows if SECRET in row]
    trace = await rt.traces.get_trace(runs.started[0].trace_id)
    assert trace.status == "error"
    # The error names the endpoint's problem; where it quotes the provider, the key is masked.
    errors = [trace.error or "", *(s.error or "" for s in trace.steps)]
    expected = "refused the API key" if status == 401 else f"Incorrect API key provided: {MASK}"
    assert any(expected in e for e in errors), errors

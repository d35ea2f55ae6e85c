"""The agent team against a real OpenAI-compatible HTTP server (tests/openai_endpoint.py) that
answers as providers do: native tool calls, `Action:` text, fenced code, prose first, no usage;
429 / 500, HTML, a hang, a refused connection. Over a real MCP session (in-memory client)."""

from __future__ import annotations

import os
import subprocess
import re
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client

from dionysus_mcp.config import Settings
from dionysus_mcp.surface.server import build_server
from tests.helpers import settings_env
from tests.openai_endpoint import addressed_to, closed_port_url, serving

CONTEXT = "I lose focus when notifications are on."
HEARTBEAT_TOOLS = {"observe_environment", "semantic_recall", "assess_coherence", "list_basins", "remember"}
INTERNAL_NAME = re.compile(r"\b\w+(Error|Exception)\b|Traceback")


@asynccontextmanager
async def session(tmp_path, monkeypatch, env: dict[str, str]) -> AsyncIterator[Client]:
    # The provider's URL and key come from the environment, as in production.
    for name in ("OPENAI_BASE_URL", "OPENAI_API_KEY"):
        monkeypatch.setenv(name, env[name])
    settings = Settings.from_env({**settings_env(), "DIONYSUS_DB_PATH": str(tmp_path / "provider.db"), **env})
    async with Client(build_server(settings=settings)) as client:
        await client.call_tool("upsert_basin", {"name": "attention", "keywords": ["focus", "notifications"]})
        await client.call_tool("remember", {"content": "Notifications cut focus into fragments."})
        yield client


def text(result) -> str:
    return "\n".join(getattr(c, "text", "") for c in result.content)


def tool_calls(trace: dict) -> list[str]:
    return [c["name"] for s in trace["steps"] for c in (s.get("tool_calls") or [])]


@pytest.mark.parametrize(("style", "usage"), [("native", True), ("action", True), ("fenced", True), ("prose", True), ("native", False)])
async def test_provider_styles_complete_both_runs(tmp_path, monkeypatch, style, usage):
    with serving(style=style, usage=usage) as endpoint:
        async with session(tmp_path, monkeypatch, endpoint.env()) as client:
            ooda = await client.call_tool("run_ooda_cycle", {"context": CONTEXT})
            beat = await client.call_tool("run_heartbeat", {})
            assert not ooda.is_error, text(ooda)
            assert not beat.is_error, text(beat)
            cycle, heartbeat = ooda.structured_content, beat.structured_content
            trace = (await client.call_tool("get_trace", {"trace_id": heartbeat["trace_id"], "detail": "full"})).structured_content
    assert (cycle["status"], heartbeat["status"], cycle["model"]) == ("success", "success", "openai:test-model")
    assert [p["status"] for p in cycle["phases"]] == ["success"] * 3 and cycle["failed_phases"] == []
    assert CONTEXT[:40] in cycle["decision"]  # the policy read the context the manager passed on
    assert HEARTBEAT_TOOLS <= set(tool_calls(trace))  # each offered tool was called, as parsed from `style`
    if style == "native":
        assert any(r.get("tools") for r in endpoint.requests)
    for result in (cycle, heartbeat):
        tokens = result["tokens"]
        assert tokens["prompt_tokens"] > 0 and tokens["model_calls"] > 0
        if usage:
            assert tokens["estimated_calls"] == 0 and tokens["counted_by"].startswith("provider-reported usage")
        else:  # no usage object: the tokenizer counted every call, and the result says so
            assert tokens["estimated_calls"] == tokens["model_calls"] and "reported no usage" in tokens["counted_by"]


FAILURES = {
    "rate_limited": ({"kind": "status", "status": 429, "retry_after": "3600"}, {}, r"rate-limiting requests \(HTTP 429\).*retry after 3600 s"),
    "server_error": ({"kind": "status", "status": 500}, {"DIONYSUS_MODEL_RETRIES": "1"}, r"failed with HTTP 500.*after 2 attempts"),
    "html_body": ({"kind": "html"}, {}, r"answered with an HTML page"),
    "hang": ({"kind": "hang"}, {"DIONYSUS_MODEL_TIMEOUT": "1"}, r"did not answer within 1 s"),
    "refused": (None, {"DIONYSUS_MODEL_RETRIES": "0"}, r"cannot reach the model endpoint .*connection refused"),
}


@pytest.mark.parametrize("case", list(FAILURES))
async def test_endpoint_failures_end_in_one_line_and_an_error_trace(tmp_path, monkeypatch, case):
    fault, extra, expected = FAILURES[case]
    with serving() as endpoint:
        if fault is not None:
            endpoint.fail(**fault)
        env = endpoint.env(**extra)
        if fault is None:
            env["OPENAI_BASE_URL"] = closed_port_url()
        async with session(tmp_path, monkeypatch, env) as client:
            for tool, arguments in (("run_heartbeat", {}), ("run_ooda_cycle", {"context": CONTEXT})):
                result = await client.call_tool(tool, arguments)
                message = text(result)
                assert result.is_error and "\n" not in message.strip(), message
                assert re.search(expected, message) and env["OPENAI_BASE_URL"].rstrip("/") in message, message
                assert not INTERNAL_NAME.search(message), message
                trace_id = re.search(r"get_trace\('([^']+)'\)", message).group(1)
                trace = (await client.call_tool("get_trace", {"trace_id": trace_id, "detail": "full"})).structured_content
                assert trace["status"] == "error" and re.search(expected, trace["error"])
                assert trace["steps"] and trace["steps"][0]["step_type"] == "task"  # the steps so far
            # the server keeps serving
            still = await client.call_tool("observe_environment", {})
            assert not still.is_error and still.structured_content["memory_count"] == 1


async def test_retries_follow_retry_after_then_succeed(tmp_path, monkeypatch):
    with serving() as endpoint:
        limited = endpoint.fail("status", status=429, retry_after="0.2", times=2)
        async with session(tmp_path, monkeypatch, endpoint.env(DIONYSUS_MODEL_RETRIES="2", DIONYSUS_TEMPERATURE="0.2")) as client:
            result = await client.call_tool("run_heartbeat", {})
    assert not result.is_error and result.structured_content["status"] == "success"
    assert limited.hits == 2  # both refusals were retried, the third attempt was answered
    assert {r.get("temperature") for r in endpoint.requests} == {0.2}  # DIONYSUS_TEMPERATURE is sent


async def test_a_sub_agent_whose_model_fails_is_reported_and_the_cycle_goes_on(tmp_path, monkeypatch):
    with serving() as endpoint:
        broken = endpoint.fail("status", status=500, when=addressed_to("perception"))
        async with session(tmp_path, monkeypatch, endpoint.env(DIONYSUS_MODEL_RETRIES="0")) as client:
            result = await client.call_tool("run_ooda_cycle", {"context": CONTEXT})
            assert not result.is_error, text(result)
            cycle = result.structured_content
            child = (await client.call_tool("get_trace", {"trace_id": cycle["phases"][0]["trace_id"], "detail": "full"})).structured_content
    assert broken.hits >= 1
    assert cycle["status"] == "success" and cycle["failed_phases"] == ["observe"]
    observe, orient, decide = cycle["phases"]
    assert observe["status"] == "error" and "HTTP 500" in observe["report"] and not INTERNAL_NAME.search(observe["report"])
    assert (orient["status"], decide["status"]) == ("success", "success")
    assert "perception" in cycle["decision"]  # the manager read the failure report and decided without it
    assert child["status"] == "error"


async def test_a_cancelled_call_on_a_hung_endpoint_stops(tmp_path, monkeypatch):
    with serving() as endpoint:
        endpoint.fail("hang")
        async with session(tmp_path, monkeypatch, endpoint.env(DIONYSUS_MODEL_TIMEOUT="600")) as client:
            with anyio.fail_after(60):  # a guard, far below the 600 s timeout the call would otherwise wait
                async with anyio.create_task_group() as tg:

                    async def call() -> None:
                        await client.call_tool("run_heartbeat", {})

                    tg.start_soon(call)
                    await anyio.to_thread.run_sync(endpoint.hanging.wait, 30)
                    tg.cancel_scope.cancel()
            traces = (await client.call_tool("list_traces", {"agent_name": "HeartbeatAgent"})).structured_content["traces"]
            still = await client.call_tool("observe_environment", {})
    assert endpoint.hanging.is_set() and not still.is_error
    assert [t["status"] for t in traces] == ["cancelled"]


async def test_stdio_server_prints_no_traceback_on_provider_failures(tmp_path):
    with serving() as endpoint:
        endpoint.fail("html", times=1)
        env = {**os.environ, "DIONYSUS_DB_PATH": str(tmp_path / "stdio.db"), **endpoint.env(DIONYSUS_MODEL_RETRIES="0")}
        env.pop("DIONYSUS_LOG_LEVEL", None)  # the default level
        with (tmp_path / "stderr.txt").open("w+") as errlog:
            params = StdioServerParameters(command=sys.executable, args=["-m", "dionysus_mcp", "serve"], env=env)
            async with Client(stdio_client(params, errlog=errlog)) as client:
                html = await client.call_tool("run_heartbeat", {})
                endpoint.fail("status", status=502)
                bad_gateway = await client.call_tool("run_ooda_cycle", {"context": CONTEXT})
            errlog.seek(0)
            stderr = errlog.read()
    assert html.is_error and "HTML page" in text(html)
    assert bad_gateway.is_error and "HTTP 502" in text(bad_gateway)
    assert "Traceback" not in stderr and not INTERNAL_NAME.search(stderr), stderr
    # what the log says: one line per failed run, naming the endpoint problem
    assert [line for line in stderr.splitlines() if "failed:" in line and endpoint.url in line], stderr


BAD_CONFIG = [
    ({"DIONYSUS_MODEL": "gpt-4o"}, "is not a model spec"),
    ({"DIONYSUS_MODEL": "anthropic:claude-3"}, "unknown provider 'anthropic'"),
    ({"DIONYSUS_MODEL": "openai:gpt-4o-mini", "OPENAI_API_KEY": ""}, "needs OPENAI_API_KEY"),
    ({"DIONYSUS_MODEL": "openai:llama3", "OPENAI_API_KEY": "x", "OPENAI_BASE_URL": "localhost:11434"}, "OPENAI_BASE_URL='localhost:11434' is not an http"),
    ({"DIONYSUS_MODEL_TIMEOUT": "soon"}, "DIONYSUS_MODEL_TIMEOUT='soon' is not a number"),
    ({"DIONYSUS_MODEL_RETRIES": "-1"}, "DIONYSUS_MODEL_RETRIES='-1' must be between 0 and 10"),
    ({"DIONYSUS_TEMPERATURE": "7"}, "DIONYSUS_TEMPERATURE='7' must be between 0.0 and 2.0"),
]


@pytest.mark.parametrize(("extra", "expected"), BAD_CONFIG)
def test_serve_refuses_an_unusable_model_configuration_at_start(tmp_path, extra, expected):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "DIONYSUS_"))}
    env.update({"DIONYSUS_DB_PATH": str(tmp_path / "cfg.db"), **extra})
    proc = subprocess.run([sys.executable, "-m", "dionysus_mcp", "serve"], env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 1 and len(lines) == 1 and expected in lines[0], proc.stderr
    assert not (tmp_path / "cfg.db").exists()  # refused before anything started


@pytest.mark.parametrize(("status", "retried"), [
    (400, False), (401, False), (404, False), (422, False), (408, True), (409, True), (429, True), (503, True),
])
def test_only_a_passing_failure_is_retried(status, retried):
    """A request the endpoint refuses for what it is (bad request, bad key, unknown model) fails
    at once; a timeout, a conflict, a rate limit or a server error is tried again."""
    from smolagents.models import ChatMessage, MessageRole

    from agents.models import create_model
    from agents.provider import ProviderError

    with serving() as endpoint:
        fault = endpoint.fail("status", status=status, retry_after="0")
        settings = Settings.from_env({**settings_env(), **endpoint.env(DIONYSUS_MODEL_RETRIES="2")})
        model = create_model(settings.model, "heartbeat", env=endpoint.env(), settings=settings)
        with pytest.raises(ProviderError) as failed:
            model.generate([ChatMessage(role=MessageRole.USER, content=[{"type": "text", "text": "hello"}])])
    assert fault.hits == len(endpoint.requests) == (3 if retried else 1)
    assert f"(HTTP {status})" in str(failed.value) or f"HTTP {status}:" in str(failed.value)
    assert ("(after 3 attempts)" in str(failed.value)) is retried, str(failed.value)

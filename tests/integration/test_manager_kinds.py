"""The two managers `DIONYSUS_MANAGER` selects pass the same OODA cycle over MCP (in-memory
client, real SQLite store), with the scripted model and with a loopback OpenAI-compatible
endpoint: `code` (the default CodeAgent, its code in a child process) and `tool-calling` (a
ToolCallingAgent with the same managed team, writing no code)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, contextmanager

import pytest
from mcp import Client

from dionysus_mcp.config import ConfigError, Settings
from dionysus_mcp.surface.server import build_server
from tests.openai_endpoint import serving
from tests.sandbox_helpers import children_now, code_children, stray_children
from tests.helpers import settings_env

CONTEXT = "I lose focus when notifications are on."
TEAM = ["perception", "reasoning", "metacognition"]


@asynccontextmanager
async def session(tmp_path, env: dict[str, str]) -> AsyncIterator[Client]:
    settings = Settings.from_env({**settings_env(), "DIONYSUS_DB_PATH": str(tmp_path / "kinds.db"), **env})
    async with Client(build_server(settings=settings)) as client:
        await client.call_tool("upsert_basin", {"name": "attention", "keywords": ["focus", "notifications"]})
        await client.call_tool("remember", {"content": "Notifications cut focus into fragments."})
        yield client


@contextmanager
def model(kind: str):
    if kind == "scripted":
        yield {}
        return
    with serving() as endpoint:
        yield endpoint.env()


@pytest.mark.parametrize("model_kind", ["scripted", "loopback"])
@pytest.mark.parametrize("manager", [None, "code", "tool-calling"])
async def test_both_managers_run_the_same_ooda_cycle(tmp_path, monkeypatch, manager, model_kind):
    before = children_now()
    with model(model_kind) as env:
        for name in ("OPENAI_BASE_URL", "OPENAI_API_KEY"):
            monkeypatch.delenv(name, raising=False)  # read from the settings, not the process
        env = {**env, **({"DIONYSUS_MANAGER": manager} if manager else {})}
        async with session(tmp_path, env) as client:
            result = await client.call_tool("run_ooda_cycle", {"context": CONTEXT})
            assert not result.is_error, result.content
            cycle = result.structured_content
            trace = (await client.call_tool("get_trace", {"trace_id": cycle["trace_id"], "detail": "full"})).structured_content
    assert cycle["status"] == "success" and cycle["model"] == ("scripted" if model_kind == "scripted" else "openai:test-model")
    assert [p["agent"] for p in cycle["phases"]] == TEAM and [p["status"] for p in cycle["phases"]] == ["success"] * 3
    assert cycle["failed_phases"] == [] and cycle["decision"]
    if model_kind == "loopback":
        assert CONTEXT[:30] in cycle["decision"]  # built from what the team was told and reported
    calls = [c["name"] for s in trace["steps"] for c in (s.get("tool_calls") or [])]
    if manager == "tool-calling":
        assert calls[:3] == TEAM and calls[-1] == "final_answer"  # the team called as tools: no code
    else:
        assert set(calls) == {"python_interpreter"}
    assert stray_children(before) == []  # no child process outlives its run


def test_an_unknown_manager_kind_is_one_clear_line():
    with pytest.raises(ConfigError, match=r"^DIONYSUS_MANAGER='python' must be code or tool-calling$"):
        Settings.from_env({"DIONYSUS_MANAGER": "python"})
    assert Settings.from_env({}).manager == "code"
    assert Settings.from_env({"DIONYSUS_MANAGER": " Tool-Calling "}).manager == "tool-calling"

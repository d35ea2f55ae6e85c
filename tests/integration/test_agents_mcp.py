"""run_ooda_cycle and run_heartbeat through a real MCP client (in memory): structured results,
progress notifications, cancellation."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
from mcp import Client

from dionysus_mcp.config import Settings
from dionysus_mcp.surface.server import build_server
from tests.helpers import settings_env


@asynccontextmanager
async def connected(tmp_path) -> AsyncIterator[Client]:
    # A context manager, not a fixture: the client's task group must be entered and exited in
    # the same task, and pytest-asyncio sets fixtures up and tears them down in different ones.
    settings = Settings.from_env({**settings_env(), "DIONYSUS_DB_PATH": str(tmp_path / "mcp-agents.db")})
    async with Client(build_server(settings=settings)) as c:
        await c.call_tool("upsert_basin", {"name": "attention", "keywords": ["focus", "distraction"]})
        await c.call_tool("remember", {"content": "Notifications cut focus into fragments."})
        yield c


async def heartbeat_status(client: Client) -> str | None:
    """The status of the stored heartbeat run, None before its trace exists."""
    page = (await client.call_tool("list_traces", {"agent_name": "HeartbeatAgent"})).structured_content
    return page["traces"][0]["status"] if page["traces"] else None


async def test_heartbeat_over_mcp_reports_progress_and_names_its_model(tmp_path):
    progress = []

    async def on_progress(value, total, message):
        progress.append((value, message))

    async with connected(tmp_path) as client:
        result = await client.call_tool("run_heartbeat", {}, progress_callback=on_progress)
    assert not result.is_error
    data = result.structured_content
    assert (data["model"], data["planning_steps"], data["action_steps"]) == ("scripted", 4, 10)
    assert data["trace_id"] and data["tokens"]["model_calls"] == 14
    assert [v for v, _ in progress] == sorted(v for v, _ in progress) and len(progress) >= 14
    assert progress[0][1] == "HeartbeatAgent: plan before step 1"


async def test_ooda_cycle_over_mcp(tmp_path):
    async with connected(tmp_path) as client:
        result = await client.call_tool("run_ooda_cycle", {"context": "I lose focus when notifications are on."})
    assert not result.is_error
    data = result.structured_content
    assert data["model"] == "scripted" and [p["agent"] for p in data["phases"]] == ["perception", "reasoning", "metacognition"]
    assert data["decision"] and data["trace_id"]


async def test_a_cancelled_request_stops_its_run_and_the_server_keeps_serving(tmp_path):
    seen = []
    async with connected(tmp_path) as client:
        before = (await client.call_tool("observe_environment", {})).structured_content["memory_count"]
        with anyio.fail_after(10):
            with anyio.CancelScope() as scope:

                async def on_progress(value, total, message):
                    seen.append(message)
                    if len(seen) == 1:  # the earliest point: the most steps left to skip
                        scope.cancel()

                await client.call_tool("run_heartbeat", {}, progress_callback=on_progress)
        assert scope.cancelled_caught
        # Wait for the run to end (its trace leaves "running"), however long that takes here.
        with anyio.fail_after(60):
            while not (status := await heartbeat_status(client)) or status == "running":
                await anyio.sleep(0.05)
        assert status == "cancelled"
        after = (await client.call_tool("observe_environment", {})).structured_content["memory_count"]
        assert after == before  # the heartbeat never reached its closing `remember`
        assert not (await client.call_tool("list_basins", {})).is_error

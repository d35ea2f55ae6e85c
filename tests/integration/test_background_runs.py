"""Start now, read later: run tools with wait=false return the trace id at once, the run goes on
in the server and shows its progress through get_trace; cancel_run stops it as `cancelled`; a
server that stops with a run in flight leaves no run `running`. Real MCP client and agents."""

from __future__ import annotations

import asyncio
import threading

from mcp import Client

from dionysus_mcp.runtime import open_runtime
from dionysus_mcp.surface.server import build_server

WAIT_S = 90.0


async def until(check, what: str):
    async def loop():
        while not (value := await check()):
            await asyncio.sleep(0.02)
        return value

    try:
        return await asyncio.wait_for(loop(), WAIT_S)
    except TimeoutError:
        raise AssertionError(f"timed out waiting for {what}") from None


async def test_heartbeat_started_in_the_background_completes(settings):
    async with Client(build_server(settings=settings)) as client:
        started = (await client.call_tool("run_heartbeat", {"wait": False})).structured_content
        assert started["status"] == "running" and started["model"] == "scripted"
        trace_id = started["trace_id"]

        async def finished():
            trace = (await client.call_tool("get_trace", {"trace_id": trace_id})).structured_content
            return trace if trace["status"] != "running" else None

        trace = await until(finished, "the background heartbeat to finish")
        assert trace["status"] == "success" and trace["step_count"] > 3
        ended = await client.call_tool("cancel_run", {"trace_id": trace_id})
        assert ended.is_error and "already ended (success)" in ended.content[0].text
        unknown = await client.call_tool("cancel_run", {"trace_id": "run-nope"})
        assert unknown.is_error and "Unknown run" in unknown.content[0].text


async def test_cancel_a_background_cycle_mid_run(held):
    llm, settings = held
    async with Client(build_server(settings=settings)) as client:
        started = await client.call_tool("run_ooda_cycle", {"context": "Too many tabs open.", "wait": False})
        trace_id = started.structured_content["trace_id"]
        await asyncio.to_thread(llm.held.wait, WAIT_S)

        async def three_steps():
            trace = (await client.call_tool("get_trace", {"trace_id": trace_id})).structured_content
            return trace["status"] == "running" and trace["step_count"] == 3

        await until(three_steps, "the run's first steps")
        cancel = asyncio.create_task(client.call_tool("cancel_run", {"trace_id": trace_id}))
        # The agents stop at a step boundary: let held model calls answer until they reach one.
        while not cancel.done():
            llm.release()
            await asyncio.wait({cancel}, timeout=0.05)
        result = cancel.result().structured_content
        assert result["status"] == "cancelled" and result["step_count"] >= 3
        trace = (await client.call_tool("get_trace", {"trace_id": trace_id, "detail": "full"})).structured_content
        assert trace["status"] == "cancelled" and [s["step_type"] for s in trace["steps"][:3]] == ["task", "planning", "action"]


async def test_a_server_stopping_mid_run_leaves_nothing_running(held):
    llm, settings = held
    server = build_server(settings=settings)
    stopped = threading.Event()

    # While the server stops, held model calls answer one at a time, so the stopping run
    # reaches a step boundary; the endpoint stays up (a refused call would end it as `error`).
    def keep_releasing():
        while not stopped.wait(0.05):
            llm.release()

    releaser = threading.Thread(target=keep_releasing, daemon=True)
    try:
        async with Client(server) as client:
            trace_id = (await client.call_tool("run_heartbeat", {"wait": False})).structured_content["trace_id"]
            await asyncio.to_thread(llm.held.wait, WAIT_S)
            releaser.start()
    finally:
        stopped.set()
    async with open_runtime(settings) as runtime:
        trace = await runtime.store.traces.get(trace_id)
        assert trace.status in ("cancelled", "interrupted") and trace.step_count >= 1


async def test_cancel_run_from_another_server_stops_a_run_its_client_waits_for(held):
    """Two servers on one file (two MCP clients' stdio servers): a client waiting for its OODA
    cycle on one, cancel_run on the other. The request goes through the store; the owner picks
    it up while the run is in flight and the waiting call answers that the run was stopped."""
    llm, settings = held
    async with Client(build_server(settings=settings)) as owner, Client(build_server(settings=settings)) as other:
        waiting = asyncio.create_task(owner.call_tool("run_ooda_cycle", {"context": "Too many tabs open."}))
        await asyncio.to_thread(llm.held.wait, WAIT_S)

        async def running():
            page = (await other.call_tool("list_traces", {"status": "running", "roots_only": True})).structured_content
            return page["traces"][0]["id"] if page["traces"] else None

        trace_id = await until(running, "the run to be listed as running")
        cancel = asyncio.create_task(other.call_tool("cancel_run", {"trace_id": trace_id}))
        while not cancel.done():
            llm.release()
            await asyncio.wait({cancel}, timeout=0.05)
        assert cancel.result().structured_content["status"] == "cancelled"
        answer = (await waiting).structured_content
        assert answer["trace_id"] == trace_id and answer["status"] == "cancelled" and "cancel_run" in answer["note"]

"""Follow a run without polling: `resources/subscribe` (handshake-era clients) and
`subscriptions/listen` (2026-era clients) on `trace://{id}` and `basins://`, with a real
in-memory `mcp.Client` against the real server, agents and store. The test reads a run only
when a notification told it to, so a run that ended without one would time the test out."""

from __future__ import annotations

import warnings

import anyio
import pytest
from mcp import Client, types

from dionysus_mcp.surface.server import build_server
from tests.llm_server import LoopbackLLM

WAIT_S = 90.0


class Inbox:
    """The resource-updated notifications a client receives, as a stream of URIs."""

    def __init__(self) -> None:
        self.send, self.receive = anyio.create_memory_object_stream[str](1000)

    async def __call__(self, message) -> None:
        if isinstance(message, types.ResourceUpdatedNotification):
            await self.send.send(str(message.params.uri))


async def status(client: Client, trace_id: str) -> dict:
    return (await client.call_tool("get_trace", {"trace_id": trace_id})).structured_content


async def follow_to_the_end(client: Client, llm: LoopbackLLM, trace_id: str, next_update) -> tuple[int, dict]:
    """Release the held model and read the run after each notification, until it has ended."""
    updates, seen_steps = 0, 0
    with anyio.fail_after(WAIT_S):
        while True:
            llm.release()
            with anyio.move_on_after(0.2):  # released calls answer; read when told
                await next_update()
                updates += 1
                trace = await status(client, trace_id)
                assert trace["step_count"] >= seen_steps
                seen_steps = trace["step_count"]
                if trace["status"] != "running":
                    return updates, trace


async def test_the_capability_is_declared_in_both_eras(settings):
    for mode in ("legacy", "auto"):
        async with Client(build_server(settings=settings), mode=mode) as client:
            assert client.session.server_capabilities.resources.subscribe is True, mode


async def test_a_subscribed_client_hears_steps_land_and_the_run_end(held):
    llm, settings = held
    inbox = Inbox()
    async with Client(build_server(settings=settings), mode="legacy", message_handler=inbox) as client:
        started = (await client.call_tool("run_ooda_cycle", {"context": "A noisy office.", "wait": False})).structured_content
        trace_id = started["trace_id"]
        assert started["resource"] == f"trace://{trace_id}" and "subscribe" in started["follow"]
        await anyio.to_thread.run_sync(llm.held.wait, WAIT_S)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # resources/subscribe is the handshake era's way
            await client.subscribe_resource(f"trace://{trace_id}")

        async def next_update():
            while await inbox.receive.receive() != f"trace://{trace_id}":
                pass

        updates, trace = await follow_to_the_end(client, llm, trace_id, next_update)
        assert trace["status"] in ("success", "max_steps") and updates >= 3 and trace["step_count"] > 3

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            await client.unsubscribe_resource(f"trace://{trace_id}")
            await client.subscribe_resource("basins://")
        await client.call_tool("upsert_basin", {"name": "focus"})
        with anyio.fail_after(10):
            assert await inbox.receive.receive() == "basins://"
        await client.call_tool("activate_basin", {"basin": "focus", "strength": 0.4})
        with anyio.fail_after(10):
            assert await inbox.receive.receive() == "basins://"
        with pytest.raises(Exception, match="cannot subscribe"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            await client.subscribe_resource("file:///etc/passwd")


async def test_a_listen_stream_hears_the_run_and_the_basins(held):
    llm, settings = held
    async with Client(build_server(settings=settings)) as client:
        assert client.protocol_version.startswith("2026")
        started = (await client.call_tool("run_heartbeat", {"wait": False})).structured_content
        trace_id = started["trace_id"]
        await anyio.to_thread.run_sync(llm.held.wait, WAIT_S)
        async with client.listen(resource_subscriptions=[f"trace://{trace_id}", "basins://"]) as stream:
            events = aiter(stream)

            async def next_update():
                while (await anext(events)).uri != f"trace://{trace_id}":
                    pass

            updates, trace = await follow_to_the_end(client, llm, trace_id, next_update)
            assert trace["status"] in ("success", "max_steps") and updates >= 2
            await client.call_tool("upsert_basin", {"name": "calm"})
            with anyio.fail_after(10):
                while (await anext(events)).uri != "basins://":
                    pass

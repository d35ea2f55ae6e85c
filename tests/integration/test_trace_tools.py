"""The trace tools and resources through the in-memory MCP client."""

from __future__ import annotations

import json

import pytest
from mcp import Client, MCPError

from dionysus_mcp.surface.server import build_server
from tests.helpers import seed_traces


def text(result) -> str:
    return " ".join(getattr(block, "text", "") for block in result.content)


async def test_trace_tools_and_resources(settings):
    root, child = await seed_traces(settings.db_path)
    async with Client(build_server(settings=settings)) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
        for name in ("list_traces", "get_trace", "replay_trace", "get_token_usage"):
            assert tools[name].annotations.read_only_hint and tools[name].output_schema

        page = (await client.call_tool("list_traces", {"roots_only": True})).structured_content
        assert [t["id"] for t in page["traces"]] == [root] and page["next_cursor"] is None
        first = (await client.call_tool("list_traces", {"limit": 1})).structured_content
        second = (await client.call_tool("list_traces", {"limit": 1, "cursor": first["next_cursor"]})).structured_content
        assert {first["traces"][0]["id"], second["traces"][0]["id"]} == {root, child}

        detail = (await client.call_tool("get_trace", {"trace_id": root, "detail": "full"})).structured_content
        assert detail["sub_runs"][0]["id"] == child and detail["steps"][0]["observations"] == "all quiet"
        replay = (await client.call_tool("replay_trace", {"trace_id": root})).structured_content
        assert "perception — success" in replay["markdown"]
        usage = (await client.call_tool("get_token_usage", {})).structured_content
        assert usage["totals"]["input_tokens"] == 50 and usage["totals"]["pruned_tokens_saved"] == 30

        as_json = await client.read_resource(f"trace://{root}")
        assert json.loads(as_json.contents[0].text)["id"] == root
        as_markdown = await client.read_resource(f"trace://{root}/replay")
        assert as_markdown.contents[0].text.startswith("# ConsciousnessManager — success")


async def test_unknown_ids_and_bad_cursors_are_explained(settings):
    await seed_traces(settings.db_path)
    async with Client(build_server(settings=settings)) as client:
        missing = await client.call_tool("get_trace", {"trace_id": "nope"})
        assert missing.is_error and "Unknown trace 'nope'" in text(missing)
        bad = await client.call_tool("list_traces", {"cursor": "garbage"})
        assert bad.is_error and "cursor" in text(bad)
        wrong = await client.call_tool("list_traces", {"status": "exploded"})
        assert wrong.is_error and "status" in text(wrong)
        with pytest.raises(MCPError, match="Unknown trace 'nope'"):
            await client.read_resource("trace://nope")

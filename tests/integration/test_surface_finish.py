"""The finished surface through the in-memory MCP client: titles, one-paragraph descriptions,
argument errors one line per field, booleans refused as numbers, implausible dates refused."""

from __future__ import annotations

import pytest
from mcp import Client

from dionysus_mcp.surface.server import build_server


def text(result) -> str:
    return " ".join(getattr(block, "text", "") for block in result.content)


async def test_every_tool_has_a_title_and_a_one_paragraph_description(settings):
    async with Client(build_server(settings=settings)) as client:
        tools = (await client.list_tools()).tools
        assert len(tools) >= 17
        for t in tools:
            assert t.title and t.title != t.name, t.name
            assert t.description and "\n" not in t.description and "  " not in t.description, t.name


ONE_LINE = [
    ("activate_basin", {"basin": "x", "strength": 7}, "strength: must be at most 1, got 7"),
    ("activate_basin", {"basin": "x", "strength": 0}, "strength: must be greater than 0, got 0"),
    ("activate_basin", {"basin": "x", "strength": True}, "strength: must be a number, got true"),
    ("semantic_recall", {"query": "x", "k": True}, "k: must be a whole number, got true"),
    ("list_basins", {"limit": False}, "limit: must be a whole number, got false"),
    ("run_ooda_cycle", {"context": "x", "max_steps": True}, "max_steps: must be a whole number, got true"),
    ("remember", {"content": "x", "importance": True}, "importance: must be a number, got true"),
    ("remember", {"content": "x", "tags": ["a", ""]}, "tags[1]: must not be empty"),
    ("upsert_basin", {"name": "x" * 300}, "name: is 300 characters; the limit is 200"),
    ("semantic_recall", {}, "query: is required"),
    ("list_traces", {"since": -1}, "since: must be on or after 2000-01-01"),
    ("list_traces", {"since": "1999-12-31T00:00:00Z"}, "since: must be on or after 2000-01-01"),
    ("list_traces", {"until": "2999-01-01"}, "until: must not be more than a year ahead"),
    ("get_token_usage", {"since": "yesterday"}, "since: must be an ISO-8601 date-time"),
]


@pytest.mark.parametrize("tool,args,expect", ONE_LINE, ids=[f"{t}-{i}" for i, (t, *_r) in enumerate(ONE_LINE)])
async def test_argument_errors_are_one_line_per_field(settings, tool, args, expect):
    async with Client(build_server(settings=settings)) as client:
        r = await client.call_tool(tool, args)
        assert r.is_error
        message = text(r)
        assert message.startswith(expect), message
        assert "pydantic" not in message and "validation error" not in message
        assert len(message.splitlines()) == 1


async def test_several_bad_fields_give_one_line_each(settings):
    async with Client(build_server(settings=settings)) as client:
        r = await client.call_tool("list_traces", {"status": "nope", "limit": "ten"})
        lines = text(r).splitlines()
        assert r.is_error and len(lines) == 2
        assert lines[0].startswith("status: must be one of 'running'") and lines[1] == 'limit: must be a whole number, got "ten"'


async def test_whole_numbers_still_count_as_numbers(settings):
    async with Client(build_server(settings=settings)) as client:
        await client.call_tool("upsert_basin", {"name": "x"})
        r = await client.call_tool("activate_basin", {"basin": "x", "strength": 1})
        assert not r.is_error and r.structured_content["basin"]["activation"] == 1.0
        r = await client.call_tool("list_traces", {"since": "2020-01-01T00:00:00"})
        assert not r.is_error
        # Lenient where JSON Schema or common clients are: 5.0 is an integer, "0.5" a number.
        assert not (await client.call_tool("semantic_recall", {"query": "x", "k": 5.0})).is_error
        assert not (await client.call_tool("activate_basin", {"basin": "x", "strength": "0.5"})).is_error
        assert not (await client.call_tool("upsert_basin", {"name": "x", "stability": None})).is_error


async def test_limits_stay_in_the_input_schema(settings):
    async with Client(build_server(settings=settings)) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
        stability = tools["upsert_basin"].input_schema["properties"]["stability"]
        assert stability["description"] == "How stable the theme is."
        assert {"type": "number", "minimum": 0.0, "maximum": 1.0} in stability["anyOf"]
        k = tools["semantic_recall"].input_schema["properties"]["k"]
        assert (k["type"], k["minimum"], k["maximum"]) == ("integer", 1, 100)

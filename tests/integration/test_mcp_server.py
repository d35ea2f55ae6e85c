"""The MCP layer through a real client: the in-memory `mcp.Client` and a stdio subprocess."""

from __future__ import annotations

import os
import sys

import pytest
from mcp import Client, StdioServerParameters

from dionysus_mcp.surface.server import build_server

COGNITION_TOOLS = {
    "assess_coherence", "activate_basin", "upsert_basin", "link_basins", "list_basins", "remember",
    "semantic_recall", "observe_environment", "mosaeic_capture", "add_wisdom", "query_wisdom",
}
READ_ONLY = {"list_basins", "semantic_recall", "observe_environment", "query_wisdom"}


def connect(settings) -> Client:
    # A context manager per test, not an async fixture: the client's task group must be entered
    # and left in the same task, which pytest-asyncio does not guarantee for fixtures.
    return Client(build_server(settings=settings))


def text(result) -> str:
    return " ".join(getattr(block, "text", "") for block in result.content)


async def test_tools_are_listed_with_schemas_and_annotations(settings):
    async with connect(settings) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
        assert COGNITION_TOOLS <= set(tools)
        for name in COGNITION_TOOLS:
            tool = tools[name]
            assert tool.output_schema, f"{name} has no outputSchema"
            assert tool.description
            assert tool.annotations.read_only_hint is (name in READ_ONLY), name
        strength = tools["activate_basin"].input_schema["properties"]["strength"]
        assert strength["exclusiveMinimum"] == 0.0 and strength["maximum"] == 1.0


async def test_a_session_of_cognition(settings):
    async with connect(settings) as client:
        r = await client.call_tool("upsert_basin", {"name": "sleep", "keywords": ["sleep", "night"]})
        assert not r.is_error and r.structured_content["name"] == "sleep"
        await client.call_tool("upsert_basin", {"name": "work", "keywords": ["deadline"]})
        await client.call_tool("link_basins", {"source": "sleep", "target": "work", "weight": 0.6})
        r = await client.call_tool("remember", {"content": "Bad sleep before the deadline", "importance": 0.8})
        assert sorted(r.structured_content["basins"]) == ["sleep", "work"]
        r = await client.call_tool("semantic_recall", {"query": "deadline"})
        assert r.structured_content["hits"][0]["content"] == "Bad sleep before the deadline"
        r = await client.call_tool("activate_basin", {"basin": "sleep", "strength": 0.9})
        assert r.structured_content["spread"][0]["name"] == "work"
        r = await client.call_tool("assess_coherence", {})
        c = r.structured_content
        assert c["status"] == "ok" and 0 < c["consciousness_level"] <= 1
        r = await client.call_tool("mosaeic_capture", {"emotions": "tense about the deadline"})
        assert r.structured_content["basins"] == ["work"]
        r = await client.call_tool("add_wisdom", {"text": "Rest before deadlines", "domain": "health"})
        r = await client.call_tool("query_wisdom", {"topic": "deadlines"})
        assert r.structured_content["principles"][0]["text"] == "Rest before deadlines"
        r = await client.call_tool("observe_environment", {})
        assert r.structured_content["memory_count"] == 2


HOSTILE = [
    ("activate_basin", {"basin": "x", "strength": "very"}, "strength"),
    ("activate_basin", {"basin": "x", "strength": 7}, "strength"),
    ("activate_basin", {"basin": "", "strength": 0.5}, "basin"),
    ("activate_basin", {"basin": "nope", "strength": 0.5}, "Unknown basin 'nope'"),
    ("upsert_basin", {"name": "x" * 100_000}, "name"),
    ("remember", {"content": ""}, "content"),
    ("remember", {"content": "x", "importance": -1}, "importance"),
    ("remember", {"content": "x", "basins": ["ghost"]}, "Unknown basin 'ghost'"),
    ("semantic_recall", {"query": "x", "k": 0}, "k"),
    ("semantic_recall", {"query": "x", "k": 10**12}, "k"),
    ("semantic_recall", {}, "query"),
    ("link_basins", {"source": "a", "target": "a", "weight": 0.5}, "Unknown basin"),
    ("mosaeic_capture", {}, "at least one"),
    ("list_basins", {"limit": "ten"}, "limit"),
    ("add_wisdom", {"text": "t", "confidence": float("inf")}, "confidence"),
]


@pytest.mark.parametrize("tool,args,expect", HOSTILE, ids=[f"{t}-{i}" for i, (t, *_rest) in enumerate(HOSTILE)])
async def test_hostile_arguments_get_explained_errors_and_the_server_keeps_serving(settings, tool, args, expect):
    async with connect(settings) as client:
        r = await client.call_tool(tool, args)
        assert r.is_error
        assert expect in text(r)
        assert "Traceback" not in text(r)
        ok = await client.call_tool("list_basins", {})
        assert not ok.is_error


async def test_cypher_and_sql_fragments_are_plain_data(settings):
    async with connect(settings) as client:
        evil = "x'}) DETACH DELETE n // '; DROP TABLE basins; --"
        r = await client.call_tool("upsert_basin", {"name": evil, "keywords": ["drop", "detach"]})
        assert r.structured_content["name"] == evil
        r = await client.call_tool("remember", {"content": evil, "tags": [evil[:50]]})
        assert not r.is_error
        r = await client.call_tool("semantic_recall", {"query": "DROP TABLE detach"})
        assert r.structured_content["hits"][0]["content"] == evil
        names = [b["name"] for b in (await client.call_tool("list_basins", {})).structured_content["basins"]]
        assert names == [evil]


async def test_nothing_is_stored_half_way(settings):
    async with connect(settings) as client:
        await client.call_tool("upsert_basin", {"name": "sleep"})
        r = await client.call_tool("remember", {"content": "half", "basins": ["sleep", "ghost"]})
        assert r.is_error
        r = await client.call_tool("observe_environment", {})
        assert r.structured_content["memory_count"] == 0


async def test_stdio_subprocess_lists_and_calls(tmp_path):
    env = {**os.environ, "DIONYSUS_DB_PATH": str(tmp_path / "stdio.db"), "DIONYSUS_LOG_LEVEL": "WARNING"}
    params = StdioServerParameters(command=sys.executable, args=["-m", "dionysus_mcp", "serve"], env=env)
    async with Client(params) as c:
        names = {t.name for t in (await c.list_tools()).tools}
        assert COGNITION_TOOLS <= names
        r = await c.call_tool("upsert_basin", {"name": "stdio basin"})
        assert r.structured_content["name"] == "stdio basin"
        r = await c.call_tool("activate_basin", {"basin": "stdio basin", "strength": 2})
        assert r.is_error and "strength" in text(r)
        r = await c.call_tool("list_basins", {})
        assert r.structured_content["total"] == 1
    assert (tmp_path / "stdio.db").exists()

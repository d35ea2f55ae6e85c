"""Resources over the memory, prompts and completion, through the in-memory MCP client."""

from __future__ import annotations

import json

import pytest
from mcp import Client, MCPError
from mcp.types import PromptReference, ResourceTemplateReference

from dionysus_mcp.surface.server import build_server
from tests.helpers import seed_traces


async def call(client, tool, args):
    r = await client.call_tool(tool, args)
    assert not r.is_error
    return r.structured_content


async def test_basins_and_memories_as_resources(settings):
    async with Client(build_server(settings=settings)) as c:
        await call(c, "upsert_basin", {"name": "sleep", "keywords": ["sleep"], "description": "rest"})
        await call(c, "upsert_basin", {"name": "work", "keywords": ["deadline"]})
        await call(c, "link_basins", {"source": "sleep", "target": "work", "weight": 0.4})
        mem = await call(c, "remember", {"content": "Sleep before the deadline", "tags": ["x"]})

        listed = {str(r.uri): r for r in (await c.list_resources()).resources}
        assert "basins://" in listed and listed["basins://"].mime_type == "application/json"
        templates = {t.uri_template for t in (await c.list_resource_templates()).resource_templates}
        assert {"basin://{name}", "memory://{memory_id}", "trace://{trace_id}"} <= templates

        overview = json.loads((await c.read_resource("basins://")).contents[0].text)
        assert {b["name"]: b["memories"] for b in overview["basins"]} == {"sleep": 1, "work": 1}
        basin = json.loads((await c.read_resource("basin://sleep")).contents[0].text)
        assert basin["basin"]["description"] == "rest" and basin["memory_count"] == 1
        assert basin["links"] == [{"source": "sleep", "target": "work", "weight": 0.4}]
        assert basin["memories"][0]["uri"] == f"memory://{mem['memory_id']}"
        memory = json.loads((await c.read_resource(f"memory://{mem['memory_id']}")).contents[0].text)
        assert memory["content"] == "Sleep before the deadline" and memory["basins"] == ["sleep", "work"]

        with pytest.raises(MCPError, match="Unknown basin 'slep'"):
            await c.read_resource("basin://slep")
        with pytest.raises(MCPError, match="no memory has id 'mem-nope'"):
            await c.read_resource("memory://mem-nope")


async def test_prompts_are_listed_and_render_with_live_data(settings):
    root, _ = await seed_traces(settings.db_path)
    async with Client(build_server(settings=settings)) as c:
        prompts = {p.name: p for p in (await c.list_prompts()).prompts}
        assert set(prompts) == {"ooda_reflection", "review_recent_runs", "tidy_memories"}
        for p in prompts.values():
            assert p.title and p.description and "\n" not in p.description
        assert [a.name for a in prompts["ooda_reflection"].arguments] == ["situation", "focus_basin"]
        assert prompts["ooda_reflection"].arguments[0].required is True

        await call(c, "upsert_basin", {"name": "focus"})
        await call(c, "activate_basin", {"basin": "focus", "strength": 0.9})
        text = (await c.get_prompt("ooda_reflection", {"situation": "exam stress"})).messages[0].content.text
        assert text.startswith("Here is a situation: exam stress") and "Active basins right now: focus." in text
        text = (await c.get_prompt("review_recent_runs", {})).messages[0].content.text
        assert f"- {root}: ConsciousnessManager, success" in text
        text = (await c.get_prompt("review_recent_runs", {"agent_name": "nobody"})).messages[0].content.text
        assert "no stored runs yet of agent 'nobody'" in text
        assert "basin://focus" in (await c.get_prompt("tidy_memories", {"basin": "focus"})).messages[0].content.text


async def test_completion_of_template_and_prompt_arguments(settings):
    root, child = await seed_traces(settings.db_path)
    async with Client(build_server(settings=settings)) as c:
        for name in ("attention", "rest", "routine"):
            await call(c, "upsert_basin", {"name": name})
        mem = await call(c, "remember", {"content": "a note"})

        async def complete(ref, arg, value):
            return (await c.complete(ref, {"name": arg, "value": value})).completion

        basin_ref = ResourceTemplateReference(type="ref/resource", uri="basin://{name}")
        got = await complete(basin_ref, "name", "r")
        assert sorted(got.values) == ["rest", "routine"] and got.total == 2 and got.has_more is False
        got = await complete(ResourceTemplateReference(type="ref/resource", uri="memory://{memory_id}"), "memory_id", "mem-")
        assert got.values == [mem["memory_id"]]
        got = await complete(ResourceTemplateReference(type="ref/resource", uri="trace://{trace_id}"), "trace_id", "")
        assert set(got.values) == {root, child}
        got = await complete(PromptReference(type="ref/prompt", name="review_recent_runs"), "agent_name", "p")
        assert got.values == ["perception"]
        got = await complete(PromptReference(type="ref/prompt", name="tidy_memories"), "basin", "AT")
        assert got.values == ["attention"]
        got = await complete(PromptReference(type="ref/prompt", name="ooda_reflection"), "situation", "x")
        assert got.values == []

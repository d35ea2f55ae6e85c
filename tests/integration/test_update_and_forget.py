"""Correcting and forgetting through the in-memory MCP client: partial upsert_basin,
update_memory, forget_memory, delete_basin, delete_wisdom and delete_traces."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from mcp import Client

from dionysus_mcp.surface.server import build_server
from tests.helpers import seed_traces, settings_env
from schema.trace_writes import CreateTrace

DELETING = {"forget_memory", "delete_basin", "delete_wisdom", "delete_traces"}


def text(result) -> str:
    return " ".join(getattr(block, "text", "") for block in result.content)


async def call(client, tool, args):
    r = await client.call_tool(tool, args)
    assert not r.is_error, text(r)
    return r.structured_content


async def test_upsert_basin_changes_only_the_fields_given(settings):
    async with Client(build_server(settings=settings)) as c:
        await call(c, "upsert_basin", {"name": "sleep", "description": "rest", "keywords": ["nap"], "stability": 0.8})
        b = await call(c, "upsert_basin", {"name": "sleep"})
        assert (b["description"], b["keywords"], b["stability"]) == ("rest", ["nap"], 0.8)
        b = await call(c, "upsert_basin", {"name": "sleep", "keywords": []})
        assert (b["description"], b["keywords"], b["stability"]) == ("rest", [], 0.8)
        b = await call(c, "upsert_basin", {"name": "sleep", "description": ""})
        assert b["description"] == "" and b["stability"] == 0.8


async def test_update_memory_changes_what_recall_finds(settings):
    async with Client(build_server(settings=settings)) as c:
        await call(c, "upsert_basin", {"name": "work", "keywords": ["deadline"]})
        await call(c, "upsert_basin", {"name": "rest", "keywords": ["sleep"]})
        mem = await call(c, "remember", {"content": "The deadline is Friday", "tags": ["a"]})
        assert (await call(c, "semantic_recall", {"query": "deadline"}))["hits"][0]["memory_id"] == mem["memory_id"]
        v = await call(c, "update_memory", {"memory_id": mem["memory_id"], "content": "Sleep eight hours", "basins": ["rest"]})
        assert v["content"] == "Sleep eight hours" and v["basins"] == ["rest"] and v["tags"] == ["a"]
        # The old words are gone from the index (a neighbour by meaning may still show up)...
        assert all(h["lexical"] == 0 for h in (await call(c, "semantic_recall", {"query": "deadline"}))["hits"])
        hit = (await call(c, "semantic_recall", {"query": "sleep"}))["hits"][0]
        # ... and the new ones are in it.
        assert hit["memory_id"] == mem["memory_id"] and hit["basins"] == ["rest"] and hit["lexical"] > 0
        v = await call(c, "update_memory", {"memory_id": mem["memory_id"], "importance": 0.9})
        assert v["importance"] == 0.9 and v["content"] == "Sleep eight hours"
        r = await c.call_tool("update_memory", {"memory_id": mem["memory_id"]})
        assert r.is_error and "nothing to change" in text(r)
        r = await c.call_tool("update_memory", {"memory_id": "mem-nope", "content": "x"})
        assert r.is_error and "no memory has id 'mem-nope'" in text(r)
        r = await c.call_tool("update_memory", {"memory_id": mem["memory_id"], "basins": ["ghost"]})
        assert r.is_error and "Unknown basin 'ghost'" in text(r)


async def test_forgetting_tools_are_destructive_and_explain_missing_targets(settings):
    async with Client(build_server(settings=settings)) as c:
        tools = {t.name: t for t in (await c.list_tools()).tools}
        for name in DELETING:
            assert tools[name].annotations.destructive_hint is True and tools[name].annotations.read_only_hint is False
        assert tools["update_memory"].annotations.destructive_hint is False
        mem = await call(c, "remember", {"content": "a passing thought"})
        done = await call(c, "forget_memory", {"memory_id": mem["memory_id"]})
        assert done["forgotten"] and (await call(c, "semantic_recall", {"query": "thought"}))["hits"] == []
        for tool, args, expect in [
            ("forget_memory", {"memory_id": mem["memory_id"]}, "nothing was forgotten"),
            ("delete_basin", {"name": "slep"}, "no basin named 'slep': nothing deleted"),
            ("delete_wisdom", {"wisdom_id": "wis-nope"}, "no principle has id 'wis-nope'"),
            ("delete_traces", {"trace_ids": ["t-nope"]}, "no run has id 't-nope': nothing deleted"),
            ("delete_traces", {}, "say which runs to delete"),
            ("delete_traces", {"trace_ids": ["x"], "agent_name": "y"}, "not both"),
        ]:
            r = await c.call_tool(tool, args)
            assert r.is_error and expect in text(r), (tool, text(r))


async def test_delete_basin_detaches_memories_and_says_what_it_removed(settings):
    async with Client(build_server(settings=settings)) as c:
        await call(c, "upsert_basin", {"name": "sleep", "keywords": ["sleep"]})
        await call(c, "upsert_basin", {"name": "work", "keywords": ["deadline"]})
        await call(c, "link_basins", {"source": "sleep", "target": "work", "weight": 0.6})
        await call(c, "remember", {"content": "Bad sleep before the deadline"})
        r = await call(c, "delete_basin", {"name": "sleep"})
        assert (r["links_removed"], r["memories_detached"]) == (1, 1)
        assert "1 links removed, 1 memories detached" in r["message"]
        hit = (await call(c, "semantic_recall", {"query": "sleep"}))["hits"][0]
        assert hit["basins"] == ["work"]
        assert [b["name"] for b in (await call(c, "list_basins", {}))["basins"]] == ["work"]
        w = await call(c, "add_wisdom", {"text": "Rest first"})
        assert (await call(c, "delete_wisdom", {"wisdom_id": w["id"]}))["deleted"]
        assert (await call(c, "query_wisdom", {"topic": "rest"}))["principles"] == []


async def test_delete_traces_by_id_age_and_agent(settings):
    root, child = await seed_traces(settings.db_path)
    async with Client(build_server(settings=settings)) as c:
        later = (datetime.now(timezone.utc) + timedelta(days=1)).isoformat()
        r = await call(c, "delete_traces", {"agent_name": "nobody"})
        assert r["traces_deleted"] == 0 and "no runs of agent 'nobody'" in r["message"]
        r = await call(c, "delete_traces", {"before": "2020-01-01T00:00:00Z"})
        assert r["traces_deleted"] == 0
        r = await call(c, "delete_traces", {"agent_name": "perception", "before": later})
        assert r["matched"] == [child] and r["traces_deleted"] == 1
        r = await call(c, "delete_traces", {"trace_ids": [root]})
        assert r["traces_deleted"] == 1 and r["steps_deleted"] == 1
        assert (await call(c, "list_traces", {}))["traces"] == []


async def test_retention_deletes_old_runs_when_the_server_starts(tmp_path):
    from dionysus_mcp.config import Settings
    from dionysus_mcp.runtime import open_runtime
    from schema.models import TraceRecord

    path = tmp_path / "retained.db"
    now = datetime.now(timezone.utc)
    async with open_runtime(Settings.from_env({**settings_env(), "DIONYSUS_DB_PATH": str(path)})) as rt:
        for tid, age in (("old", 10), ("old-child", 10), ("fresh", 1)):
            parent = "old" if tid == "old-child" else None
            await rt.store.traces.write([CreateTrace(trace=TraceRecord(id=tid, run_id=tid, agent_name="a", parent_id=parent,
                                                    started_at=now - timedelta(days=age), status="success"))])
    unset = Settings.from_env({**settings_env(), "DIONYSUS_DB_PATH": str(path)})
    async with Client(build_server(settings=unset)) as c:
        assert len((await call(c, "list_traces", {}))["traces"]) == 3
    keep = Settings.from_env({**settings_env(), "DIONYSUS_DB_PATH": str(path), "DIONYSUS_TRACE_RETENTION_DAYS": "5"})
    async with Client(build_server(settings=keep)) as c:
        assert [t["id"] for t in (await call(c, "list_traces", {}))["traces"]] == ["fresh"]


async def test_correct_and_forget_over_stdio(tmp_path):
    import os
    import sys

    from mcp import StdioServerParameters

    env = {**os.environ, "DIONYSUS_DB_PATH": str(tmp_path / "stdio.db"), "DIONYSUS_LOG_LEVEL": "WARNING"}
    params = StdioServerParameters(command=sys.executable, args=["-m", "dionysus_mcp", "serve"], env=env)
    async with Client(params) as c:
        tools = {t.name: t for t in (await c.list_tools()).tools}
        assert tools["forget_memory"].title == "Forget a memory"
        mem = await call(c, "remember", {"content": "typo in here"})
        assert (await call(c, "update_memory", {"memory_id": mem["memory_id"], "content": "fixed"}))["content"] == "fixed"
        r = await c.call_tool("update_memory", {"memory_id": mem["memory_id"], "importance": True})
        assert r.is_error and text(r) == "importance: must be a number, got true"
        assert (await call(c, "forget_memory", {"memory_id": mem["memory_id"]}))["forgotten"]
        assert (await call(c, "semantic_recall", {"query": "fixed"}))["hits"] == []


async def test_another_process_updating_or_forgetting_is_seen_by_recall(tmp_path):
    """Two runtimes on one file (the server and the command line): an update or a deletion by
    one reaches the other's recall: words (FTS5) and vectors (its cached matrix) alike."""
    from dionysus_mcp.config import Settings
    from dionysus_mcp.runtime import open_runtime

    def by_words(result) -> list[str]:  # hits sharing a word with the query
        return [h.content for h in result.hits if h.lexical > 0]

    settings = Settings.from_env({**settings_env(), "DIONYSUS_DB_PATH": str(tmp_path / "shared.db")})
    async with open_runtime(settings) as server, open_runtime(settings) as other:
        first = await server.memory.remember("the meeting is on monday")
        second = await server.memory.remember("the train leaves at noon")
        assert by_words(await server.memory.semantic_recall("monday")) == ["the meeting is on monday"]
        await other.memory.update_memory(first.memory_id, content="the meeting moved to friday")
        assert by_words(await server.memory.semantic_recall("monday")) == []
        assert by_words(await server.memory.semantic_recall("friday")) == ["the meeting moved to friday"]
        await other.memory.forget_memory(second.memory_id)
        await other.memory.remember("the bus leaves at noon")  # same count as before the deletion
        assert by_words(await server.memory.semantic_recall("noon")) == ["the bus leaves at noon"]
        every = {h.memory_id for h in (await server.memory.semantic_recall("train leaves noon", k=10)).hits}
        assert second.memory_id not in every  # not by meaning either: the vector went with it


async def test_retention_runs_again_while_the_server_lives(runtime, clock):
    """The daily pass: the retention clock moves past a run's age while `retained` is active,
    and the next pass deletes it (the period shortened to 10 ms; the test waits for the
    deletion itself, with a generous deadline)."""
    import anyio

    from dionysus_mcp.traces.retention import TraceRetention, retained
    from schema.models import TraceRecord

    await runtime.store.traces.write([CreateTrace(trace=TraceRecord(id="t1", run_id="t1", agent_name="a", started_at=clock.now, status="success"))])
    retention = TraceRetention(runtime.store.traces, clock=clock)
    async with retained(retention, days=1, every_s=0.01):
        assert await runtime.store.traces.count() == 1  # the pass at start kept the young run
        clock.advance(2 * 86400)
        with anyio.fail_after(30):
            while await runtime.store.traces.count():
                await anyio.sleep(0.01)

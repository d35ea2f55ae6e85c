"""End to end on Neo4j: a stdio MCP client starts `dionysus-mcp serve` with NEO4J_URI set (the
real Bolt server of the test session), runs a heartbeat and an OODA cycle, and then the graph is
checked with Cypher through the official `neo4j` driver — the manager's trace, its steps in
order, its three delegated sub-runs with their steps, the activated basins — and the same runs
are read back through the MCP trace tools."""

from __future__ import annotations

import os
import sys

from mcp import Client, StdioServerParameters

from agents.demo import BASINS, LINKS, MEMORIES, WISDOM

TYPE_ORDER = {"task": 0, "planning": 1, "action": 2, "final_answer": 3}
CONTEXT = "I am preparing for an exam and keep losing focus in the afternoons; notifications make it worse."


def stdio_client(bolt_server, database: str, tmp_path) -> Client:
    env = {
        **os.environ,
        "NEO4J_URI": bolt_server.uri,
        "NEO4J_USERNAME": bolt_server.user,
        "NEO4J_PASSWORD": bolt_server.password,
        "NEO4J_DATABASE": database,
        # The outbox (and nothing else) lives beside this path; keep it in the test's folder.
        "DIONYSUS_DB_PATH": str(tmp_path / "unused.db"),
        "DIONYSUS_LOG_LEVEL": "WARNING",
        "DIONYSUS_MODEL": "scripted",
    }
    params = StdioServerParameters(command=sys.executable, args=["-m", "dionysus_mcp", "serve"], env=env)
    return Client(params)


async def call(client: Client, tool: str, args: dict) -> dict:
    result = await client.call_tool(tool, args)
    assert not result.is_error, f"{tool}: {[getattr(c, 'text', c) for c in result.content]}"
    return result.structured_content


async def seed(client: Client) -> None:
    for name, description, keywords, stability in BASINS:
        await call(client, "upsert_basin", {"name": name, "description": description, "keywords": keywords, "stability": stability})
    for source, target, weight in LINKS:
        await call(client, "link_basins", {"source": source, "target": target, "weight": weight})
    for content, kind, importance in MEMORIES:
        await call(client, "remember", {"content": content, "kind": kind, "importance": importance})
    for text, domain, confidence in WISDOM:
        await call(client, "add_wisdom", {"text": text, "domain": domain, "confidence": confidence})


def step_rows(cypher, trace_id: str) -> list[dict]:
    return cypher(
        "MATCH (t:AgentExecutionTrace {id: $id})-[h:HAS_STEP]->(s:AgentExecutionStep) "
        "RETURN h.order AS ord, s.step_number AS number, s.step_type AS type, s.id AS id, s.trace_id AS trace_id",
        id=trace_id,
    )


def ordered(rows: list[dict]) -> list[tuple[int, str]]:
    keys = [(r["number"], r["type"]) for r in rows]
    return sorted(keys, key=lambda k: (k[0], TYPE_ORDER[k[1]]))


def assert_steps_linked(rows: list[dict], trace_id: str) -> None:
    assert rows, f"trace {trace_id} has no HAS_STEP"
    for r in rows:
        assert r["ord"] == r["number"] and r["trace_id"] == trace_id
        assert r["id"] == f"{trace_id}:{r['type']}:{r['number']}"
    assert len({r["id"] for r in rows}) == len(rows)


async def test_heartbeat_and_ooda_cycle_over_stdio_land_in_the_graph(bolt_server, neo4j_database, cypher, tmp_path):
    async with stdio_client(bolt_server, neo4j_database, tmp_path) as client:
        await seed(client)
        heartbeat = await call(client, "run_heartbeat", {})
        ooda = await call(client, "run_ooda_cycle", {"context": CONTEXT})

        # --- the graph, by Cypher ------------------------------------------------------------
        [hb] = cypher("MATCH (t:AgentExecutionTrace {id: $id}) RETURN properties(t) AS t", id=heartbeat["trace_id"])
        assert (hb["t"]["agent_name"], hb["t"]["status"], hb["t"]["model"]) == ("HeartbeatAgent", "success", "scripted")
        rows = step_rows(cypher, heartbeat["trace_id"])
        assert_steps_linked(rows, heartbeat["trace_id"])
        keys = ordered(rows)
        assert [n for n, t in keys if t == "planning"] == [1, 4, 7, 10]
        assert [n for n, t in keys if t == "action"] == list(range(1, 11))
        assert keys[0] == (0, "task") and keys[-1] == (10, "final_answer")
        assert hb["t"]["step_count"] == len(rows) == heartbeat["planning_steps"] + heartbeat["action_steps"] + 2

        [m] = cypher("MATCH (m:AgentExecutionTrace {id: $id}) RETURN properties(m) AS m", id=ooda["trace_id"])
        manager = m["m"]
        assert (manager["agent_name"], manager["status"]) == ("ConsciousnessManager", "success")
        assert manager.get("parent_id") is None
        manager_rows = step_rows(cypher, ooda["trace_id"])
        assert_steps_linked(manager_rows, ooda["trace_id"])
        manager_actions = {r["number"] for r in manager_rows if r["type"] == "action"}
        assert manager_actions == set(range(1, ooda["steps"] + 1))

        subs = cypher(
            "MATCH (m:AgentExecutionTrace {id: $id})-[d:DELEGATED_TO]->(c:AgentExecutionTrace) "
            "OPTIONAL MATCH (c)-[:HAS_STEP]->(s:AgentExecutionStep) "
            "RETURN c.id AS id, c.agent_name AS agent, c.status AS status, c.parent_id AS parent_id, "
            "c.parent_step AS parent_step, d.at_step AS at_step, count(s) AS steps "
            "ORDER BY at_step",
            id=ooda["trace_id"],
        )
        assert [s["agent"] for s in subs] == ["perception", "reasoning", "metacognition"]
        assert [s["id"] for s in subs] == [p["trace_id"] for p in ooda["phases"]]
        for sub in subs:
            assert sub["status"] == "success" and sub["parent_id"] == ooda["trace_id"]
            assert sub["at_step"] == sub["parent_step"] and sub["at_step"] in manager_actions
            sub_rows = step_rows(cypher, sub["id"])
            assert_steps_linked(sub_rows, sub["id"])
            assert sub["steps"] == len(sub_rows) >= 4  # task, a plan, actions, the final answer
            assert ordered(sub_rows)[0] == (0, "task") and ordered(sub_rows)[-1][1] == "final_answer"
        # Delegations hang off distinct manager steps, in OODA order.
        assert [s["at_step"] for s in subs] == sorted({s["at_step"] for s in subs})

        links = cypher(
            "MATCH (t:AgentExecutionTrace)-[r:ACTIVATED_BASIN]->(b:AttractorBasin) WHERE t.id IN $ids "
            "RETURN t.id AS trace_id, b.id AS basin_id, b.name AS name, r.strength AS strength, r.at_step AS at_step",
            ids=[heartbeat["trace_id"], *(s["id"] for s in subs)],
        )
        reported = heartbeat["activated_basins"] + ooda["activated_basins"]
        assert links and sorted((r["trace_id"], r["basin_id"], r["at_step"], r["strength"]) for r in links) == sorted(
            (a["trace_id"], a["basin_id"], a["at_step"], a["strength"]) for a in reported
        )
        assert {r["name"] for r in links} <= {name for name, *_ in BASINS}

        # --- the same runs through the MCP trace tools ---------------------------------------
        page = await call(client, "list_traces", {"roots_only": True, "limit": 10})
        assert [t["id"] for t in page["traces"]] == [ooda["trace_id"], heartbeat["trace_id"]]
        detail = await call(client, "get_trace", {"trace_id": ooda["trace_id"], "detail": "full"})
        assert detail["agent_name"] == "ConsciousnessManager" and detail["status"] == "success"
        assert [(s["step_number"], s["step_type"]) for s in detail["steps"]] == ordered(manager_rows)
        assert [s["id"] for s in detail["sub_runs"]] == [s["id"] for s in subs]
        for sub_detail, sub in zip(detail["sub_runs"], subs, strict=True):
            assert sub_detail["parent_step"] == sub["at_step"]
            assert [(s["step_number"], s["step_type"]) for s in sub_detail["steps"]] == ordered(step_rows(cypher, sub["id"]))
        assert detail["total_tokens"]["input_tokens"] == ooda["tokens"]["prompt_tokens"]
        hb_detail = await call(client, "get_trace", {"trace_id": heartbeat["trace_id"], "detail": "full"})
        assert [(s["step_number"], s["step_type"]) for s in hb_detail["steps"]] == keys
        tool_calls = [c for s in hb_detail["steps"] for c in s["tool_calls"]]
        assert tool_calls and all(isinstance(c["arguments"], dict) for c in tool_calls)
        replay = await call(client, "replay_trace", {"trace_id": ooda["trace_id"]})
        for agent in ("perception", "reasoning", "metacognition"):
            assert f"{agent} — success" in replay["markdown"]
        env = await call(client, "observe_environment", {})
        assert env["store"] == "neo4j" and [r["trace_id"] for r in env["recent_runs"][:2]] == [ooda["trace_id"], heartbeat["trace_id"]]

    # Nothing was queued: the store was reachable throughout.
    outbox = tmp_path / "outbox.db"
    if outbox.exists():
        import sqlite3

        with sqlite3.connect(outbox) as conn:
            assert conn.execute("SELECT count(*) FROM outbox").fetchone()[0] == 0

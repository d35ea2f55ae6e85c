"""Moving a store: `dionysus-mcp export` from a populated SQLite file, `dionysus-mcp import` into
the Bolt server (twice: the second changes nothing), compared through the MCP tools; and the
line-by-line validation of an import."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from mcp import Client

from dionysus_mcp.config import Settings
from dionysus_mcp.surface.server import build_server


def cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "dionysus_mcp", *args], env=env, capture_output=True, text=True, timeout=120)


async def call(client: Client, tool: str, args: dict) -> dict:
    result = await client.call_tool(tool, args)
    assert not result.is_error, [getattr(c, "text", c) for c in result.content]
    return result.structured_content


async def populate(settings: Settings) -> None:
    async with Client(build_server(settings=settings)) as c:
        for name, kws in (("attention", ["focus", "notifications"]), ("rest", ["sleep", "nap"])):
            await call(c, "upsert_basin", {"name": name, "keywords": kws, "description": f"{name} things"})
        await call(c, "link_basins", {"source": "attention", "target": "rest", "weight": 0.6})
        await call(c, "remember", {"content": "Notifications break focus", "tags": ["phone"], "importance": 0.8})
        await call(c, "remember", {"content": "A short nap restores energy", "kind": "procedural"})
        await call(c, "add_wisdom", {"text": "Protect sleep before exams", "domain": "learning"})
        await call(c, "activate_basin", {"basin": "attention", "strength": 0.7})
        await call(c, "assess_coherence", {})
        await call(c, "run_ooda_cycle", {"context": "Notifications break my focus and I sleep badly", "max_steps": 15})


async def view(settings: Settings) -> dict:
    """What a client sees, minus what moves with the clock (activation decays while we look)."""
    async with Client(build_server(settings=settings)) as c:
        basins = (await call(c, "list_basins", {}))["basins"]
        recall = (await call(c, "semantic_recall", {"query": "focus nap energy notifications", "k": 10}))["hits"]
        wisdom = (await call(c, "query_wisdom", {"topic": "sleep exams"}))["principles"]
        traces = (await call(c, "list_traces", {"limit": 100}))["traces"]
        details = [await call(c, "get_trace", {"trace_id": t["id"]}) for t in traces]
        usage = await call(c, "get_token_usage", {})
        memory_count = (await call(c, "observe_environment", {}))["memory_count"]
    for b in basins:
        b.pop("activation")
    return {"basins": basins, "recall": recall, "wisdom": wisdom, "traces": traces, "details": details,
            "usage": usage, "memory_count": memory_count}


def records(path) -> list[str]:
    return sorted(path.read_text(encoding="utf-8").splitlines()[1:])


async def test_export_sqlite_import_into_bolt_then_compare_through_mcp(tmp_path, bolt_server, neo4j_database):
    source_env = {**os.environ, "DIONYSUS_DB_PATH": str(tmp_path / "source.db"), "DIONYSUS_LOG_LEVEL": "WARNING"}
    source = Settings.from_env(source_env)
    await populate(source)
    target_env = {
        **source_env, "NEO4J_URI": bolt_server.uri, "NEO4J_USERNAME": bolt_server.user,
        "NEO4J_PASSWORD": bolt_server.password, "NEO4J_DATABASE": neo4j_database,
        "DIONYSUS_DB_PATH": str(tmp_path / "target-outbox-home.db"),
    }
    target = Settings.from_env(target_env)

    exported = tmp_path / "move.jsonl"
    done = cli("export", "--out", str(exported), env=source_env)
    assert done.returncode == 0, done.stderr
    assert exported.stat().st_mode & 0o777 == 0o600  # memories are personal
    assert not exported.with_name("move.jsonl.partial").exists()
    header = json.loads(exported.read_text().splitlines()[0])
    assert header["format"] == "dionysus-mcp-export" and header["version"] == 1 and header["source"] == "sqlite"
    kinds = {json.loads(line)["type"] for line in exported.read_text().splitlines()[1:]}
    assert kinds == {"basin", "link", "memory", "wisdom", "snapshot", "trace", "step", "trace_basin"}

    first = cli("import", str(exported), env=target_env)
    assert first.returncode == 0 and "into neo4j" in first.stdout, first.stderr
    again_file = tmp_path / "after-first.jsonl"
    assert cli("export", "--out", str(again_file), env=target_env).returncode == 0
    second = cli("import", str(exported), env=target_env)
    assert second.returncode == 0 and "imported nothing" in second.stdout, second.stdout
    after_second = tmp_path / "after-second.jsonl"
    assert cli("export", "--out", str(after_second), env=target_env).returncode == 0

    # Every record made the move exactly, and the second import changed nothing.
    assert records(again_file) == records(exported)
    assert records(after_second) == records(exported)
    assert await view(target) == await view(source)


def test_import_names_the_bad_line_and_writes_nothing(tmp_path):
    env = {**os.environ, "DIONYSUS_DB_PATH": str(tmp_path / "t.db"), "DIONYSUS_LOG_LEVEL": "WARNING"}
    good_header = json.dumps({"format": "dionysus-mcp-export", "version": 1})
    basin = json.dumps({"type": "basin", "data": {"id": "b1", "name": "x", "created_at": "2026-01-01T00:00:00Z"}})
    cases = [
        ([json.dumps({"hello": 1})], "line 1: not a dionysus-mcp export"),
        ([json.dumps({"format": "dionysus-mcp-export", "version": 99})], "line 1: export format version 99"),
        ([good_header, basin, "{oops"], "line 3: not JSON"),
        ([good_header, basin, "[1, 2]"], "line 3: expected a JSON object"),
        (["[1, 2]"], "line 1: expected a JSON object"),
        ([good_header, basin, json.dumps({"type": "planet", "data": {}})], "line 3: unknown record type 'planet'"),
        ([good_header, basin, json.dumps({"type": "memory", "data": {"id": "m", "kind": "k"}})], "line 3: memory content: Field required"),
        ([], "the file is empty"),
    ]
    for i, (lines, expect) in enumerate(cases):
        path = tmp_path / f"bad{i}.jsonl"
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        done = cli("import", str(path), env=env)
        assert done.returncode == 1, done.stdout
        assert done.stderr.startswith(f"dionysus-mcp: {path}: {expect}"), done.stderr
        assert done.stderr.count("\n") == 1 and "nothing was imported" in done.stderr
    missing = cli("import", str(tmp_path / "nope.jsonl"), env=env)
    assert missing.returncode == 1 and "cannot read" in missing.stderr
    # every line is checked before the store is even opened: nothing was written
    assert not (tmp_path / "t.db").exists()

"""REST, MCP over streamable HTTP, and the traces command line — each as a real process."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time

import httpx
import pytest
from mcp import Client

from tests.helpers import seed_traces



def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]




def env_for(db_path, **extra) -> dict[str, str]:
    return {**os.environ, "DIONYSUS_DB_PATH": str(db_path), "DIONYSUS_LOG_LEVEL": "WARNING", **extra}


@pytest.fixture
def http_server(tmp_path):
    started = []

    def start(token: str | None = None, host: str = "127.0.0.1"):
        port = free_port()
        extra = {"DIONYSUS_HTTP_TOKEN": token} if token else {}
        log = tmp_path / f"http-{port}.log"  # a file, not a pipe nobody reads (a full pipe blocks the server)
        with open(log, "wb") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "dionysus_mcp", "serve", "--transport", "http", "--host", host, "--port", str(port)],
                env=env_for(tmp_path / "http.db", **extra), stdout=subprocess.DEVNULL, stderr=out,
            )
        started.append(proc)
        base = f"http://127.0.0.1:{port}"
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                return proc, base
            try:
                if httpx.get(base + "/health", headers=headers, timeout=1).status_code in (200, 401):
                    return proc, base
            except httpx.HTTPError:
                time.sleep(0.2)
        raise AssertionError("HTTP server did not start: " + log.read_text(errors="replace")[-2000:])

    yield start
    for proc in started:
        proc.terminate()
        proc.wait(10)


async def test_rest_api_lists_opens_replays_and_counts(tmp_path, http_server):
    root, child = await seed_traces(tmp_path / "http.db")
    _, base = http_server()
    async with httpx.AsyncClient(base_url=base) as http:
        assert (await http.get("/health")).json()["store"] == "sqlite"
        page = (await http.get("/api/agents/traces", params={"roots_only": "true"})).json()
        assert [t["id"] for t in page["traces"]] == [root]
        page = (await http.get("/api/agents/traces", params={"limit": 1})).json()
        assert len(page["traces"]) == 1 and page["next_cursor"]
        detail = (await http.get(f"/api/agents/traces/{root}")).json()
        assert detail["sub_runs"][0]["id"] == child and detail["total_tokens"]["pruned_tokens_saved"] == 30
        summary = (await http.get(f"/api/agents/traces/{root}", params={"detail": "summary"})).json()
        assert summary["phases"][0]["result"] == "saw nothing" and summary["steps"][0]["preview"] == "all quiet"
        page = (await http.get(f"/api/agents/traces/{root}", params={"detail": "full", "steps_from": 0, "steps_limit": 1})).json()
        assert (len(page["steps"]), page["steps_total"], page["next_steps_from"], page["sub_runs"]) == (1, 1, None, [])
        bad = await http.get(f"/api/agents/traces/{root}", params={"detail": "everything"})
        assert bad.status_code == 400 and "detail" in bad.json()["error"]
        replay = await http.get(f"/api/agents/traces/{root}/replay")
        assert replay.headers["content-type"].startswith("text/markdown") and "all quiet" in replay.text
        usage = (await http.get("/api/agents/token-usage")).json()
        assert usage["totals"]["input_tokens"] == 50
        missing = await http.get("/api/agents/traces/nope")
        assert missing.status_code == 404 and "Unknown trace" in missing.json()["error"]
        bad = await http.get("/api/agents/traces", params={"since": "yesterday"})
        assert bad.status_code == 400 and "since" in bad.json()["error"]
        old = await http.get("/api/agents/token-usage", params={"since": "1969-12-31T23:59:59Z"})
        assert old.status_code == 400 and old.json()["error"].startswith("since: must be on or after 2000-01-01")
    async with Client(base + "/mcp") as mcp_client:
        r = await mcp_client.call_tool("get_trace", {"trace_id": root, "detail": "full"})
        assert r.structured_content["sub_runs"][0]["agent_name"] == "perception"


TOKEN = "s3cret-token-of-the-http-tests"


async def test_token_is_checked_on_every_route(tmp_path, http_server):
    _, base = http_server(token=TOKEN)
    assert httpx.get(base + "/health").status_code == 401
    assert httpx.get(base + "/api/agents/traces", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert httpx.post(base + "/mcp", json={}).status_code == 401
    ok = httpx.get(base + "/api/agents/traces", headers={"Authorization": f"Bearer {TOKEN}"})
    assert ok.status_code == 200


def test_non_loopback_without_token_is_refused(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "dionysus_mcp", "serve", "--transport", "http", "--host", "0.0.0.0", "--port", str(free_port())],
        env=env_for(tmp_path / "x.db"), capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode != 0 and "DIONYSUS_HTTP_TOKEN" in proc.stderr and "Traceback" not in proc.stderr


async def test_traces_command_line(tmp_path):
    db = tmp_path / "cli.db"
    root, child = await seed_traces(db)

    def cli(*args):
        return subprocess.run([sys.executable, "-m", "dionysus_mcp", "traces", *args], env=env_for(db),
                              capture_output=True, text=True, timeout=60)

    listed = cli("list")
    assert listed.returncode == 0 and root in listed.stdout and child not in listed.stdout
    assert child in cli("list", "--all").stdout
    shown = json.loads(cli("show", root).stdout)
    assert shown["sub_runs"][0]["id"] == child
    summary = json.loads(cli("show", root, "--detail", "summary").stdout)
    assert summary["detail"] == "summary" and summary["phases"][0]["trace_id"] == child
    page = json.loads(cli("show", root, "--steps-from", "1", "--steps-limit", "5").stdout)
    assert (page["steps"], page["steps_total"], page["next_steps_from"]) == ([], 1, None)
    mixed = cli("show", root, "--detail", "summary", "--steps-from", "1")
    assert mixed.returncode == 1 and "detail='full'" in mixed.stderr
    diffed = cli("diff", root, root)
    assert diffed.returncode == 0 and "tokens +0" in diffed.stdout and "0 of 1 steps differ" in diffed.stdout
    assert json.loads(cli("diff", root, child, "--json").stdout)["b"]["id"] == child
    assert "all quiet" in cli("replay", root).stdout
    missing = cli("show", "nope")
    assert missing.returncode == 1 and "Unknown trace 'nope'" in missing.stderr and "Traceback" not in missing.stderr
    flushed = cli("flush")
    assert flushed.returncode == 0 and "0 still pending" in flushed.stdout


@pytest.mark.parametrize("command", [["serve"], ["traces", "list"], ["schema", "apply"]])
def test_unreachable_neo4j_is_one_clear_line(tmp_path, command):
    env = env_for(tmp_path / "unused.db", NEO4J_URI=f"bolt://127.0.0.1:{free_port()}", NEO4J_PASSWORD="pw-never-shown")
    proc = subprocess.run([sys.executable, "-m", "dionysus_mcp", *command], env=env, capture_output=True,
                          text=True, timeout=60, input="")
    assert proc.returncode == 1
    assert len(proc.stderr.splitlines()) == 1, proc.stderr
    assert proc.stderr.startswith("dionysus-mcp: Neo4j at bolt://127.0.0.1:") and "unreachable" in proc.stderr
    assert "Traceback" not in proc.stderr and "pw-never-shown" not in proc.stderr
    assert proc.stderr.count("\n") == 1 and "Resolved" not in proc.stderr  # one line, no driver repr


async def test_loopback_rest_refuses_foreign_host_headers(http_server):
    _, base = http_server()
    # A DNS-rebinding page reaches 127.0.0.1 under its own host name.
    assert httpx.get(base + "/api/agents/traces", headers={"Host": "evil.example"}).status_code == 400
    assert httpx.get(base + "/api/agents/traces").status_code == 200

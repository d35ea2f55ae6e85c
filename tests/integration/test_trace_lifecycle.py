"""No stuck runs, with real processes: a server killed with SIGKILL in the middle of an OODA
cycle leaves its run `interrupted` with the steps it completed — marked by the next server at
start-up (checked in the raw store, before anything reads it) and shown so by list/get — while
a second live server on the same file or database never marks the first one's running run.

The model is a loopback OpenAI-protocol server (tests/llm_server.py) that answers the manager's
planning and first action, then holds the next call open: the run is reliably mid-cycle when
the process is killed. Both stores: a real SQLite file and the real Bolt server.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import anyio
import httpx
import pytest
from mcp import Client

from tests.integration.test_http_and_cli import free_port
from tests.llm_server import LoopbackLLM

WAIT_S = 90.0  # generous: two cores shared by several suites


class Backend:
    def __init__(self, env: dict[str, str], raw):
        self.env = env
        self.raw = raw  # trace id -> (status, owner pid or None), read from the store directly


@pytest.fixture(params=["sqlite", pytest.param("neo4j", marks=pytest.mark.bolt)])
def backend(request, tmp_path) -> Backend:
    if request.param == "sqlite":
        db = tmp_path / "shared.db"

        def raw(trace_id: str):
            with contextlib.closing(sqlite3.connect(db)) as conn:
                row = conn.execute(
                    "SELECT t.status, o.pid FROM traces t LEFT JOIN trace_owners o ON o.trace_id = t.id WHERE t.id = ?",
                    (trace_id,),
                ).fetchone()
            return tuple(row) if row else None

        return Backend({"DIONYSUS_DB_PATH": str(db)}, raw)
    bolt, database, cypher = (request.getfixturevalue(n) for n in ("bolt_server", "neo4j_database", "cypher"))

    def raw_neo4j(trace_id: str):
        rows = cypher("MATCH (t:AgentExecutionTrace {id: $id}) RETURN t.status AS s, t.owner_pid AS p", id=trace_id)
        return (rows[0]["s"], rows[0]["p"]) if rows else None

    env = {"NEO4J_URI": bolt.uri, "NEO4J_USERNAME": bolt.user, "NEO4J_PASSWORD": bolt.password,
           "NEO4J_DATABASE": database, "DIONYSUS_DB_PATH": str(tmp_path / "outbox-home" / "unused.db")}
    return Backend(env, raw_neo4j)


@pytest.fixture
def llm():
    server = LoopbackLLM(answer=2).start()
    yield server
    server.stop()


@pytest.fixture
def servers(tmp_path):
    procs: list[subprocess.Popen] = []

    def start(env: dict[str, str], name: str) -> tuple[subprocess.Popen, str]:
        port = free_port()
        log = open(tmp_path / f"{name}.log", "wb")
        proc = subprocess.Popen(
            [sys.executable, "-m", "dionysus_mcp", "serve", "--transport", "http", "--port", str(port)],
            env={**os.environ, "DIONYSUS_LOG_LEVEL": "WARNING", **env}, stdout=log, stderr=subprocess.STDOUT,
        )
        procs.append(proc)
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + WAIT_S
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                if httpx.get(base + "/health", timeout=2).status_code == 200:
                    return proc, base
            except httpx.HTTPError:
                time.sleep(0.2)
        raise AssertionError(f"server {name} did not start: {(tmp_path / f'{name}.log').read_text()[-2000:]}")

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(20)


async def wait_for(check, what: str):
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        value = await anyio.to_thread.run_sync(check)
        if value:
            return value
        await anyio.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


async def test_killed_server_leaves_interrupted_run_with_its_steps(backend, llm, servers):
    env = {**backend.env, **llm.env()}
    proc_a, base_a = servers(env, "a")

    async def start_cycle():
        async with Client(base_a + "/mcp") as client:
            await client.call_tool("run_ooda_cycle", {"context": "The kettle is on and the phone keeps ringing."})

    run = asyncio.create_task(start_cycle())
    try:
        await wait_for(llm.held.is_set, "the run's third model call")
        async with httpx.AsyncClient(base_url=base_a) as http:
            listing = (await http.get("/api/agents/traces", params={"roots_only": "true"})).json()["traces"]
            assert [t["status"] for t in listing] == ["running"]
            trace_id = listing[0]["id"]

            # task, planning 1, action 1 are stored before the held call; step_count shows them live.
            async def three_steps():
                return (await http.get(f"/api/agents/traces/{trace_id}")).json()["step_count"] == 3

            deadline = time.monotonic() + WAIT_S
            while not await three_steps():
                assert time.monotonic() < deadline, "the completed steps were not stored"
                await anyio.sleep(0.1)
        assert backend.raw(trace_id) == ("running", proc_a.pid)

        # A second live server on the same store: its start-up and its reads leave A's run alone.
        _, base_b = servers(env, "b")
        async with httpx.AsyncClient(base_url=base_b) as http:
            seen = (await http.get(f"/api/agents/traces/{trace_id}")).json()
            assert (seen["status"], seen["step_count"]) == ("running", 3)
        assert backend.raw(trace_id)[0] == "running"

        os.kill(proc_a.pid, signal.SIGKILL)
        proc_a.wait(WAIT_S)
    finally:
        llm.release()
        run.cancel()
        with contextlib.suppress(BaseException):
            await run

    # A new server marks it at start-up: the raw store says so before anything reads it.
    proc_c, base_c = servers(env, "c")
    assert backend.raw(trace_id) == ("interrupted", proc_a.pid)
    async with httpx.AsyncClient(base_url=base_c) as http:
        listing = (await http.get("/api/agents/traces", params={"roots_only": "true"})).json()["traces"]
        assert [(t["id"], t["status"], t["step_count"]) for t in listing] == [(trace_id, "interrupted", 3)]
        detail = (await http.get(f"/api/agents/traces/{trace_id}")).json()
        assert [(s["step_type"], s["step_number"]) for s in detail["steps"]] == [("task", 0), ("planning", 1), ("action", 1)]
        assert f"process {proc_a.pid}" in detail["error"] and detail["completed_at"]
        assert detail["tokens"]["input_tokens"] > 0

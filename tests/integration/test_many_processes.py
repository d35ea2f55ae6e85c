"""Many writers, for real: several `dionysus-mcp serve` processes on one store — two stdio servers
on one SQLite file or one Bolt database (what two MCP clients on the default configuration
are), and three HTTP replicas on one Bolt database (what a team behind a load balancer runs).
Every request goes through a real MCP client to a real server process."""

from __future__ import annotations

import itertools
import os
import signal
import socket
import subprocess
import sys
import time
import warnings
from contextlib import AsyncExitStack, asynccontextmanager

import anyio
import httpx
import pytest
from mcp import Client, StdioServerParameters, types

from tests.llm_server import LoopbackLLM
from tests.round_robin_proxy import round_robin

WAIT_S = 90.0
FOREVER = str(10 * 365 * 86400)  # the longest half-life: decay plays no part in a test's seconds


@pytest.fixture(params=["sqlite", pytest.param("neo4j", marks=pytest.mark.bolt)])
def store_env(request, tmp_path):
    """The environment of a server process on the test's store: a SQLite file, or a fresh
    database on the session's Bolt server."""
    env = {**os.environ, "DIONYSUS_LOG_LEVEL": "WARNING", "DIONYSUS_MODEL": "scripted", "DIONYSUS_BASIN_HALF_LIFE": FOREVER}
    if request.param == "neo4j":
        server, database = request.getfixturevalue("bolt_server"), request.getfixturevalue("neo4j_database")
        env.update({"NEO4J_URI": server.uri, "NEO4J_USERNAME": server.user, "NEO4J_PASSWORD": server.password,
                    "NEO4J_DATABASE": database})
    count = itertools.count()

    def make(**extra: str) -> dict[str, str]:
        # Each process its own folder (the outbox lives beside DIONYSUS_DB_PATH); on SQLite
        # they share the one file.
        folder = tmp_path / f"p{next(count)}"
        folder.mkdir()
        db = tmp_path / "shared.db" if request.param == "sqlite" else folder / "unused.db"
        return {**env, "DIONYSUS_DB_PATH": str(db), **extra}

    return make


@pytest.fixture
def llm():
    """A loopback model that answers two calls, then holds the rest until released."""
    model = LoopbackLLM(answer=2).start()
    yield model
    model.stop()


def stdio(env: dict[str, str]) -> Client:
    return Client(StdioServerParameters(command=sys.executable, args=["-m", "dionysus_mcp", "serve"], env=env))


async def call(client: Client, tool: str, args: dict) -> dict:
    result = await client.call_tool(tool, args)
    assert not result.is_error, f"{tool}: {[getattr(c, 'text', c) for c in result.content]}"
    return result.structured_content


async def activation(client: Client, name: str) -> float:
    return next(b["activation"] for b in (await call(client, "list_basins", {}))["basins"] if b["name"] == name)


def serial(times: int, strength: float) -> float:
    return 1 - (1 - strength) ** times


async def test_two_processes_activating_one_basin_lose_nothing_and_recall_agrees(store_env):
    env = store_env()
    async with stdio(env) as one, stdio(store_env()) as two:
        await call(one, "upsert_basin", {"name": "hub"})

        async def hundred(client: Client) -> None:
            async with anyio.create_task_group() as tasks:
                for _ in range(100):
                    tasks.start_soon(call, client, "activate_basin", {"basin": "hub", "strength": 0.01})

        async with anyio.create_task_group() as tasks:
            tasks.start_soon(hundred, one)
            tasks.start_soon(hundred, two)
        assert abs(await activation(two, "hub") - serial(200, 0.01)) <= 1e-3
        assert abs(await activation(one, "hub") - serial(200, 0.01)) <= 1e-3

        # An edit or a basin change on one process is what recall on the other finds.
        for name in ("exams", "sleep"):
            await call(one, "upsert_basin", {"name": name})
        memory = (await call(one, "remember", {"content": "revise chapter four on tuesday", "basins": ["exams"]}))["memory_id"]
        [hit] = (await call(two, "semantic_recall", {"query": "chapter four"}))["hits"]
        assert (hit["memory_id"], hit["basins"]) == (memory, ["exams"])
        await call(one, "update_memory", {"memory_id": memory, "content": "revise chapter nine on friday", "basins": ["sleep"]})
        hits = (await call(two, "semantic_recall", {"query": "chapter nine friday"}))["hits"]
        assert (hits[0]["memory_id"], hits[0]["content"], hits[0]["basins"]) == (memory, "revise chapter nine on friday", ["sleep"])
        assert all(h["lexical"] == 0 for h in (await call(two, "semantic_recall", {"query": "tuesday"}))["hits"])
        assert (await call(one, "delete_basin", {"name": "sleep"}))["memories_detached"] == 1
        hits = (await call(two, "semantic_recall", {"query": "chapter nine friday"}))["hits"]
        assert (hits[0]["memory_id"], hits[0]["basins"]) == (memory, [])


async def cancel_while_releasing(llm: LoopbackLLM, client: Client, trace_id: str) -> tuple[dict, float]:
    """cancel_run on `client`, letting held model calls answer meanwhile (agents stop at a step
    boundary); returns its result and how long it took."""
    started = time.monotonic()
    result: dict = {}

    async def cancel() -> None:
        result.update(await call(client, "cancel_run", {"trace_id": trace_id}))

    async with anyio.create_task_group() as tasks:
        tasks.start_soon(cancel)
        while not result:
            llm.release()
            await anyio.sleep(0.05)
    return result, time.monotonic() - started


async def test_cancel_run_on_another_process_stops_a_background_run(store_env, llm):
    async with stdio(store_env(**llm.env())) as owner, stdio(store_env(**llm.env())) as other:
        trace_id = (await call(owner, "run_ooda_cycle", {"context": "Too many tabs open.", "wait": False}))["trace_id"]
        await anyio.to_thread.run_sync(llm.held.wait, WAIT_S)
        assert (await call(other, "get_trace", {"trace_id": trace_id}))["status"] == "running"
        result, took = await cancel_while_releasing(llm, other, trace_id)
        assert result["status"] == "cancelled" and took <= 5.0, (result, took)
        trace = await call(owner, "get_trace", {"trace_id": trace_id, "detail": "full"})
        assert trace["status"] == "cancelled" and trace["steps"][0]["step_type"] == "task"
        assert (await call(other, "list_traces", {"status": "running"}))["traces"] == []


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@asynccontextmanager
async def replicas(envs: list[dict[str, str]], logs):
    """`dionysus-mcp serve --transport http` per environment, each logging to a file in `logs`
    (never a pipe nobody reads: a full pipe would block a replica); yields their base URLs and
    processes. Python's fault handler is on in each: SIGABRT makes a replica write every
    thread's stack to its log (what a test asks of one that is stuck)."""
    procs, urls = [], []
    try:
        for i, env in enumerate(envs):
            port = free_port()
            log = open(logs / f"replica-{i}.log", "wb")
            procs.append(subprocess.Popen([sys.executable, "-m", "dionysus_mcp", "serve", "--transport", "http", "--port", str(port)],
                                          env={**env, "PYTHONFAULTHANDLER": "1"}, stdout=log, stderr=subprocess.STDOUT))
            urls.append(f"http://127.0.0.1:{port}")
        async with httpx.AsyncClient() as http:
            for proc, url in zip(procs, urls):
                with anyio.fail_after(60):
                    while True:
                        assert proc.poll() is None, "a replica did not start (its log is in the test's folder)"
                        try:
                            if (await http.get(url + "/health", timeout=1)).status_code == 200:
                                break
                        except httpx.HTTPError:
                            pass
                        await anyio.sleep(0.2)
        yield urls, procs
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(20)


def logs_of(folder) -> str:
    """The replicas' logs without their access lines (what a failure needs: the runs, the
    cancels, the warnings), the end of each."""
    def told(log) -> str:
        noise = ("uvicorn.access", "streamable_http_manager")
        lines = [line for line in log.read_text(errors="replace").splitlines() if not any(n in line for n in noise)]
        return "\n".join(lines)[-12000:]

    return "\n".join(f"--- {log.name}\n{told(log)}" for log in sorted(folder.glob("replica-*.log")))


@pytest.mark.bolt
async def test_three_http_replicas_on_one_bolt_database(bolt_server, neo4j_database, tmp_path, llm):
    """Round-robin, request by request, as a load balancer would send them: an OODA cycle with
    wait=false lands on one replica; reads, followers and the cancel on the others; concurrent
    activations on all — half of them from one client behind a reverse proxy that sends each
    HTTP request to the next replica (a 2026-era client needs no session affinity). Nothing is
    lost, nothing stays running."""
    base = {**os.environ, "DIONYSUS_LOG_LEVEL": "INFO", "DIONYSUS_BASIN_HALF_LIFE": FOREVER, **llm.env(),
            "NEO4J_URI": bolt_server.uri, "NEO4J_USERNAME": bolt_server.user, "NEO4J_PASSWORD": bolt_server.password,
            "NEO4J_DATABASE": neo4j_database}
    envs = []
    for i in range(3):
        (tmp_path / f"r{i}").mkdir()
        envs.append({**base, "DIONYSUS_DB_PATH": str(tmp_path / f"r{i}" / "unused.db")})
    async with replicas(envs, tmp_path) as (bases, procs), round_robin(bases) as (proxied, proxy), AsyncExitStack() as stack:
        urls = [base + "/mcp" for base in bases]
        clients = [await stack.enter_async_context(Client(url)) for url in urls]
        behind_proxy = await stack.enter_async_context(Client(proxied + "/mcp"))
        turn = itertools.cycle(range(3))

        def next_replica() -> int:
            return next(turn)

        await call(clients[next_replica()], "upsert_basin", {"name": "hub"})
        owner = next_replica()
        trace_id = (await call(clients[owner], "run_ooda_cycle", {"context": "A crowded inbox.", "wait": False}))["trace_id"]
        await anyio.to_thread.run_sync(llm.held.wait, WAIT_S)
        others = [i for i in range(3) if i != owner]
        for _ in range(4):  # reads land on every replica in turn
            replica = next_replica()
            assert (await call(clients[replica], "get_trace", {"trace_id": trace_id}))["status"] == "running"
        assert [t["id"] for t in (await call(clients[next_replica()], "list_traces", {"status": "running", "roots_only": True}))["traces"]] == [trace_id]

        # Followers on the other replicas hear the run end (those replicas check the store):
        # a 2026-era listen stream on one, a handshake-era resources/subscribe on the other.
        uri = f"trace://{trace_id}"
        send, heard = anyio.create_memory_object_stream[str](1000)

        async def on_message(message) -> None:
            if isinstance(message, types.ResourceUpdatedNotification):
                await send.send(str(message.params.uri))

        legacy = await stack.enter_async_context(Client(urls[others[1]], mode="legacy", message_handler=on_message))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # resources/subscribe is the handshake era's way
            await legacy.subscribe_resource(uri)
        listener = clients[others[1]]
        async with listener.listen(resource_subscriptions=[uri]) as updates:
            async with anyio.create_task_group() as tasks:  # 90 activations spread over all three
                for i in range(90):
                    client = behind_proxy if i % 2 else clients[next_replica()]
                    tasks.start_soon(call, client, "activate_basin", {"basin": "hub", "strength": 0.01})
            result, took = await cancel_while_releasing(llm, clients[others[0]], trace_id)
            if result["status"] != "cancelled":  # where is the owner stuck? its threads' stacks
                procs[owner].send_signal(signal.SIGABRT)
                await anyio.to_thread.run_sync(procs[owner].wait, 20)
                print(logs_of(tmp_path))
            assert result["status"] == "cancelled" and took <= 5.0, (result, took, owner, logs_of(tmp_path))
            with anyio.fail_after(10):
                async for event in updates:
                    if event.uri == uri and (await call(listener, "get_trace", {"trace_id": trace_id}))["status"] != "running":
                        break
        with anyio.fail_after(10):  # read when told, until a notification told of the end
            while await heard.receive() != uri or (await call(legacy, "get_trace", {"trace_id": trace_id}))["status"] == "running":
                pass

        assert {index for index, method in proxy.served if method == "POST"} == {0, 1, 2}
        for i in range(3):
            assert abs(await activation(clients[i], "hub") - serial(90, 0.01)) <= 1e-3
            assert (await call(clients[i], "list_traces", {"status": "running"}))["traces"] == []
            assert (await call(clients[i], "get_trace", {"trace_id": trace_id}))["status"] == "cancelled"

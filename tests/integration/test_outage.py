"""A store outage during an agent run loses nothing and duplicates nothing.

The Neo4j store runs on a real Bolt server of this module's own (the session's is shared by
the other test files, which must not see it stop). A heartbeat is started through the
runner; from its progress callback (after step N) the Bolt server is stopped. The run must still
finish (its trace writes go to the durable outbox; its tools see errors). Once the server is back
on the same ports with the same data, the outbox is delivered — by `flush()`, by a fresh runtime's
start, or by the run's own later writes — and Cypher must find every step exactly once and the
trace closed with its outcome.

Every test here leaves the module's server running, also when it fails.
"""

from __future__ import annotations

import re
import time

import anyio
import pytest
from smolagents.memory import ActionStep

from agents.demo import seed_if_empty
from agents.runner import run_heartbeat
from dionysus_mcp.config import Settings
from dionysus_mcp.runtime import open_runtime
from dionysus_mcp.traces import RETRY_EVERY_S
from schema.trace_writes import from_outbox
from tests.conftest import own_bolt_server
from tests.helpers import Runs, SteppedClock, settings_env

PROGRESS = re.compile(r"^HeartbeatAgent(?:: plan before step (?P<plan>\d+)| step (?P<action>\d+): .*|(?P<final>: final answer))$")


@pytest.fixture(scope="module")
def bolt_server(bolt_runtime, tmp_path_factory):
    """This module's own server (overrides the session's): its tests stop and freeze it."""
    with own_bolt_server(bolt_runtime, tmp_path_factory.mktemp("outage-bolt-server")) as server:
        yield server


@pytest.fixture
def settings(bolt_server, neo4j_database, tmp_path) -> Settings:
    return Settings.from_env({**settings_env(),
        "NEO4J_URI": bolt_server.uri,
        "NEO4J_USERNAME": bolt_server.user,
        "NEO4J_PASSWORD": bolt_server.password,
        "NEO4J_DATABASE": neo4j_database,
        "DIONYSUS_DB_PATH": str(tmp_path / "local.db"),  # the outbox lives beside it
    })


class Steps:
    """The steps the run reported through progress (an independent account of what ran), with
    hooks at chosen progress counts."""

    def __init__(self, hooks):
        self.hooks = hooks  # {n-th message: async fn}
        self.keys: list[tuple[int, str]] = [(0, "task")]
        self.last_action = 0

    async def __call__(self, value, total, message):
        m = PROGRESS.match(message)
        assert m, message
        if m["plan"]:
            self.keys.append((int(m["plan"]), "planning"))
        elif m["action"]:
            self.last_action = int(m["action"])
            self.keys.append((self.last_action, "action"))
        else:
            self.keys.append((self.last_action, "final_answer"))
        hook = self.hooks.get(len(self.keys) - 1)
        if hook is not None:
            await hook()


def assert_exactly_once(cypher, trace_id: str, expected: list[tuple[int, str]], status: str) -> None:
    [trace] = cypher(
        "MATCH (t:AgentExecutionTrace {id: $id}) RETURN t.status AS status, t.completed_at AS completed_at, "
        "t.step_count AS step_count, count(*) AS n",
        id=trace_id,
    )
    assert (trace["n"], trace["status"]) == (1, status) and trace["completed_at"]
    assert trace["step_count"] == len(expected)

    by_id = cypher(
        "MATCH (s:AgentExecutionStep {trace_id: $id}) RETURN s.id AS id, count(*) AS n ORDER BY id", id=trace_id
    )
    assert sorted(r["id"] for r in by_id) == sorted(f"{trace_id}:{t}:{n}" for n, t in expected)
    assert all(r["n"] == 1 for r in by_id), [r for r in by_id if r["n"] != 1]

    by_key = cypher(
        "MATCH (s:AgentExecutionStep {trace_id: $id}) "
        "RETURN s.step_number AS number, s.step_type AS type, count(*) AS n",
        id=trace_id,
    )
    assert sorted((r["number"], r["type"]) for r in by_key) == sorted(expected)
    assert all(r["n"] == 1 for r in by_key)

    # One HAS_STEP per step, from this trace, and no other node claims these steps.
    has = cypher(
        "MATCH (t:AgentExecutionTrace)-[h:HAS_STEP]->(s:AgentExecutionStep {trace_id: $id}) "
        "RETURN s.id AS id, t.id AS trace, count(h) AS n",
        id=trace_id,
    )
    assert len(has) == len(expected) and all(r["n"] == 1 and r["trace"] == trace_id for r in has)

    links = cypher(
        "MATCH (:AgentExecutionTrace {id: $id})-[r:ACTIVATED_BASIN]->(b:AttractorBasin) "
        "RETURN b.id AS basin, r.at_step AS at_step, count(r) AS n",
        id=trace_id,
    )
    assert all(r["n"] == 1 for r in links)


async def test_a_stopped_store_mid_run_loses_no_step_and_duplicates_none(settings, bolt_server, cypher):
    async def stop():
        await anyio.to_thread.run_sync(bolt_server.stop)

    runs, steps = Runs(), Steps({5: stop})  # after plan 1 and steps 1-3 reported, before plan 4 is stored
    async with open_runtime(settings) as runtime:
        await seed_if_empty(runtime)
        with anyio.fail_after(120):
            result = await run_heartbeat(runtime, steps, observers=[runs])
        assert not bolt_server.is_running()
        # The run finished although its store was gone for most of it.
        assert result.status in ("success", "max_steps") and result.coherence_status == "store_unavailable"
        trace_id = result.trace_id
        assert trace_id == runs.started[0].trace_id
        queued = runtime.outbox.pending()
        assert queued and queued[-1][1] == "complete"
        assert {op for _, op, _ in queued} <= {"step", "complete", "link_basin"}
        # The outage is visible in the run's own record: its tools failed.
        actions = [s for s in runs.started[0].agent.memory.steps if isinstance(s, ActionStep)]
        assert any("unreachable" in f"{s.observations} {s.error}" for s in actions)

        # Back on the same ports with the same data; deliver the queue.
        await anyio.to_thread.run_sync(bolt_server.start)
        delivered = await runtime.traces.flush()
        assert delivered == {"delivered": len(queued), "set_aside": 0, "pending": 0}
        assert_exactly_once(cypher, trace_id, steps.keys, result.status)

        # Delivered again (a crash between a write and its removal from the queue): still once.
        for _, op, payload in queued:
            runtime.outbox.put(from_outbox(op, payload))
        assert (await runtime.traces.flush())["pending"] == 0
        assert_exactly_once(cypher, trace_id, steps.keys, result.status)

    # A fresh start finds nothing left to deliver, and reads the run back whole.
    async with open_runtime(settings) as fresh:
        assert fresh.outbox.count() == 0
        detail = await fresh.traces.get_trace(trace_id)
        assert [(s.step_number, s.step_type) for s in detail.steps] == steps.keys
        assert detail.status == result.status and detail.tokens.input_tokens == result.tokens.prompt_tokens


async def test_queued_writes_are_delivered_at_the_next_start(settings, bolt_server, cypher):
    async def stop():
        await anyio.to_thread.run_sync(bolt_server.stop)

    runs, steps = Runs(), Steps({2: stop})  # right after the first action step was reported
    async with open_runtime(settings) as runtime:
        await seed_if_empty(runtime)
        with anyio.fail_after(120):
            result = await run_heartbeat(runtime, steps, observers=[runs])
        queued = runtime.outbox.count()
    assert queued > 0  # the runtime closed with its queue undelivered (the store is still down)

    await anyio.to_thread.run_sync(bolt_server.start)
    async with open_runtime(settings) as fresh:  # Runtime.start delivers the outbox
        assert fresh.outbox.count() == 0
    assert_exactly_once(cypher, result.trace_id, steps.keys, result.status)


async def test_a_store_back_mid_run_gets_the_queue_from_the_run_itself(settings, bolt_server, cypher):
    async def stop():
        await anyio.to_thread.run_sync(bolt_server.stop)

    queued_while_down: list[int] = []

    async def back():
        # The writes of the steps since the stop reach the outbox once their (refused) store
        # call has failed; under load that can lag the agent by a few steps.
        with anyio.fail_after(60):
            while not runtime.outbox.count():
                await anyio.sleep(0.05)
        queued_while_down.append(runtime.outbox.count())
        # The writer's clock is held (SteppedClock): nothing retries the store until it is up.
        await anyio.to_thread.run_sync(bolt_server.start)
        clock.skip(RETRY_EVERY_S)  # past the retry interval: the next write retries

    runs, steps, clock = Runs(), Steps({3: stop, 8: back}), SteppedClock()
    async with open_runtime(settings, clock=clock) as runtime:
        await seed_if_empty(runtime)
        with anyio.fail_after(120):
            result = await run_heartbeat(runtime, steps, observers=[runs])
        # No flush: the run's own writes after the server came back delivered the queue first.
        assert queued_while_down[0] > 0 and runtime.outbox.count() == 0
        assert result.coherence_status != "store_unavailable"
    assert_exactly_once(cypher, result.trace_id, steps.keys, result.status)


async def test_a_frozen_store_is_reported_unavailable_within_the_timeout(bolt_server, neo4j_store_factory):
    """A server that accepts connections but never answers (SIGSTOP) must not hang a call."""
    import os
    import signal
    import time

    from dionysus_mcp.store.base import StoreUnavailable

    store = await neo4j_store_factory(transaction_timeout=1.0)
    await store.basins.list()  # a pooled connection now exists
    os.kill(bolt_server.pid, signal.SIGSTOP)
    try:
        # On a loaded machine the stop lands a moment later: wait until every JVM thread is.
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not all_threads_stopped(bolt_server.pid):
            time.sleep(0.01)
        assert all_threads_stopped(bolt_server.pid)
        # Either the transaction deadline or the driver's own connect timeout may fire first;
        # what matters is that the call ends, reported as unavailable, instead of hanging (the
        # outer limit is generous: it only turns a hang into a failure).
        with anyio.fail_after(60), pytest.raises(StoreUnavailable):
            await store.basins.list()
    finally:
        os.kill(bolt_server.pid, signal.SIGCONT)
    assert await store.basins.list() == []  # and it recovers once the server answers again


def all_threads_stopped(pid: int) -> bool:
    from pathlib import Path

    states = []
    for stat in Path(f"/proc/{pid}/task").glob("*/stat"):
        try:
            states.append(stat.read_text().rsplit(")", 1)[1].split()[0])
        except OSError:  # a thread that just ended
            continue
    return bool(states) and all(state in "tT" for state in states)

"""The outbox file itself (dionysus_mcp/store/outbox.py): a real SQLite file, used the way the
trace service uses it — from the event loop and from worker threads, closed and reopened."""

from __future__ import annotations

import anyio.to_thread

from dionysus_mcp.store.outbox import Outbox
from schema.models import StepRecord, TraceRecord, utcnow
from schema.trace_writes import AddStep, CreateTrace, from_outbox


def create(trace_id: str) -> CreateTrace:
    return CreateTrace(trace=TraceRecord(id=trace_id, run_id="r", agent_name="a", started_at=utcnow()))


def step(step_id: str) -> AddStep:
    return AddStep(step=StepRecord(id=step_id, trace_id="t1", step_number=1, step_type="action"))


def ids(pending) -> list[tuple[str, str]]:
    out = []
    for _, op, payload in pending:
        write = from_outbox(op, payload)
        out.append((op, write.trace.id if isinstance(write, CreateTrace) else write.step.id))
    return out


async def test_a_fresh_outbox_is_empty_without_creating_its_file(tmp_path):
    outbox = Outbox(tmp_path / "not" / "yet" / "outbox.db")
    assert outbox.count() == 0 and outbox.pending() == []
    assert not outbox.path.exists()


async def test_queue_in_folders_that_do_not_exist_yet_from_any_thread_and_after_close(tmp_path):
    outbox = Outbox(tmp_path / "a" / "b" / "outbox.db")
    outbox.put(create("t1"))
    await anyio.to_thread.run_sync(outbox.put, step("s1"))  # a worker thread
    assert await anyio.to_thread.run_sync(outbox.count) == 2
    outbox.close()
    outbox.put(step("s2"))  # reopens
    pending = outbox.pending()
    assert ids(pending) == [("create", "t1"), ("step", "s1"), ("step", "s2")]
    first = pending[0][0]
    outbox.done(first)
    outbox.set_aside(pending[1][0], "refused")
    assert ids(outbox.pending()) == [("step", "s2")] and outbox.count() == 1
    outbox.close()
    outbox.close()  # twice is fine

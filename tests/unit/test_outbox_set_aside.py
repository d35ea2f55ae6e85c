"""The outbox's set-aside rule, on a real SQLite store that really refuses a write.

A write the store refuses is kept queued (a server still starting up refuses too) and tried
again on each delivery; only on its third refusal is it set aside, so that it cannot block the
writes queued behind it. The refusal comes from the store itself: a trigger on the traces
table aborts the insert of one trace id, which SQLite reports as a constraint violation.
"""

from __future__ import annotations

import sqlite3

from schema.models import TraceRecord
from schema.trace_writes import CreateTrace
from tests.helpers import queue_old_outbox_row


def refuse_trace(db_path) -> None:
    """From now on the store refuses to insert the trace 'trace-refused' (DDL takes no parameters)."""
    with sqlite3.connect(db_path) as db:
        db.execute(
            "CREATE TRIGGER refuse_one_trace BEFORE INSERT ON traces WHEN NEW.id = 'trace-refused'"
            " BEGIN SELECT RAISE(ABORT, 'refused by a test trigger'); END"
        )


def set_aside_rows(outbox_path) -> list[tuple[str, str]]:
    with sqlite3.connect(outbox_path) as db:
        return db.execute("SELECT op, error FROM set_aside").fetchall()


def queue(runtime, trace_id: str) -> None:
    record = TraceRecord(id=trace_id, run_id="r", agent_name="HeartbeatAgent", started_at=runtime.traces.clock())
    runtime.outbox.put(CreateTrace(trace=record))


async def test_a_refused_write_is_set_aside_on_its_third_refusal_not_before(runtime, settings):
    refuse_trace(settings.db_path)
    queue(runtime, "trace-refused")
    queue(runtime, "trace-behind")

    # Refusals one and two: kept queued, in order, and the write behind it waits.
    for _ in range(2):
        assert await runtime.traces.flush() == {"delivered": 0, "set_aside": 0, "pending": 2}
        assert set_aside_rows(runtime.outbox.path) == []
        assert await runtime.store.traces.get("trace-behind") is None

    # Refusal three: set aside with the store's reason, and the queue moves on.
    assert await runtime.traces.flush() == {"delivered": 1, "set_aside": 1, "pending": 0}
    [(op, error)] = set_aside_rows(runtime.outbox.path)
    assert op == "create" and "refused by a test trigger" in error
    assert (await runtime.traces.get_trace("trace-behind")).agent_name == "HeartbeatAgent"
    assert await runtime.store.traces.get("trace-refused") is None


async def test_a_write_refused_then_accepted_is_delivered_not_set_aside(runtime, settings):
    refuse_trace(settings.db_path)
    queue(runtime, "trace-refused")
    for _ in range(2):
        assert (await runtime.traces.flush())["pending"] == 1
    with sqlite3.connect(settings.db_path) as db:  # the store comes round before the third try
        db.execute("DROP TRIGGER refuse_one_trace")
    assert await runtime.traces.flush() == {"delivered": 1, "set_aside": 0, "pending": 0}
    assert set_aside_rows(runtime.outbox.path) == []
    assert (await runtime.traces.get_trace("trace-refused")).id == "trace-refused"


async def test_a_queued_operation_this_version_does_not_know_is_set_aside_at_once_with_why(runtime):
    queue_old_outbox_row(runtime.outbox, "not_an_operation", {})
    assert await runtime.traces.flush() == {"delivered": 0, "set_aside": 1, "pending": 0}
    assert set_aside_rows(runtime.outbox.path) == [("not_an_operation", "unknown outbox operation 'not_an_operation'")]

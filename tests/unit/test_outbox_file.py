"""The outbox file itself (dionysus_mcp/store/outbox.py): a real SQLite file, used the way the
trace service uses it — from the event loop and from worker threads, closed and reopened."""

from __future__ import annotations

import anyio.to_thread

from dionysus_mcp.store.outbox import Outbox


async def test_a_fresh_outbox_is_empty_without_creating_its_file(tmp_path):
    outbox = Outbox(tmp_path / "not" / "yet" / "outbox.db")
    assert outbox.count() == 0 and outbox.pending() == []
    assert not outbox.path.exists()


async def test_queue_in_folders_that_do_not_exist_yet_from_any_thread_and_after_close(tmp_path):
    outbox = Outbox(tmp_path / "a" / "b" / "outbox.db")
    outbox.put("create_trace", {"id": "t1"})
    await anyio.to_thread.run_sync(outbox.put, "add_step", {"id": "s1"})  # a worker thread
    assert await anyio.to_thread.run_sync(outbox.count) == 2
    outbox.close()
    outbox.put("add_step", {"id": "s2"})  # reopens
    pending = outbox.pending()
    assert [(op, payload["id"]) for _, op, payload in pending] == [("create_trace", "t1"), ("add_step", "s1"), ("add_step", "s2")]
    first = pending[0][0]
    outbox.done(first)
    outbox.set_aside(pending[1][0], "refused")
    assert [payload["id"] for _, _, payload in outbox.pending()] == ["s2"] and outbox.count() == 1
    outbox.close()
    outbox.close()  # twice is fine

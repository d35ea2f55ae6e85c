"""Contract: a batch of trace writes (`store.traces.write`, one transaction per drain of the
write-behind queue) stores exactly what the same writes made one by one store."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from dionysus_mcp.store.base import Store, StoreError
from schema.models import TraceBasinLink
from schema.trace_writes import AddStep, CompleteTrace, CreateTrace, LinkTraceBasin, TraceWrite
from tests.contract.builders import basin, step, trace, ts


def writes(prefix: str) -> list[TraceWrite]:
    parent, child = f"{prefix}-root", f"{prefix}-child"
    return [
        # The child first: a replayed queue may deliver it before its parent.
        CreateTrace(trace=trace(child, ts(2), parent_id=parent, parent_step=1)),
        CreateTrace(trace=trace(parent, ts(1))),
        *[AddStep(step=step(parent, n, observations=f"seen {n}")) for n in (1, 2)],
        AddStep(step=step(child, 1)),
        LinkTraceBasin(link=TraceBasinLink(trace_id=parent, basin_id="b-focus", basin_name="focus", strength=0.5, at_step=1)),
        CompleteTrace(trace_id=child, status="success", completed_at=ts(3), summary="child done", totals={"step_count": 1}),
        CompleteTrace(trace_id=parent, status="success", completed_at=ts(4), summary="done",
                      totals={"step_count": 2, "input_tokens": 7}),
    ]


async def stored(store: Store, prefix: str) -> tuple:
    root = f"{prefix}-root"
    parent = (await store.traces.get(root)).model_copy(update={"id": "root"})
    children = [c.model_copy(update={"id": "child", "parent_id": "root"}) for c in await store.traces.children(root)]
    steps = [s.model_dump(exclude={"id", "trace_id"}) for s in await store.traces.steps(root)]
    basins = [(b.basin_id, b.strength, b.at_step) for b in await store.traces.basins(root)]
    return parent.model_dump(exclude={"run_id"}), [c.model_dump(exclude={"run_id"}) for c in children], steps, basins


async def test_a_batch_stores_what_single_writes_store(store: Store):
    await store.basins.upsert(basin("focus"))
    await store.traces.write(writes("batch"))
    for write in writes("single"):
        await store.traces.write([write])
    batch, single = await stored(store, "batch"), await stored(store, "single")
    assert batch == single
    assert batch[0]["status"] == "success" and batch[0]["step_count"] == 2 and len(batch[1]) == 1
    assert [s["observations"] for s in batch[2]] == ["seen 1", "seen 2"] and batch[3] == [("b-focus", 0.5, 1)]
    await store.traces.write(writes("batch"))  # idempotent, like every trace write
    assert await stored(store, "batch") == batch


async def test_a_batch_refuses_an_unknown_write(store: Store):
    with pytest.raises(StoreError):
        await store.traces.write([SimpleNamespace(kind="drop_everything")])

"""Contract: deleting traces takes their steps, basin activations and every delegated sub-run
below them (a child written before its parent included), atomically, on every backend."""

from __future__ import annotations

from dionysus_mcp.store.base import Store
from schema.models import TraceBasinLink, TraceFilter
from tests.contract.builders import basin, step, trace, ts
from schema.trace_writes import AddStep, CreateTrace, LinkTraceBasin


async def _family(store: Store, root: str, at: float) -> None:
    await store.traces.write([CreateTrace(trace=trace(root, ts(at), agent_name="ConsciousnessManager"))])
    await store.traces.write([CreateTrace(trace=trace(f"{root}-child", ts(at + 1), agent_name="perception", parent_id=root, parent_step=1))])
    await store.traces.write([CreateTrace(trace=trace(f"{root}-grandchild", ts(at + 2), agent_name="tool", parent_id=f"{root}-child"))])
    for tid in (root, f"{root}-child", f"{root}-grandchild"):
        await store.traces.write([AddStep(step=step(tid, 1))])
        await store.traces.write([AddStep(step=step(tid, 2, "final_answer"))])


async def test_delete_traces_takes_sub_runs_steps_and_activations(store: Store):
    await store.basins.upsert(basin("focus"))
    await _family(store, "r1", 0)
    await _family(store, "r2", 10)
    await store.traces.write([LinkTraceBasin(link=TraceBasinLink(trace_id="r1-child", basin_id="b-focus", basin_name="focus", strength=0.4, at_step=1))])

    assert await store.traces.delete(["r1", "unknown"]) == {"traces": 3, "steps": 6}
    remaining = await store.traces.list(TraceFilter(), 50)
    assert sorted(t.id for t in remaining) == ["r2", "r2-child", "r2-grandchild"]
    for tid in ("r1", "r1-child", "r1-grandchild"):
        assert await store.traces.get(tid) is None and await store.traces.steps(tid) == []
    assert await store.traces.basins("r1-child") == []
    assert await store.basins.get("focus") is not None
    assert len(await store.traces.steps("r2-child")) == 2
    assert await store.traces.delete(["r1"]) == {"traces": 0, "steps": 0}
    assert await store.traces.delete([]) == {"traces": 0, "steps": 0}


async def test_deleting_a_sub_run_leaves_its_parent(store: Store):
    await _family(store, "r1", 0)
    assert await store.traces.delete(["r1-child"]) == {"traces": 2, "steps": 4}
    assert await store.traces.get("r1") is not None
    assert await store.traces.children("r1") == []
    assert await store.traces.count() == 1

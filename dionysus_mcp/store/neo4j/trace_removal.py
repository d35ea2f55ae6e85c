"""Deleting execution traces on Neo4j: a trace goes with its steps, its basin activations and
every delegated sub-run below it (kept apart from traces.py, which holds the writes and reads of
traces; `Neo4jTraces.delete` calls it).

Sub-runs are found level by level through the indexed `parent_id` property rather than a
variable-length DELEGATED_TO pattern: a child written before its parent (an outbox replay) has
the property before it has the relationship.
"""

from __future__ import annotations

from typing import Any

from .connection import Neo4jConnection, _fetch

_CHILD_IDS = "MATCH (t:AgentExecutionTrace) WHERE t.parent_id IN $ids RETURN t.id AS id"

_DELETE_STEPS = """
MATCH (s:AgentExecutionStep) WHERE s.trace_id IN $ids
DETACH DELETE s
RETURN count(*) AS n
"""

_DELETE_TRACES = """
MATCH (t:AgentExecutionTrace) WHERE t.id IN $ids
DETACH DELETE t
RETURN count(*) AS n
"""

MAX_DEPTH = 50  # delegation is a few levels deep; a parent_id cycle must not loop forever


async def delete_traces(db: Neo4jConnection, trace_ids: list[str]) -> dict[str, int]:
    """Delete the traces with their sub-runs, steps and basin activations, atomically.
    Returns {"traces": n, "steps": n} actually removed; unknown ids are ignored."""
    if not trace_ids:
        return {"traces": 0, "steps": 0}

    async def work(tx: Any) -> dict[str, int]:
        doomed: set[str] = set(trace_ids)
        frontier = list(doomed)
        for _ in range(MAX_DEPTH):
            children = {r["id"] for r in await _fetch(tx, _CHILD_IDS, {"ids": frontier})} - doomed
            if not children:
                break
            doomed |= children
            frontier = sorted(children)
        ids = sorted(doomed)
        steps = await _fetch(tx, _DELETE_STEPS, {"ids": ids})
        traces = await _fetch(tx, _DELETE_TRACES, {"ids": ids})
        return {"traces": int(traces[0]["n"]) if traces else 0, "steps": int(steps[0]["n"]) if steps else 0}

    return await db._write_fn(work)

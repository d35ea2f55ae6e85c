"""Trace writes as SQL statements: one builder per kind of `schema.trace_writes.TraceWrite`,
chosen by `statements` with one `match`; a batch of writes is one transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from schema.models import StepRecord, TraceBasinLink, TraceOwner, TraceRecord, TraceStatus, to_iso
from schema.trace_writes import AddStep, CompleteTrace, CreateTrace, LinkTraceBasin, SetTraceOwner, TraceWrite

from dionysus_mcp.store.base import StoreError

from dionysus_mcp.store.records import TOTAL_KEYS, dumps_sorted, encode_tool_calls, given_totals

TRACE_COLS = (
    "id, run_id, agent_name, parent_id, parent_step, model, task, status, summary, error, started_at,"
    " completed_at, input_tokens, output_tokens, pruned_tokens_saved, step_count, metadata"
)
STEP_FIELDS = (
    "id", "trace_id", "step_number", "step_type", "started_at", "completed_at", "duration_ms",
    "model_output", "code_action", "tool_calls", "observations", "plan", "error", "final_answer",
    "input_tokens", "output_tokens", "unpruned_input_tokens",
)
STEP_COLS = ", ".join(STEP_FIELDS)
UPSERT_STEP = (
    f"INSERT INTO trace_steps ({STEP_COLS}) VALUES ({', '.join('?' for _ in STEP_FIELDS)})"
    " ON CONFLICT(id) DO UPDATE SET "
    + ", ".join(f"{f} = excluded.{f}" for f in STEP_FIELDS if f != "id")
)

def create_trace_sql(trace: TraceRecord) -> tuple[str, tuple[Any, ...]]:
    params = (
        trace.id,
        trace.run_id,
        trace.agent_name,
        trace.parent_id,
        trace.parent_step,
        trace.model,
        trace.task,
        trace.status,
        trace.summary,
        trace.error,
        to_iso(trace.started_at),
        to_iso(trace.completed_at),
        int(trace.input_tokens),
        int(trace.output_tokens),
        int(trace.pruned_tokens_saved),
        int(trace.step_count),
        dumps_sorted(trace.metadata),
    )
    return (
        f"INSERT INTO traces ({TRACE_COLS}) VALUES ({', '.join('?' for _ in params)}) ON CONFLICT(id) DO NOTHING",
        params,
    )


def add_step_sql(step: StepRecord) -> tuple[str, tuple[Any, ...]]:
    return UPSERT_STEP, (
        step.id,
        step.trace_id,
        int(step.step_number),
        step.step_type,
        to_iso(step.started_at),
        to_iso(step.completed_at),
        None if step.duration_ms is None else float(step.duration_ms),
        step.model_output,
        step.code_action,
        encode_tool_calls(step.tool_calls),
        step.observations,
        step.plan,
        step.error,
        step.final_answer,
        int(step.input_tokens),
        int(step.output_tokens),
        int(step.unpruned_input_tokens),
    )


def complete_trace_sql(
    trace_id: str, status: TraceStatus, completed_at: datetime, summary: str | None, error: str | None, totals: dict[str, int]
) -> tuple[str, tuple[Any, ...]]:
    given = given_totals(totals)
    values = [given.get(k) for k in TOTAL_KEYS]  # None keeps the stored value (coalesce)
    return (
        "UPDATE traces SET status = ?, completed_at = ?, summary = ?, error = ?,"
        " input_tokens = coalesce(?, input_tokens), output_tokens = coalesce(?, output_tokens),"
        " pruned_tokens_saved = coalesce(?, pruned_tokens_saved), step_count = coalesce(?, step_count)"
        " WHERE id = ?",
        (status, to_iso(completed_at), summary, error, *values, trace_id),
    )


def link_trace_basin_sql(link: TraceBasinLink) -> tuple[str, tuple[Any, ...]]:
    # Stored only when both the trace and the basin exist (as a MATCH would); the same
    # (trace, basin, at_step) is stored once, its strength updated.
    return (
        "INSERT INTO trace_basins (trace_id, basin_id, at_step, strength)"
        " SELECT t.id, b.id, ?, ? FROM traces t, basins b WHERE t.id = ? AND b.id = ?"
        " ON CONFLICT(trace_id, basin_id, at_step) DO UPDATE SET strength = excluded.strength",
        (int(link.at_step), float(link.strength), link.trace_id, link.basin_id),
    )


def set_trace_owner_sql(trace_id: str, owner: TraceOwner) -> tuple[str, tuple[Any, ...]]:
    return (
        "INSERT INTO trace_owners (trace_id, host, pid, token, lease_until) VALUES (?, ?, ?, ?, ?)"
        " ON CONFLICT(trace_id) DO UPDATE SET host = excluded.host, pid = excluded.pid,"
        " token = excluded.token, lease_until = excluded.lease_until",
        (trace_id, owner.host, int(owner.pid), owner.token, to_iso(owner.lease_until)),
    )


def statements(write: TraceWrite) -> list[tuple[str, tuple[Any, ...]]]:
    """The statements of one trace write (a batch of them is one transaction)."""
    match write:
        case CreateTrace(trace=trace):
            return [create_trace_sql(trace)]
        case AddStep(step=step):
            return [add_step_sql(step)]
        case CompleteTrace():
            return [complete_trace_sql(write.trace_id, write.status, write.completed_at, write.summary, write.error, write.totals)]
        case LinkTraceBasin(link=link):
            return [link_trace_basin_sql(link)]
        case SetTraceOwner(trace_id=trace_id, owner=owner):
            return [set_trace_owner_sql(trace_id, owner)]
        case _:
            raise StoreError(f"not a trace write: {write!r}")

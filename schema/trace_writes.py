"""Trace writes as typed records: one discriminated union, the only way a trace is written.

The trace service builds these records (callbacks/trace.py asks it to, in the agent's thread),
batches them explicitly (`TraceService.write_batch`), and each store backend applies a batch
with one `match` over the union, in one transaction (`Traces.write`). The outbox keeps the
union's JSON, so a queued write reads back as the same record. Every write is idempotent
(create-if-absent, insert-or-replace by id, set), so a batch may be stored any number of times.

Outbox files written before these records existed hold (operation name, payload) rows in an
older shape: `from_outbox` still reads them, so a queue left by an older version drains.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, Field, TypeAdapter, ValidationError

from schema.models import StepRecord, TraceBasinLink, TraceOwner, TraceRecord, TraceStatus


class CreateTrace(BaseModel):
    """Insert the trace (and DELEGATED_TO from its parent when parent_id is set); a no-op when
    the id exists already."""

    kind: Literal["create"] = "create"
    trace: TraceRecord


class AddStep(BaseModel):
    """Insert or replace the step with this id (HAS_STEP {order: step_number})."""

    kind: Literal["step"] = "step"
    step: StepRecord


class CompleteTrace(BaseModel):
    """Close the trace with its outcome. `totals` holds input_tokens, output_tokens,
    pruned_tokens_saved, step_count; a missing one leaves the stored value alone. A no-op for
    an unknown id."""

    kind: Literal["complete"] = "complete"
    trace_id: str
    status: TraceStatus
    completed_at: datetime
    summary: str | None = None
    error: str | None = None
    totals: dict[str, int] = Field(default_factory=dict)


class LinkTraceBasin(BaseModel):
    """ACTIVATED_BASIN {strength, at_step}; the same (trace, basin, at_step) is stored once, and
    a link to a trace or basin that does not exist is ignored."""

    kind: Literal["link_basin"] = "link_basin"
    link: TraceBasinLink


class SetTraceOwner(BaseModel):
    """Record the process running the trace and its lease (replaces a previous owner)."""

    kind: Literal["set_owner"] = "set_owner"
    trace_id: str
    owner: TraceOwner


TraceWrite = Annotated[
    Union[CreateTrace, AddStep, CompleteTrace, LinkTraceBasin, SetTraceOwner], Field(discriminator="kind")
]
TRACE_WRITE: TypeAdapter[TraceWrite] = TypeAdapter(TraceWrite)
TRACE_WRITE_TYPES = (CreateTrace, AddStep, CompleteTrace, LinkTraceBasin, SetTraceOwner)

# The outbox rows of older versions: (operation name, payload in that operation's old shape).
_OLD_OUTBOX: dict[str, Any] = {
    "create_trace": lambda p: CreateTrace(trace=p),
    "add_step": lambda p: AddStep(step=p),
    "complete_trace": lambda p: CompleteTrace(**p),
    "link_trace_basin": lambda p: LinkTraceBasin(link=p),
    "set_trace_owner": lambda p: SetTraceOwner(**p),
}


def from_outbox(op: str, payload: str) -> TraceWrite:
    """The write an outbox row holds: the union's JSON, or a row of an older version. Raises
    ValueError for a row that is neither (a queue written by another version: set it aside,
    never guess)."""
    data = json.loads(payload)
    try:
        if isinstance(data, dict) and "kind" in data:
            return TRACE_WRITE.validate_python(data)
        if op not in _OLD_OUTBOX:
            raise ValueError(f"unknown outbox operation {op!r}")
        return _OLD_OUTBOX[op](data)
    except TypeError:
        raise ValueError(f"outbox {op!r} write is not a record: {payload[:80]!r}") from None
    except ValidationError as exc:
        raise ValueError(f"outbox {op!r} write does not fit its record: {exc.errors()[0]['msg']}") from None


__all__ = [
    "AddStep", "CompleteTrace", "CreateTrace", "LinkTraceBasin", "SetTraceOwner", "TRACE_WRITE",
    "TRACE_WRITE_TYPES", "TraceWrite", "from_outbox",
]

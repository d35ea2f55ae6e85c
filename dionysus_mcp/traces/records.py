"""Small pure helpers of the trace service: record conversion, step ids, totals, cursors, and the
store call each queued write stands for. No I/O here."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any, TypeVar

from pydantic import BaseModel

from dionysus_mcp.errors import InvalidInput
from schema.models import StepRecord, TraceBasinLink, TraceOwner, TraceRecord, from_iso, to_iso

M = TypeVar("M", bound=BaseModel)


def as_model(model: type[M], payload: BaseModel | dict[str, Any]) -> M:
    return payload if isinstance(payload, model) else model.model_validate(payload)


def jsonable(payload: BaseModel | dict[str, Any]) -> dict[str, Any]:
    return payload.model_dump(mode="json") if isinstance(payload, BaseModel) else payload


def as_utc(value: datetime | None) -> datetime | None:
    """A time without a zone is taken as UTC (what the stores keep), so mixed inputs compare."""
    return value.replace(tzinfo=timezone.utc) if value is not None and value.tzinfo is None else value


def step_totals(steps: Sequence[Any]) -> dict[str, int]:
    """A trace's totals from its steps (StepRecords, or anything with their token fields)."""
    return {
        "input_tokens": sum(s.input_tokens for s in steps),
        "output_tokens": sum(s.output_tokens for s in steps),
        "pruned_tokens_saved": sum(max(0, s.unpruned_input_tokens - s.input_tokens) for s in steps),
        "step_count": len(steps),
    }


def step_id(trace_id: str, step_type: str, step_number: int) -> str:
    return f"{trace_id}:{step_type}:{step_number}"


def encode_cursor(trace: TraceRecord) -> str:
    return base64.urlsafe_b64encode(f"{to_iso(trace.started_at)}|{trace.id}".encode()).decode()


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        started, trace_id = base64.urlsafe_b64decode(cursor.encode()).decode().split("|", 1)
        return from_iso(started), trace_id
    except Exception:
        raise InvalidInput("cursor is not one this server issued: pass next_cursor from a previous page") from None


def store_call(op: str, payload: BaseModel | dict[str, Any]) -> tuple[str, tuple[Any, ...]]:
    """The store method and arguments of one write (outbox op names are the method names)."""
    if op == "create_trace":
        return op, (as_model(TraceRecord, payload),)
    if op == "add_step":
        return op, (as_model(StepRecord, payload),)
    if op == "complete_trace":
        assert isinstance(payload, dict)
        return op, (
            payload["trace_id"], payload["status"], from_iso(payload["completed_at"]), payload["summary"],
            payload["error"], payload["totals"],
        )
    if op == "link_trace_basin":
        return op, (as_model(TraceBasinLink, payload),)
    if op == "set_trace_owner":
        assert isinstance(payload, dict)
        return op, (payload["trace_id"], TraceOwner.model_validate(payload["owner"]))
    # a queue written by another version: set it aside, do not guess
    raise ValueError(f"unknown outbox operation {op!r}")

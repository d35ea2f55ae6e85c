"""Trace cursors, step ids and a trace's totals: small pure helpers of the trace service. No I/O here."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any

from dionysus_mcp.errors import InvalidInput
from schema.models import TraceRecord, from_iso, to_iso


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

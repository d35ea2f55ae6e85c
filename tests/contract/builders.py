"""Record builders the contract modules share: one fixed instant and short ways to make basins,
traces and steps around it.

Timestamps carry microseconds on purpose: every backend must give them back exactly.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from schema.models import Basin, StepRecord, TraceRecord

UTC = timezone.utc
T0 = datetime(2026, 3, 4, 5, 6, 7, 123456, tzinfo=UTC)


def ts(seconds: float = 0, micro: int = 0) -> datetime:
    return T0 + timedelta(seconds=seconds, microseconds=micro)


def basin(name: str, bid: str | None = None, **kw) -> Basin:
    return Basin(id=bid or f"b-{name}", name=name, created_at=kw.pop("created_at", ts()), **kw)


def trace(tid: str, started: datetime, **kw) -> TraceRecord:
    kw.setdefault("run_id", f"run-{tid}")
    kw.setdefault("agent_name", "heartbeat")
    return TraceRecord(id=tid, started_at=started, **kw)


def step(trace_id: str, number: int, step_type: str = "action", **kw) -> StepRecord:
    return StepRecord(
        id=f"{trace_id}:{step_type}:{number}", trace_id=trace_id, step_number=number, step_type=step_type, **kw
    )

"""The records every store reads and writes.

Both backends take and return exactly these types, so the contract suite can compare them
field by field. Timestamps are timezone-aware UTC datetimes in Python; stores persist them as
fixed-width ISO-8601 strings (``2026-11-24T03:49:23.557647Z``), which sort lexicographically
in SQLite and in Cypher alike. Nested values (tool arguments, token usage) are JSON strings in
the stores and always come back decoded.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Literal

from pydantic import BaseModel, Field

# `interrupted`: the process that ran it is gone (killed, crashed, stopped mid-run): see
# dionysus_mcp/traces/lifecycle.py.
TraceStatus = Literal["running", "success", "max_steps", "error", "cancelled", "interrupted"]
TRACE_STATUSES: tuple[str, ...] = ("running", "success", "max_steps", "error", "cancelled", "interrupted")
StepType = Literal["task", "planning", "action", "final_answer"]


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def to_iso(value: datetime | None) -> str | None:
    """Fixed-width UTC ISO-8601, so string order is time order."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    # isoformat, not strftime: the C formatter, much faster on the per-step write path. Cut at
    # the offset ("+00:00") for the fixed 27 characters `from_iso` checks.
    return value.astimezone(timezone.utc).isoformat(timespec="microseconds")[:26] + "Z"


def from_iso(value: str | None) -> datetime | None:
    """Parse what `to_iso` wrote. `fromisoformat` is the C parser (far faster than
    strptime, which showed up in list profiles); the format check keeps it strict."""
    if value is None:
        return None
    if len(value) != 27 or value[10] != "T" or value[-1] != "Z":
        raise ValueError(f"not a timestamp written by to_iso: {value!r}")
    return datetime.fromisoformat(value)


# --- cognition -------------------------------------------------------------------------------


class Basin(BaseModel):
    """An attractor basin. `activation` is the value stored at `last_activated_at`; the
    activation now is derived by exponential decay (see dionysus_mcp.cognition.basins)."""

    id: str
    name: str
    description: str = ""
    keywords: list[str] = Field(default_factory=list)
    activation: float = 0.0
    stability: float = 0.5
    depth: float = 0.0
    last_activated_at: datetime | None = None
    created_at: datetime


class BasinLink(BaseModel):
    source_id: str
    target_id: str
    weight: float


class ActivationUpdate(BaseModel):
    basin_id: str
    activation: float
    depth: float
    last_activated_at: datetime


class MemoryBasin(BaseModel):
    basin_id: str
    weight: float


class Memory(BaseModel):
    id: str
    kind: str
    content: str
    tags: list[str] = Field(default_factory=list)
    importance: float = 0.5
    created_at: datetime
    basins: list[MemoryBasin] = Field(default_factory=list)


class MemoryStats(BaseModel):
    total: int
    by_kind: dict[str, int]
    # Changes whenever a memory is added, updated or deleted: lets caches (the recall index)
    # notice writes, including writes from another process sharing the same database.
    revision: str
    # Updates and deletes so far (basin deletions included): while it stays the same, a changed
    # revision means memories were only added.
    edits: int = 0


class WisdomPrinciple(BaseModel):
    id: str
    text: str
    domain: str
    confidence: float
    created_at: datetime


class CoherenceSnapshot(BaseModel):
    id: str
    created_at: datetime
    consciousness_level: float
    status: Literal["ok", "insufficient_data"]
    components: dict[str, float]
    active_basin_ids: list[str]


# --- execution traces ------------------------------------------------------------------------


class ToolCallRecord(BaseModel):
    id: str
    name: str
    arguments: Any = None


class TraceRecord(BaseModel):
    id: str
    run_id: str
    agent_name: str
    parent_id: str | None = None
    # The parent's step number that delegated to this run (manager → sub-agent).
    parent_step: int | None = None
    model: str = ""
    task: str = ""
    status: TraceStatus = "running"
    summary: str | None = None
    error: str | None = None
    started_at: datetime
    completed_at: datetime | None = None
    # Totals of this run's own steps (sub-runs are added by the trace service, not stored).
    input_tokens: int = 0
    output_tokens: int = 0
    pruned_tokens_saved: int = 0
    step_count: int = 0
    metadata: dict[str, Any] = Field(default_factory=dict)


class StepRecord(BaseModel):
    """One completed agent step. `id` is derived from (trace_id, step_type, step_number), so
    writing the same step twice stores it once."""

    id: str
    trace_id: str
    step_number: int
    step_type: StepType
    started_at: datetime | None = None
    completed_at: datetime | None = None
    duration_ms: float | None = None
    model_output: str | None = None
    code_action: str | None = None
    tool_calls: list[ToolCallRecord] = Field(default_factory=list)
    observations: str | None = None
    plan: str | None = None
    error: str | None = None
    final_answer: str | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    # Prompt tokens this call would have cost without pruning (equal to input_tokens when
    # nothing was pruned).
    unpruned_input_tokens: int = 0


class TraceBasinLink(BaseModel):
    trace_id: str
    basin_id: str
    basin_name: str = ""
    strength: float
    at_step: int


class TraceOwner(BaseModel):
    """The server process running a trace, and how long its claim holds without renewal."""

    host: str
    pid: int
    token: str  # the process's start identity (traces/owner.py): tells a reused pid apart
    lease_until: datetime


class RunningTrace(BaseModel):
    """A trace stored as `running`, with its owner when one was recorded."""

    id: str
    started_at: datetime
    owner: TraceOwner | None = None


class TraceFilter(BaseModel):
    agent_name: str | None = None
    status: TraceStatus | None = None
    since: datetime | None = None
    until: datetime | None = None
    parent_id: str | None = None
    roots_only: bool = False

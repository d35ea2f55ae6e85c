"""Row/record conversion that every store backend does the same way.

Both backends keep nested values (trace metadata, snapshot components, a step's tool calls) as
JSON text, order a trace's steps the same way, and read the same totals from `complete_trace`.
What differs per backend (SQL rows vs. graph properties, query text) stays in the backend.
Names here are imported by both backends: keep them stable.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from schema.models import StepRecord, ToolCallRecord

# The totals `complete_trace` may set; a key that is missing or None leaves the stored value alone.
TOTAL_KEYS = ("input_tokens", "output_tokens", "pruned_tokens_saved", "step_count")

# Steps sharing a step_number are listed in the order an agent run produces them; an unknown
# type goes last. (The SQLite backend builds its ORDER BY expression from this table.)
STEP_TYPE_ORDER = {"task": 0, "planning": 1, "action": 2, "final_answer": 3}
UNKNOWN_STEP_TYPE_RANK = 9


def step_sort_key(step: StepRecord) -> tuple[int, int, str]:
    """The order of `Store.get_steps`: step number, then step type, then id."""
    return (step.step_number, STEP_TYPE_ORDER.get(step.step_type, UNKNOWN_STEP_TYPE_RANK), step.id)


def given_totals(totals: dict[str, int]) -> dict[str, int]:
    """The totals actually given to `complete_trace`, as ints (missing or None ones left out)."""
    return {k: int(totals[k]) for k in TOTAL_KEYS if totals.get(k) is not None}


def dumps_sorted(value: Any) -> str:
    """JSON text with sorted keys, so equal values are stored as equal text."""
    return json.dumps(value, sort_keys=True)


def json_or_none(value: str | None) -> Any:
    return None if value is None else json.loads(value)


def encode_tool_calls(tool_calls: Iterable[ToolCallRecord]) -> str:
    return json.dumps([tc.model_dump(mode="json") for tc in tool_calls])


def decode_tool_calls(value: str | None) -> list[ToolCallRecord]:
    return [ToolCallRecord(**tc) for tc in (json_or_none(value) or [])]


def decode_components(value: str | None) -> dict[str, float]:
    """Coherence snapshot components: JSON object name -> number, read back as floats."""
    return {k: float(v) for k, v in (json_or_none(value) or {}).items()}

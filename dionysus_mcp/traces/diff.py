"""Two runs side by side: steps aligned, tool calls and outcomes that differ, token and time deltas.

Runs are aligned level by level: the two roots, then their sub-runs by agent and order of
delegation (the second `reasoning` run of A with the second of B). Within a pair, steps are
aligned by (step type, step number). A row is `same` when both steps called the same tools with
the same arguments and neither failed, `changed` otherwise, `only_a` / `only_b` when one run
has no such step. Observations are not compared: they hold ids and times that always differ.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from dionysus_mcp.traces.models import TokenTotals, TraceDetail, TraceSummary
from schema.models import StepRecord

Change = Literal["same", "changed", "only_a", "only_b"]
TYPE_ORDER = {"task": 0, "planning": 1, "action": 2, "final_answer": 3}


class StepDiff(BaseModel):
    agent_name: str
    step_type: str
    step_number: int
    change: Change
    a_tools: list[str] | None = None
    b_tools: list[str] | None = None
    a_tokens: int | None = None
    b_tokens: int | None = None
    note: str | None = Field(None, description="What differs, in a few words.")


class TraceDiff(BaseModel):
    a: TraceSummary
    b: TraceSummary
    outcome_changed: bool = Field(description="The two runs ended with different statuses.")
    tokens_delta: TokenTotals = Field(description="B minus A, sub-runs included.")
    duration_delta_s: float | None = Field(description="B minus A, when both have ended.")
    differing_steps: int
    steps: list[StepDiff]


def _summary(run: TraceDetail) -> TraceSummary:
    return TraceSummary.model_validate(run.model_dump(include=set(TraceSummary.model_fields)))


def _tools(step: StepRecord) -> list[str]:
    return [tc.name for tc in step.tool_calls]


def _note(a: StepRecord, b: StepRecord) -> str | None:
    notes = []
    if _tools(a) != _tools(b):
        notes.append(f"tools {', '.join(_tools(a)) or '-'} -> {', '.join(_tools(b)) or '-'}")
    elif [tc.arguments for tc in a.tool_calls] != [tc.arguments for tc in b.tool_calls]:
        notes.append("same tools, other arguments")
    if bool(a.error) != bool(b.error):
        notes.append("error in A only" if a.error else "error in B only")
    elif a.error and a.error != b.error:
        notes.append("different errors")
    return "; ".join(notes) or None


def _steps(agent: str, a: list[StepRecord], b: list[StepRecord]) -> list[StepDiff]:
    by_a = {(s.step_type, s.step_number): s for s in a}
    by_b = {(s.step_type, s.step_number): s for s in b}
    keys = sorted(set(by_a) | set(by_b), key=lambda k: (k[1], TYPE_ORDER.get(k[0], 9)))
    rows = []
    for key in keys:
        sa, sb = by_a.get(key), by_b.get(key)
        row = StepDiff(agent_name=agent, step_type=key[0], step_number=key[1], change="same")
        if sa is not None:
            row.a_tools, row.a_tokens = _tools(sa), sa.input_tokens + sa.output_tokens
        if sb is not None:
            row.b_tools, row.b_tokens = _tools(sb), sb.input_tokens + sb.output_tokens
        if sa is None or sb is None:
            row.change = "only_b" if sa is None else "only_a"
        else:
            row.note = _note(sa, sb)
            row.change = "changed" if row.note else "same"
        rows.append(row)
    return rows


def _pairs(a: list[TraceDetail], b: list[TraceDetail]) -> list[tuple[str, TraceDetail | None, TraceDetail | None]]:
    """Sub-runs paired by agent name and order of delegation."""
    def keyed(runs: list[TraceDetail]) -> dict[tuple[str, int], TraceDetail]:
        seen: dict[str, int] = {}
        out = {}
        for run in runs:
            seen[run.agent_name] = seen.get(run.agent_name, 0) + 1
            out[(run.agent_name, seen[run.agent_name])] = run
        return out

    ka, kb = keyed(a), keyed(b)
    order = list(ka) + [k for k in kb if k not in ka]
    return [(k[0], ka.get(k), kb.get(k)) for k in order]


def _rows(agent: str, a: TraceDetail | None, b: TraceDetail | None, depth: int = 0) -> list[StepDiff]:
    rows = _steps(agent, a.steps if a else [], b.steps if b else [])
    if depth < 5:
        for name, sa, sb in _pairs(a.sub_runs if a else [], b.sub_runs if b else []):
            rows += _rows(name, sa, sb, depth + 1)
    return rows


def diff_runs(a: TraceDetail, b: TraceDetail) -> TraceDiff:
    rows = _rows(a.agent_name if a.agent_name == b.agent_name else f"{a.agent_name} / {b.agent_name}", a, b)
    ta, tb = a.total_tokens, b.total_tokens
    return TraceDiff(
        a=_summary(a), b=_summary(b), outcome_changed=a.status != b.status,
        tokens_delta=TokenTotals(
            input_tokens=tb.input_tokens - ta.input_tokens, output_tokens=tb.output_tokens - ta.output_tokens,
            pruned_tokens_saved=tb.pruned_tokens_saved - ta.pruned_tokens_saved, total_tokens=tb.total_tokens - ta.total_tokens,
        ),
        duration_delta_s=None if a.duration_s is None or b.duration_s is None else round(b.duration_s - a.duration_s, 3),
        differing_steps=sum(r.change != "same" for r in rows),
        steps=rows,
    )

"""What trace reads return: summaries, full runs with their sub-runs, pages, token reports."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from schema.models import StepRecord, TraceBasinLink, TraceRecord, TraceStatus

class TokenTotals(BaseModel):
    input_tokens: int = 0
    output_tokens: int = 0
    pruned_tokens_saved: int = Field(0, description="Prompt tokens pruning kept out of model calls.")
    total_tokens: int = 0

    def add(self, other: "TokenTotals") -> "TokenTotals":
        return TokenTotals(
            input_tokens=self.input_tokens + other.input_tokens,
            output_tokens=self.output_tokens + other.output_tokens,
            pruned_tokens_saved=self.pruned_tokens_saved + other.pruned_tokens_saved,
            total_tokens=self.total_tokens + other.total_tokens,
        )


class TraceSummary(BaseModel):
    id: str
    run_id: str
    agent_name: str
    parent_id: str | None
    parent_step: int | None
    model: str
    task: str
    status: TraceStatus
    summary: str | None
    error: str | None
    started_at: datetime
    completed_at: datetime | None
    duration_s: float | None
    step_count: int
    tokens: TokenTotals = Field(description="This run's own steps (sub-runs excluded).")


class TraceDetail(TraceSummary):
    steps: list[StepRecord]
    sub_runs: list["TraceDetail"]
    activated_basins: list[TraceBasinLink]
    total_tokens: TokenTotals = Field(description="This run and all its sub-runs.")
    # Paging of `steps` (get_trace detail="full" with steps_from / steps_limit).
    steps_from: int = 0
    steps_total: int | None = Field(None, description="How many steps the run has.")
    next_steps_from: int | None = Field(None, description="Pass as steps_from for the next page; null on the last.")


class TracePage(BaseModel):
    traces: list[TraceSummary]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page.")


class UsageRow(BaseModel):
    name: str
    runs: int
    input_tokens: int
    output_tokens: int
    pruned_tokens_saved: int


class TokenUsageReport(BaseModel):
    runs: int
    totals: TokenTotals
    pruning_saved_pct: float = Field(description="Saved prompt tokens / prompt tokens without pruning, in %.")
    by_agent: list[UsageRow]
    by_model: list[UsageRow]
    since: datetime | None
    agent_name: str | None


def token_totals(input_tokens: int, output_tokens: int, saved: int) -> TokenTotals:
    return TokenTotals(
        input_tokens=input_tokens, output_tokens=output_tokens, pruned_tokens_saved=saved,
        total_tokens=input_tokens + output_tokens,
    )


def summarize(trace: TraceRecord) -> TraceSummary:
    duration = (trace.completed_at - trace.started_at).total_seconds() if trace.completed_at else None
    return TraceSummary(
        **trace.model_dump(include=set(TraceSummary.model_fields) - {"duration_s", "tokens"}),
        duration_s=duration,
        tokens=token_totals(trace.input_tokens, trace.output_tokens, trace.pruned_tokens_saved),
    )


TraceDetail.model_rebuild()

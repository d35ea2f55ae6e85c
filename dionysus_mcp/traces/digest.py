"""Reads sized for an LLM client: a run's summary (`TraceDigest`) and its steps by page.

A whole OODA cycle is tens of KB of JSON (docs/benchmarks.md, "Figures behind the code") — steps with their full observations,
prompts' worth of model output, every sub-run in full — which a client pays for in context on
every read. The
digest keeps what a reader decides on: outcome, each phase's (sub-run's) result, tokens,
basins, errors and a one-line index of every step; long texts are cut to a preview that says
how many characters there are and how to read them whole (`get_trace(..., detail="full",
steps_from=…, steps_limit=…)`, which pages the steps of one run).
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from dionysus_mcp.traces.inputs import GetTrace
from dionysus_mcp.traces.models import TokenTotals, TraceDetail
from schema.models import StepRecord, TraceStatus

PREVIEW_CHARS = 100  # a step's observation / output in the index
RESULT_CHARS = 280  # a run's or phase's final answer, the task


def clip(text: str | None, limit: int) -> str | None:
    """`text` cut to `limit` characters, marked with how long it really is."""
    if text is None or len(text) <= limit:
        return text
    return f"{text[:limit]}… [{len(text)} chars]"


class StepLine(BaseModel):
    """One step in the index: what it did, what it cost, a preview of what it saw."""

    index: int = Field(description="Position in the run's steps: pass as steps_from to read it whole.")
    step_number: int
    step_type: str
    tools: list[str] = Field(default_factory=list, description="Tools (or team members) called.")
    input_tokens: int = 0
    output_tokens: int = 0
    pruned_tokens_saved: int = 0
    duration_ms: float | None = None
    preview: str | None = Field(None, description="Start of the observation, plan or answer (cut, with its length).")
    error: str | None = None


class BasinLine(BaseModel):
    basin_name: str
    activations: int
    max_strength: float


class ErrorLine(BaseModel):
    trace_id: str
    agent_name: str
    step_number: int | None
    error: str


class PhaseLine(BaseModel):
    """A delegated sub-run (for the ConsciousnessManager: observe / orient / decide)."""

    trace_id: str
    agent_name: str
    parent_step: int | None
    status: TraceStatus
    step_count: int
    tokens: TokenTotals
    duration_s: float | None
    result: str | None
    steps: list[str] = Field(description="One line per step: [index] type number: tools (tokens in+out, saved).")


class TraceDigest(BaseModel):
    detail: str = "summary"
    id: str
    run_id: str
    agent_name: str
    model: str
    task: str | None
    status: TraceStatus
    result: str | None = Field(description="The final answer (cut, with its length).")
    error: str | None
    started_at: datetime
    completed_at: datetime | None
    duration_s: float | None
    step_count: int
    tokens: TokenTotals = Field(description="This run's own steps.")
    total_tokens: TokenTotals = Field(description="This run and all its sub-runs.")
    phases: list[PhaseLine]
    activated_basins: list[BasinLine]
    errors: list[ErrorLine]
    steps: list[StepLine]
    read_more: str


def _preview(step: StepRecord) -> str | None:
    if step.step_type in ("task", "planning"):  # the task is the run's; plans are long and read whole
        return None
    text = step.observations or step.final_answer or step.model_output
    if not text:
        return None
    flat = " ".join(text.split())  # one line; the length given is the stored text's
    return flat if len(flat) <= PREVIEW_CHARS else f"{flat[:PREVIEW_CHARS]}… [{len(text)} chars]"


def step_line(index: int, step: StepRecord) -> StepLine:
    return StepLine(
        index=index, step_number=step.step_number, step_type=step.step_type,
        tools=[tc.name for tc in step.tool_calls if tc.name != "final_answer"],
        input_tokens=step.input_tokens, output_tokens=step.output_tokens,
        pruned_tokens_saved=max(0, step.unpruned_input_tokens - step.input_tokens),
        duration_ms=None if step.duration_ms is None else round(step.duration_ms, 1),
        preview=_preview(step), error=clip(step.error, PREVIEW_CHARS),
    )


def step_text(index: int, step: StepRecord) -> str:
    line = step_line(index, step)
    tools = ", ".join(line.tools) or "-"
    saved = f", saved {line.pruned_tokens_saved}" if line.pruned_tokens_saved else ""
    error = " ERROR" if step.error else ""
    return f"[{index}] {step.step_type} {step.step_number}: {tools} ({line.input_tokens}+{line.output_tokens} tok{saved}){error}"


def _all_runs(run: TraceDetail) -> list[TraceDetail]:
    return [run, *(r for sub in run.sub_runs for r in _all_runs(sub))]


def digest(run: TraceDetail) -> TraceDigest:
    basins: dict[str, BasinLine] = {}
    errors: list[ErrorLine] = []
    for r in _all_runs(run):
        for link in r.activated_basins:
            line = basins.setdefault(link.basin_name, BasinLine(basin_name=link.basin_name, activations=0, max_strength=0.0))
            line.activations += 1
            line.max_strength = round(max(line.max_strength, link.strength), 3)
        errors += [ErrorLine(trace_id=r.id, agent_name=r.agent_name, step_number=s.step_number, error=clip(s.error, 300))
                   for s in r.steps if s.error]
        if r.error:
            errors.append(ErrorLine(trace_id=r.id, agent_name=r.agent_name, step_number=None, error=clip(r.error, 300)))
    return TraceDigest(
        id=run.id, run_id=run.run_id, agent_name=run.agent_name, model=run.model, task=clip(run.task, RESULT_CHARS),
        status=run.status, result=clip(run.summary, RESULT_CHARS), error=clip(run.error, RESULT_CHARS),
        started_at=run.started_at, completed_at=run.completed_at, duration_s=run.duration_s, step_count=run.step_count,
        tokens=run.tokens, total_tokens=run.total_tokens,
        phases=[
            PhaseLine(trace_id=s.id, agent_name=s.agent_name, parent_step=s.parent_step, status=s.status,
                      step_count=s.step_count, tokens=s.total_tokens, duration_s=s.duration_s,
                      result=clip(s.summary or s.error, RESULT_CHARS),
                      steps=[step_text(i, st) for i, st in enumerate(s.steps)])
            for s in run.sub_runs
        ],
        activated_basins=sorted(basins.values(), key=lambda b: (-b.max_strength, b.basin_name)),
        errors=errors,
        steps=[step_line(i, s) for i, s in enumerate(run.steps)],
        read_more=(
            "Texts are cut to a preview with their length. Read a run's steps whole with "
            f"get_trace('{run.id}', detail='full', steps_from=<index>, steps_limit=<n>); "
            "a phase's with its trace_id."
        ),
    )


MAX_STEPS_LIMIT = GetTrace.bound("steps_limit", "le")  # traces/inputs.py


def page_steps(run: TraceDetail, steps_from: int | None, steps_limit: int | None) -> TraceDetail:
    """The full form; with steps_from / steps_limit, one page of this run's own steps (sub-runs
    are left out of a page: read each by its trace_id)."""
    total = len(run.steps)
    if steps_from is None and steps_limit is None:
        return run.model_copy(update={"steps_total": total})
    start = steps_from or 0
    end = total if steps_limit is None else min(total, start + steps_limit)
    return run.model_copy(update={
        "steps": run.steps[start:end], "sub_runs": [], "steps_from": start, "steps_total": total,
        "next_steps_from": end if end < total else None,
    })


def check_read(detail: str, steps_from: int | None, steps_limit: int | None) -> None:
    from dionysus_mcp.errors import InvalidInput

    if detail not in ("summary", "full"):
        raise InvalidInput(f"detail must be 'summary' or 'full', got {detail!r}")
    if steps_from is not None and (isinstance(steps_from, bool) or steps_from < 0):
        raise InvalidInput(f"steps_from must be 0 or more, got {steps_from!r}")
    if steps_limit is not None and not 1 <= steps_limit <= MAX_STEPS_LIMIT:
        raise InvalidInput(f"steps_limit must be from 1 to {MAX_STEPS_LIMIT}, got {steps_limit!r}")
    if detail == "summary" and (steps_from is not None or steps_limit is not None):
        raise InvalidInput("steps_from and steps_limit page the full form: pass detail='full' with them")

"""Memory pruning: old, long observations become short extractive summaries; superseded plans
become a one-line stub.

smolagents rebuilds every prompt from the agent's memory, so each observation and each plan is
paid for again on every later call.

Observations (ActionStep): after each action step, the observation of every action step older
than the window (`AGENT_MEMORY_WINDOW`, default 3) and longer than 200 characters is replaced by
a `[PRUNED]` summary that keeps its headline facts. The tool adapters (agents/tools.py) write a
headline line first, then one line per item, most important first; the summary keeps
  - the headline: the first content line, up to its first sentence end;
  - the top item: the line after it, marker and relevance included, up to its first sentence
    end (`1. (1.00) The March 14 outage lasted 47 minutes.`);
  - how many items were left out (`… 7 more`). `MAX_ITEMS` > 1 would add short heads of the
    next items (`2. (0.82) Postmortems work when they…`); measured, they cost more than they
    tell, so the summary is the headline facts alone.
A sentence ends at ".", "!" or "?" followed by whitespace, at least 20 characters in; a sentence
longer than 300 characters is cut there. docs/benchmarks.md measures what this keeps.

Plans (PlanningStep): when a new plan is made, every earlier plan is superseded — the new one
restates the facts survey and the remaining plan — and becomes `[PRUNED] Superseded plan
(step N).` plus the `[IWMT] Coherence:` and `[RIVER]` lines the callbacks had added to it (they
record the state at that time; the advice lines are dropped).

Planning calls (smolagents' "summary mode": no system prompt, no plans, just the task and the
tool calls with their observations) see every long observation except the latest one as its
summary: a plan is a survey of facts, and the headline facts are what it surveys. This is a view
(`planning_view`), built by the agent when it writes the planning prompt; memory is unchanged,
so the next action call still has the whole window.

Folding (callbacks/rolling_digest.py): action steps older than a second horizon (`fold_after`, default
FOLD_AFTER steps) leave the prompt with their tool call and result together and are listed in one
rolling digest message — each step's call and the headline facts of its result, in order — so
what an old step costs stops growing with the run. Like the planning view, folding is a view the
agent builds when it writes a prompt (`prompt_view`); memory keeps every step.

Until a step folds: tool calls are never touched, so every call still pairs with its (shortened)
result; pruning is idempotent (a `[PRUNED]` text is never summarised again); the original text
stays in the callback's state for the run (`PruningState.pruned`, `.pruned_plans`; the token
callback reads them to count what pruning saved) and was already handed to the trace callbacks
when its step completed, so the trace store keeps it whole.
"""

from __future__ import annotations

import copy
import logging
import re
from dataclasses import dataclass, field
from typing import Any

from smolagents.memory import ActionStep, PlanningStep

from callbacks.context import RunContext
from callbacks.rolling_digest import FoldedStep, fold, fold_view, unfolded_tokens
from dionysus_mcp.tokenizer import count_tokens

log = logging.getLogger(__name__)

MARK = "[PRUNED]"
MIN_LENGTH = 200  # shorter observations cost little and are kept whole
SENTENCE_CHARS = 300  # a headline or top-item sentence longer than this is cut
MIN_SENTENCE = 20  # "1. " or "e.g. " is not a sentence end
ITEM_HEAD_CHARS = 40  # of each further item, after its marker
MAX_ITEMS = 1  # items in a summary: the top one whole (any further ones as heads)
FOLD_AFTER = 4  # action steps this many steps old fold into the digest (the second horizon)
FOLD_DEFAULT = -1  # fold_after's default: FOLD_AFTER, or one step past a larger window

_SENTENCE_END = re.compile(r"[.!?](?=\s|$)")
_ITEM = re.compile(r"^(?:\d+\.|-|\*)\s+(?:\(\d+(?:\.\d+)?\)\s+)?")
# Lines smolagents wraps around a code action's output or a managed agent's report: kept verbatim
# (they are short) so the headline is the first line that says something.
_BOILERPLATE = ("Execution logs:", "Here is the final answer from your managed agent", "### 1. Task outcome")
_CALLBACK_LINE = re.compile(r"^\[(?:IWMT\] Coherence:|RIVER\])")


@dataclass
class PrunedObservation:
    step_number: int
    original: str
    summary: str
    original_tokens: int
    summary_tokens: int


@dataclass
class PruningState:
    """Owned by the memory_pruning callback, one per run: what it replaced, and with what."""

    # step_number → the observation as the tool returned it, before pruning replaced it.
    pruned: dict[int, PrunedObservation] = field(default_factory=dict)
    # the step a plan was made before → the plan as written, before a newer plan superseded it.
    pruned_plans: dict[int, PrunedObservation] = field(default_factory=dict)
    # step_number → an observation shown summarised in a planning call only (memory unchanged).
    planning_view: dict[int, PrunedObservation] = field(default_factory=dict)
    # step_number → an action step folded into the prompt's digest (callbacks/rolling_digest.py).
    folded: dict[int, FoldedStep] = field(default_factory=dict)

    def original_observation(self, step_number: int, current: str | None) -> str | None:
        entry = self.pruned.get(step_number)
        return entry.original if entry else current

    def original_plan(self, step_number: int, current: str | None) -> str | None:
        entry = self.pruned_plans.get(step_number)
        return entry.original if entry else current


def first_sentence(text: str, limit: int = SENTENCE_CHARS) -> str:
    """`text` up to its first sentence end (at least MIN_SENTENCE characters in), cut at `limit`."""
    text = text.strip()
    for match in _SENTENCE_END.finditer(text):
        if match.start() + 1 >= MIN_SENTENCE:
            text = text[: match.start() + 1]
            break
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _head(line: str, limit: int) -> str:
    marker = _ITEM.match(line)
    prefix, body = (line[: marker.end()], line[marker.end() :]) if marker else ("", line)
    sentence = first_sentence(body)
    if len(sentence) <= limit:
        return prefix + sentence
    cut = body[:limit].rsplit(" ", 1)[0] if " " in body[:limit] else body[:limit]
    return prefix + cut.rstrip(" ,;:") + "…"


def summarize(text: str) -> str:
    """`[PRUNED]` + the headline sentence, the top item's first sentence, the heads of the next
    items (MAX_ITEMS in all) and how many items were left out. Indented lines are details of
    the line above them and are dropped."""
    lines = [line.rstrip() for line in text.splitlines() if line.strip() and not line[:1].isspace()]
    kept: list[str] = []
    while lines and lines[0].startswith(_BOILERPLATE):
        kept.append(lines.pop(0))
    if not lines:
        return f"{MARK} " + ("\n".join(kept) if kept else f"({len(text)} characters)")
    headline, rest = lines[0], lines[1:]
    kept.append(first_sentence(headline))
    for i, line in enumerate(rest[:MAX_ITEMS]):
        if i == 0:
            marker = _ITEM.match(line)
            kept.append((line[: marker.end()] + first_sentence(line[marker.end() :])) if marker else first_sentence(line))
        else:
            kept.append(_head(line, ITEM_HEAD_CHARS))
    if len(rest) > MAX_ITEMS:
        kept.append(f"… {len(rest) - MAX_ITEMS} more")
    return f"{MARK} " + "\n".join(kept)


def summarize_plan(plan: str, made_before: int) -> str:
    """The stub of a superseded plan made before step `made_before`: its callback lines stay."""
    notes = [line.strip() for line in plan.splitlines() if _CALLBACK_LINE.match(line.strip())]
    return "\n".join([f"{MARK} Superseded plan (step {made_before}).", *notes])


def is_pruned(text: str | None) -> bool:
    return bool(text) and text.startswith(MARK)


def plans_with_steps(steps: list[Any]) -> list[tuple[PlanningStep, int]]:
    """Each planning step in memory with the step number it was made before."""
    out: list[tuple[PlanningStep, int]] = []
    for i, step in enumerate(steps):
        if isinstance(step, PlanningStep):
            following = next((s.step_number for s in steps[i + 1 :] if isinstance(s, ActionStep)), None)
            previous = next((s.step_number for s in reversed(steps[:i]) if isinstance(s, ActionStep)), 0)
            out.append((step, following if following is not None else previous + 1))
    return out


class MemoryPruningCallback:
    """ActionStep: prune the observations of action steps older than `window` steps.
    PlanningStep: prune the plans the new plan supersedes."""

    name = "memory_pruning"
    owns = PruningState

    def __init__(
        self,
        window: int = 3,
        min_length: int = MIN_LENGTH,
        *,
        plans: bool = True,
        planning_inputs: bool = True,
        fold_after: int | None = FOLD_DEFAULT,
    ):
        """`plans`: prune superseded plans; `planning_inputs`: show planning calls the summaries
        (both on by default; off only to measure what each contributes); `fold_after`: the
        second horizon, in steps (None: never fold; at least the window; by default FOLD_AFTER,
        or one past a larger window, so AGENT_MEMORY_WINDOW alone never makes it invalid)."""
        if window < 1:
            raise ValueError(f"window must be at least 1, got {window}")
        if fold_after == FOLD_DEFAULT:
            fold_after = max(FOLD_AFTER, window + 1)
        if fold_after is not None and fold_after < window:
            raise ValueError(f"fold_after must be at least the window ({window}), got {fold_after}")
        self.window = window
        self.fold_after = fold_after
        self.min_length = min_length
        self.plans = plans
        self.planning_inputs = planning_inputs

    def __call__(self, step: Any, agent: Any, ctx: RunContext) -> None:
        if isinstance(step, ActionStep):
            cutoff = step.step_number - self.window
            horizon = step.step_number - self.fold_after if self.fold_after is not None else 0
            for old in agent.memory.steps:
                if isinstance(old, ActionStep) and old.step_number <= cutoff:
                    self.prune_step(old, ctx)
                    if old.step_number <= horizon and old.step_number not in ctx.state(PruningState).folded:
                        self.fold_step(old, ctx)
        elif isinstance(step, PlanningStep) and self.plans:
            # smolagents runs the callbacks before it appends `step` to memory: every plan in
            # memory is older, and `step` is made before the step about to run.
            for old, made_before in plans_with_steps(agent.memory.steps):
                if old is not step:
                    self.prune_plan(old, made_before, ctx)

    def summarize(self, text: str) -> str:
        return summarize(text)

    def summary_of(self, text: str | None) -> str | None:
        """The summary replacing `text`, or None when it stays whole (short, already pruned, or
        the summary would be no shorter)."""
        if not text or is_pruned(text) or len(text) <= self.min_length:
            return None
        summary = self.summarize(text)
        return summary if len(summary) < len(text) else None

    def planning_view(self, steps: list[Any], ctx: RunContext | None) -> list[Any]:
        """`steps` as a planning call should see them: every action step but the latest with its
        long observation summarised (a shallow copy; memory is not modified)."""
        if not self.planning_inputs:
            return list(steps)
        actions = [s for s in steps if isinstance(s, ActionStep)]
        latest = actions[-1] if actions else None
        view = []
        for step in steps:
            summary = self.summary_of(step.observations) if isinstance(step, ActionStep) and step is not latest else None
            if summary is None:
                view.append(step)
                continue
            shown = copy.copy(step)
            shown.observations = summary
            view.append(shown)
            recorded = ctx.state(PruningState).planning_view if ctx is not None else None
            if recorded is not None and step.step_number not in recorded:
                recorded[step.step_number] = PrunedObservation(
                    step.step_number, step.observations, summary, count_tokens(step.observations), count_tokens(summary)
                )
        return view

    def summarize_plan(self, plan: str, made_before: int) -> str:
        return summarize_plan(plan, made_before)

    def prompt_view(self, steps: list[Any], ctx: RunContext | None, summary_mode: bool = False) -> list[Any]:
        """`steps` as the next prompt shows them: folded steps as one digest, and for a planning
        call (summary mode) the rest through `planning_view`. Memory is not modified."""
        view = fold_view(steps, ctx.state(PruningState).folded if ctx is not None else {})
        return self.planning_view(view, ctx) if summary_mode else view

    def fold_step(self, step: ActionStep, ctx: RunContext) -> None:
        state = ctx.state(PruningState)
        original = state.original_observation(step.step_number, step.observations)
        entry = fold(step, original)
        entry.original_tokens = unfolded_tokens(step, original)
        state.folded[step.step_number] = entry
        ctx.record("folded", step.step_number, facts=len(entry.facts), tokens=entry.original_tokens)

    def prune_step(self, step: ActionStep, ctx: RunContext) -> PrunedObservation | None:
        text = step.observations
        summary = self.summary_of(text)  # None for a pruned text: pruning is idempotent
        if summary is None or text is None:
            return None
        entry = PrunedObservation(step.step_number, text, summary, count_tokens(text), count_tokens(summary))
        ctx.state(PruningState).pruned[step.step_number] = entry
        step.observations = summary
        ctx.record("pruned", step.step_number, chars=len(text), summary_chars=len(summary), tokens_saved=entry.original_tokens - entry.summary_tokens)
        log.debug("%s: pruned step %d observation %d → %d chars", ctx.agent_name, step.step_number, len(text), len(summary))
        return entry

    def prune_plan(self, step: PlanningStep, made_before: int, ctx: RunContext) -> PrunedObservation | None:
        text = step.plan
        if not text or is_pruned(text):
            return None
        summary = self.summarize_plan(text, made_before)
        if len(summary) >= len(text):
            return None
        entry = PrunedObservation(made_before, text, summary, count_tokens(text), count_tokens(summary))
        ctx.state(PruningState).pruned_plans[made_before] = entry
        step.plan = summary
        ctx.record("pruned_plan", made_before, chars=len(text), summary_chars=len(summary), tokens_saved=entry.original_tokens - entry.summary_tokens)
        return entry


PLACEHOLDER = f"{MARK} (old tool result cleared to save context)"
PLAN_PLACEHOLDER = f"{MARK} (superseded plan cleared to save context)"


class PlaceholderPruningCallback(MemoryPruningCallback):
    """A reference policy the agents do not use: the same eligibility, but every old observation
    and superseded plan becomes one fixed placeholder — what context-editing APIs do with old
    tool results. scripts/benchmark_token_usage.py compares it with the extractive summary."""

    name = "memory_pruning"

    def __init__(self, window: int = 3, min_length: int = MIN_LENGTH, **options: Any):
        options.setdefault("fold_after", None)  # clearing results is the whole policy
        super().__init__(window, min_length, **options)

    def summarize(self, text: str) -> str:
        return PLACEHOLDER

    def summarize_plan(self, plan: str, made_before: int) -> str:
        return PLAN_PLACEHOLDER

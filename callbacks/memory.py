"""Memory pruning: old, long observations become short extractive summaries.

smolagents rebuilds every prompt from the agent's memory, so each observation is paid for again
on every later call. After each action step, the observations of action steps older than the
window (`AGENT_MEMORY_WINDOW`, default 3) and longer than 200 characters are replaced by a
summary starting `[PRUNED]` that keeps each observation's headline facts: the tool adapters put
the headline first and one item per line, so keeping the first line and the head of each item
line keeps what matters. Tool calls are never touched, so every call still pairs with its
(shortened) result. The original text stays on the run context (and so reaches the trace store).
"""

from __future__ import annotations

import logging
import re
from typing import Any

from smolagents.memory import ActionStep

from callbacks.context import PrunedObservation, RunContext
from callbacks.tokens import count_tokens

log = logging.getLogger(__name__)

MARK = "[PRUNED]"
MIN_LENGTH = 200  # shorter observations cost little and are kept whole
HEADLINE_CHARS = 160
ITEM_CHARS = 90
MAX_LINES = 8
MIN_SENTENCE = 20
SENTENCE_SLACK = 1.5  # a first sentence up to 1.5 × the limit is kept whole

_SENTENCE_END = re.compile(r"(?<=[.!?])\s")


def _clip(line: str, limit: int) -> str:
    """The line's first sentence when it is short enough (a whole sentence reads better than a
    cut one), else its first `limit` characters."""
    line = line.strip()
    for match in _SENTENCE_END.finditer(line):
        if match.start() < MIN_SENTENCE:
            continue  # "1. " or "e.g. " is not a sentence end
        if match.start() <= limit * SENTENCE_SLACK:
            return line[: match.start()]
        break
    return line if len(line) <= limit else line[: limit - 1].rstrip() + "…"


def summarize(text: str) -> str:
    """`[PRUNED]` + the first line and the head of every unindented line (indented lines are
    details of the item above them), at most MAX_LINES lines."""
    lines = [line for line in text.splitlines() if line.strip() and not line[:1].isspace()]
    if not lines:
        return f"{MARK} ({len(text)} characters)"
    kept = [_clip(lines[0], HEADLINE_CHARS)] + [_clip(line, ITEM_CHARS) for line in lines[1:MAX_LINES]]
    if len(lines) > MAX_LINES:
        kept.append(f"… {len(lines) - MAX_LINES} more lines")
    return f"{MARK} " + "\n".join(kept)


def is_pruned(text: str | None) -> bool:
    return bool(text) and text.startswith(MARK)


class MemoryPruningCallback:
    """ActionStep: prune the observations of action steps older than `window` steps."""

    name = "memory_pruning"

    def __init__(self, window: int = 3, min_length: int = MIN_LENGTH):
        if window < 1:
            raise ValueError(f"window must be at least 1, got {window}")
        self.window = window
        self.min_length = min_length

    def __call__(self, step: Any, agent: Any, ctx: RunContext) -> None:
        if not isinstance(step, ActionStep):
            return
        cutoff = step.step_number - self.window
        for old in agent.memory.steps:
            if isinstance(old, ActionStep) and old.step_number <= cutoff:
                self.prune_step(old, ctx)

    def prune_step(self, step: ActionStep, ctx: RunContext) -> PrunedObservation | None:
        text = step.observations
        if not text or is_pruned(text) or len(text) <= self.min_length:
            return None  # idempotent: a pruned observation is never summarized again
        summary = summarize(text)
        if len(summary) >= len(text):
            return None
        entry = PrunedObservation(step.step_number, text, summary, count_tokens(text), count_tokens(summary))
        ctx.pruned[step.step_number] = entry
        step.observations = summary
        ctx.record("pruned", step.step_number, chars=len(text), summary_chars=len(summary), tokens_saved=entry.original_tokens - entry.summary_tokens)
        log.debug("%s: pruned step %d observation %d → %d chars", ctx.agent_name, step.step_number, len(text), len(summary))
        return entry

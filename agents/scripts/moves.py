"""The move machinery every role's script shares: a `Script` is an ordered list of `Move`s (a
tool and how to derive its arguments from the transcript); `next` takes the first move not yet
made, or answers when none is left. Plans and answers are composed here from the transcript.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from agents import transcript as tx
from agents.base import BUDGET_SPENT
from agents.transcript import Transcript

QUERY_CHARS = 1000

Args = Callable[[Transcript], "dict[str, Any] | str | None"]


@dataclass(frozen=True)
class Move:
    tool: str
    purpose: str
    args: Args  # returns None to skip the move (nothing to do it with)


@dataclass(frozen=True)
class Call:
    tool: str
    arguments: Any
    purpose: str


@dataclass(frozen=True)
class Answer:
    value: Any


@dataclass
class Script:
    role: str
    moves: "list[Move] | Callable[[Transcript], list[Move]]"  # fixed, or derived from the task (its budget)
    answer: Callable[[Transcript], Any]

    def moves_for(self, t: Transcript) -> list[Move]:
        return self.moves(t) if callable(self.moves) else self.moves

    def next(self, t: Transcript, available: set[str] | None = None) -> Call | Answer:
        if t.exchanges and BUDGET_SPENT in (t.exchanges[-1].error or ""):
            return Answer(self.answer(t))
        made = 0
        for move in self.remaining_moves(t, available, with_done=True):
            args = move.args(t.upto(made))
            if made < len(t.exchanges):
                made += 1
                continue
            return Call(move.tool, args, move.purpose)
        return Answer(self.answer(t))

    def remaining_moves(self, t: Transcript, available: set[str] | None = None, with_done: bool = False) -> list[Move]:
        """The moves this run makes (those it can argue for), optionally without those done."""
        moves, made = [], 0
        for move in self.moves_for(t):
            if available is not None and move.tool not in available:
                continue
            if move.args(t.upto(made)) is None:
                continue
            if made < len(t.exchanges):
                made += 1
                if not with_done:
                    continue
            moves.append(move)
        return moves

    def plan(self, t: Transcript, available: set[str] | None = None) -> str:
        """Facts survey and plan, as an LLM would write them: the facts learned (the most recent
        ones; earlier ones are counted), what is still to do, and the plan — long runs of
        similar moves are summarised rather than listed one by one."""
        lines = ["## 1. Facts survey", "### 1.1. Facts given in the task", f"- {clip(t.context, 300) or '(no task text)'}"]
        if t.exchanges:
            lines.append("### 1.2. Facts that we have learned")
            earlier = len(t.exchanges) - PLAN_FACTS
            if earlier > 0:
                lines.append(f"- ({earlier} earlier observations, above)")
            for e in t.exchanges[-PLAN_FACTS:]:
                fact = tx.headline(e.observation) if e.ok else f"{e.tool} failed: {clip(e.error or 'no result', 160)}"
                lines.append(f"- {_actor(e)}: {clip(fact, 200)}")
        todo = self.remaining_moves(t, available)
        lines.append("### 1.3. Facts still to look up")
        lines += [f"- {purpose}" for purpose in _condensed(todo)] or ["- nothing: the observations cover the task"]
        lines.append("## 2. Plan")
        steps = _condensed(todo)
        lines += [f"{i}. {purpose}" for i, purpose in enumerate(steps, 1)]
        lines.append(f"{len(steps) + 1}. Compose the final answer from the observations.")
        return "\n".join(lines)


PLAN_FACTS = 5  # facts a plan restates (the latest); the older ones are in the history above
PLAN_MOVES = 6  # moves a plan spells out before summarising the rest


def _condensed(moves: list[Move]) -> list[str]:
    """The purposes of `moves`: the first PLAN_MOVES, then one line for the repetitive middle,
    then the last move (the closing note)."""
    if len(moves) <= PLAN_MOVES + 2:
        return [m.purpose for m in moves]
    middle = moves[PLAN_MOVES:-1]
    counts: dict[str, int] = {}
    for m in middle:
        counts[m.tool] = counts.get(m.tool, 0) + 1
    kinds = ", ".join(f"{n} × {tool}" for tool, n in counts.items())
    return [
        *(m.purpose for m in moves[:PLAN_MOVES]),
        f"Keep going in the same rhythm for {len(middle)} more steps ({kinds}).",
        moves[-1].purpose,
    ]


def _actor(e: tx.Exchange) -> str:
    """The tool, or for a code action the team member it called."""
    match = re.search(r"\b(\w+)\(task=", e.arguments) if isinstance(e.arguments, str) else None
    return match.group(1) if match else e.tool


def clip(text: str, limit: int) -> str:
    """`text` on one line, cut to `limit` characters (an ellipsis marks the cut)."""
    text = " ".join((text or "").split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def report(t: Transcript, short: str, details: list[str], notes: list[str] | None = None) -> str:
    """A sub-agent's answer: three parts when a manager asked for them, else short + details."""
    failures = [f"Failed: {e.tool}: {clip(e.error or '', 160)}" for e in t.exchanges if e.error]
    iwmt = t.latest_iwmt()
    notes = [*(notes or []), *failures, *([f"IWMT: {iwmt}"] if iwmt else [])]
    if t.managed:
        parts = ["### 1. Task outcome (short version):", short, "### 2. Task outcome (extremely detailed version):"]
        parts += [f"- {d}" for d in details]
        parts += ["### 3. Additional context (if relevant):", *([f"- {n}" for n in notes] or ["- none"])]
        return "\n".join(parts)
    return "\n".join([short, *[f"- {d}" for d in [*details, *notes]]])


def final_code(value: Any) -> str:
    return f"final_answer({value!r})"


def as_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)

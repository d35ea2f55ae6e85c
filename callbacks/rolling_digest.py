"""The rolling digest: action steps older than a second horizon fold into one message.

A `[PRUNED]` summary still leaves its tool-call message (kept for pairing) and headline facts in
every later prompt (docs/benchmarks.md), so the cumulative cost of a long run stays
quadratic. Past `fold_after` steps, a step's tool call and result leave the prompt together —
pairing stays intact because both go — and one digest message, placed where the first folded
step was, lists every folded step in order:

    [DIGEST] Steps 1–40, folded: each step's tool call and the headline facts of its result.
    1. observe_environment {}: Environment: 12 basins, 72 memories, 7 principles.
    2. list_basins {"limit":10}: Basins: 10 of 12 basins (most active first): …
       - code-review: activation 0.00, stability 0.50, depth 0.00; keywords review, pull, …
    3. semantic_recall {"k":8,"query":"…"}: Recall '…': 8 of 72 memories; basins: …
       1. (1.00) The description of a pull request is half the review: …
    19. semantic_recall {"k":8,"query":"…"}: Recall '…': 8 of 72 memories; basins: …
       (as step 8)

The facts are those `[PRUNED]` summaries keep (callbacks/pruning.py): the headline's first
sentence and the top item's first sentence (with its marker and relevance), on indented lines.
A fact already written at the same place (headline, top item) by an earlier step is written as
"(as step N)": the prompt holds every fact once. An error keeps its first sentence.

This is a view, like the planning view: memory keeps every step (the trace store has them whole);
the agent builds the digest when it writes a prompt (`GroupAgent.write_memory_to_messages`), and
`parse_digest` reads it back for the scripted model's transcript, as an LLM would read it.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass, field
from typing import Any

from smolagents.memory import ActionStep, MemoryStep, PlanningStep
from smolagents.models import ChatMessage, MessageRole

MARK = "[DIGEST]"
HEADER = "{mark} Steps {first}–{last}, folded: each step's tool call and the headline facts of its result."
REPEATED = "(as step {step})"
_REPEATED = re.compile(r"^\(as step (\d+)\)$")
NO_CALL = "(no tool call)"
ERROR = "Error: "
FACT_SEPARATOR = "\n   "  # further facts of a step: indented lines under it

_LINE = re.compile(r"^(\d+)\. ")
_ITEM = re.compile(r"^(?:\d+\.|-|\*)\s+(?:\(\d+(?:\.\d+)?\)\s+)?")
_BOILERPLATE = ("Execution logs:", "Here is the final answer from your managed agent", "### 1. Task outcome")


@dataclass
class FoldedStep:
    """One action step as the digest shows it, with what its messages cost unfolded."""

    step_number: int
    calls: list[tuple[str, Any]]  # (tool name, arguments)
    facts: list[str]
    original_tokens: int = 0


def headline_facts(text: str | None) -> list[str]:
    """The headline's first sentence and the top item's first sentence (marker and relevance
    dropped) of an ORIGINAL observation: what a `[PRUNED]` summary keeps."""
    from callbacks.pruning import first_sentence

    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    while lines and lines[0].startswith(_BOILERPLATE):
        lines.pop(0)
    if not lines:
        return []
    facts = [first_sentence(lines[0])]
    item = next((line for line in lines[1:] if _ITEM.match(line)), None)
    if item is not None:
        marker = _ITEM.match(item).end()  # kept: a rank and relevance say how good the top item is
        facts.append(item[:marker] + first_sentence(item[marker:]))
    return [f for f in facts if f]


def fold(step: ActionStep, original: str | None) -> FoldedStep:
    calls = [(tc.name, tc.arguments) for tc in (step.tool_calls or [])]
    facts = [ERROR + _one_line(str(step.error))] if step.error is not None else headline_facts(original)
    return FoldedStep(step.step_number, calls, facts)


def _one_line(text: str) -> str:
    from callbacks.pruning import first_sentence

    return first_sentence(" ".join(text.split()))


def _call(name: str, arguments: Any) -> str:
    return f"{name} {json.dumps(arguments, ensure_ascii=False, separators=(',', ':'), sort_keys=True)}"


def digest_text(folded: list[FoldedStep]) -> str:
    """The digest message for `folded` (in step order). A fact line already written at the same
    place (headline, top item) of an earlier step is written as "(as step N)"."""
    seen: dict[tuple[int, str], int] = {}  # (place, fact) → the step that wrote it
    lines = [HEADER.format(mark=MARK, first=folded[0].step_number, last=folded[-1].step_number)]
    for step in folded:
        calls = " + ".join(_call(name, args) for name, args in step.calls) or NO_CALL
        shown = []
        for place, fact in enumerate(step.facts):
            if (place, fact) in seen:
                shown.append(REPEATED.format(step=seen[place, fact]))
            else:
                seen[place, fact] = step.step_number
                shown.append(fact)
        lines.append(f"{step.step_number}. {calls}: {FACT_SEPARATOR.join(shown)}".rstrip(": "))
    return "\n".join(lines)


@dataclass
class DigestStep(MemoryStep):
    """Stands in a prompt for the folded steps: one user message."""

    text: str
    step_numbers: list[int] = field(default_factory=list)

    def to_messages(self, summary_mode: bool = False) -> list[ChatMessage]:
        return [ChatMessage(role=MessageRole.USER, content=[{"type": "text", "text": self.text}])]


def fold_view(steps: list[Any], folded: dict[int, FoldedStep]) -> list[Any]:
    """`steps` with the folded action steps replaced by one DigestStep where the first of them
    was, and the superseded plans made before the last of them left out (their stubs say only
    that a newer plan exists). Memory is not modified."""
    if not folded:
        return list(steps)
    last = max(folded)
    digest = DigestStep(digest_text([folded[n] for n in sorted(folded)]), sorted(folded))
    view: list[Any] = []
    placed = False
    for i, step in enumerate(steps):
        if isinstance(step, ActionStep) and step.step_number in folded:
            if not placed:
                view.append(digest)
                placed = True
            continue
        if isinstance(step, PlanningStep) and _before_action(steps, i, last) and _superseded(step):
            continue
        view.append(step)
    return view


def _superseded(step: PlanningStep) -> bool:
    from callbacks.pruning import is_pruned

    return is_pruned(step.plan)


def _before_action(steps: list[Any], index: int, step_number: int) -> bool:
    """Whether the action step `step_number` comes after position `index`."""
    return any(isinstance(s, ActionStep) and s.step_number == step_number for s in steps[index + 1 :])


def parse_digest(text: str) -> list[tuple[int, str, Any, str]]:
    """(step, tool, arguments, facts) for every call a digest lists, in order; "(as step N)" is
    resolved to step N's facts, and a step's fact lines are joined by newlines."""
    if not text.startswith(MARK):
        return []
    entries: list[list[str]] = []
    for line in text.splitlines()[1:]:
        if _LINE.match(line):
            entries.append([line])
        elif line.startswith(" ") and entries:
            entries[-1].append(line.strip())
    out: list[tuple[int, str, Any, str]] = []
    decoder = json.JSONDecoder()
    written: dict[int, list[str]] = {}
    for first, *more in entries:
        match = _LINE.match(first)
        assert match is not None
        number, pos, calls = int(match.group(1)), match.end(), []
        if first.startswith(NO_CALL, pos):
            out.append((number, "", None, "\n".join([first[pos + len(NO_CALL) + 2 :], *more])))
            continue
        try:
            while True:
                space = first.index(" ", pos)
                name = first[pos:space]
                arguments, pos = decoder.raw_decode(first, space + 1)
                calls.append((name, arguments))
                if not first.startswith(" + ", pos):
                    break
                pos += 3
        except ValueError:
            continue
        facts = [first[pos + 2 :]] if first.startswith(": ", pos) else []
        facts = [_resolve(written, place, fact) for place, fact in enumerate([*facts, *more])]
        written[number] = facts
        facts = "\n".join(facts)
        out.extend((number, name, arguments, facts) for name, arguments in calls)
    return out


_HEADER = re.compile(re.escape(MARK) + r" Steps (\d+)–(\d+), folded")


def digest_span(text: str) -> tuple[int, int] | None:
    """The first and last step of the digest in `text`, if it holds one."""
    match = _HEADER.search(text)
    return (int(match.group(1)), int(match.group(2))) if match else None


def _resolve(written: dict[int, list[str]], place: int, fact: str) -> str:
    repeated = _REPEATED.match(fact)
    earlier = written.get(int(repeated.group(1)), []) if repeated else []
    return earlier[place] if place < len(earlier) else fact


def unfolded_tokens(step: ActionStep, original: str | None) -> int:
    """What `step`'s messages cost with its original observation (the counterfactual)."""
    from callbacks.tokens import count_tokens, render_messages

    whole = copy.copy(step)
    whole.observations = original
    return count_tokens(render_messages(whole.to_messages()))

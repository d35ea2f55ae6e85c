"""Metacognition (Decide): assess coherence, activate the basin reasoning ranked first, assess
again, record the decision; answer with the focus and the coherence before and after."""

from __future__ import annotations

from typing import Any

from agents import transcript as tx
from agents.scripts.moves import Move, Script, clip, report
from agents.transcript import Transcript


def _focus(t: Transcript) -> str | None:
    basins = tx.listed(tx.fact(t.task, "Relevant basins"))
    return basins[0] if basins else None


def _metacognition_note(t: Transcript) -> dict[str, Any]:
    checks = [tx.coherence(e.observation) for e in t.all("assess_coherence")]
    levels = " -> ".join(f"{c[0] * 100:.1f}%" for c in checks if c) or "unknown"
    focus = _focus(t)
    content = f"OODA decision note. Context: {clip(t.context, 300)}. Focus: {focus or 'none found'}. Coherence {levels}."
    return {"content": content, "kind": "episodic", "tags": ["ooda", "decision"], "importance": 0.6}


def _metacognition_answer(t: Transcript) -> str:
    checks = [tx.coherence(e.observation) for e in t.all("assess_coherence")]
    checks = [c for c in checks if c]
    act = t.last("activate_basin")
    activated = tx.activation(act.observation if act else None)
    note = t.last("remember")
    focus = _focus(t)
    details = []
    if checks:
        details.append(f"Coherence before: {checks[0][0] * 100:.1f}% ({checks[0][1]})")
        details.append(f"Coherence after: {checks[-1][0] * 100:.1f}% ({checks[-1][1]})")
    details.append(f"Activated: {f'{activated[0]} {activated[1]:.2f} -> {activated[2]:.2f}' if activated else 'nothing'}")
    details.append(f"Recommended focus: {focus or 'none'}")
    details.append(f"Recorded: {tx.memory_id(note.observation) if note else 'nothing'}")
    after = f"{checks[-1][0] * 100:.1f}%" if checks else "unknown"
    short = f"Decide to focus on '{focus}'; coherence now {after}." if focus else f"No basin to focus on; coherence {after}."
    return report(t, short, details)


METACOGNITION = Script(
    "metacognition",
    [
        Move("assess_coherence", "Assess coherence before deciding.", lambda t: {}),
        Move(
            "activate_basin",
            "Activate the basin reasoning ranked first.",
            lambda t: {"basin": f, "strength": 0.5, "source": "metacognition"} if (f := _focus(t)) else None,
        ),
        Move("assess_coherence", "Assess coherence after the activation.", lambda t: {}),
        Move("remember", "Record the decision as an episodic memory.", _metacognition_note),
    ],
    _metacognition_answer,
)

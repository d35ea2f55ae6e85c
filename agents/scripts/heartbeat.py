"""The heartbeat: observe, then rounds of survey -> recalls -> coherence that fill the step
budget the task states, then wrap up with a note; answer with what the recalls found."""

from __future__ import annotations

import re
from typing import Any

from agents import transcript as tx
from agents.scripts.moves import QUERY_CHARS, Args, Move, Script, clip, report
from agents.transcript import Transcript
from callbacks.pruning import first_sentence


BUDGET = re.compile(r"Step budget: (\d+) steps")
HEARTBEAT_DEFAULT_BUDGET = 10
HEARTBEAT_RECALLS_SHOWN = 5  # recalls a heartbeat note or answer details; the rest are counted
HEARTBEAT_RECALL_K = 8  # a heartbeat surveys what a basin holds: a broader view than a lookup's 5


def step_budget(t: Transcript, default: int = HEARTBEAT_DEFAULT_BUDGET) -> int:
    """The step budget the task states ("Step budget: N steps.")."""
    match = BUDGET.search(t.task)
    return int(match.group(1)) if match else default


def _heartbeat_query(n: int) -> Args:
    """Recall number n: the basin at position n of the latest survey (name + keywords). A query
    already asked in this run gets the next basins' names added, so no recall repeats."""

    def args(t: Transcript) -> dict[str, Any]:
        listing = t.last("list_basins")
        basins = tx.basin_activations(listing.observation if listing else None)
        if not basins:
            return {"query": clip(t.context, QUERY_CHARS), "k": HEARTBEAT_RECALL_K}
        names = [name for name, _ in basins]
        name = names[n % len(names)]
        words = [w for w in tx.basin_keywords(listing.observation if listing else None, name) if w != name]
        asked = {e.arguments.get("query") for e in t.all("semantic_recall") if isinstance(e.arguments, dict)}
        extra: list[str] = []
        query = " ".join([name, *words])
        for k in range(1, len(names)):
            if query not in asked:
                break
            extra.append(names[(n + k) % len(names)])
            query = " ".join([name, *extra, *words])
        return {"query": query, "k": HEARTBEAT_RECALL_K}

    return args


_RECALL_PURPOSES = ("Recall what the most active basin holds.", "Recall what the next basin holds.", "Recall what a third basin holds.")
RECALLS_PER_SURVEY = 3  # a recall's survey is at most three steps old, so memory pruning never hid it
ROUND = 2 + RECALLS_PER_SURVEY  # survey, three recalls, coherence


def _heartbeat_moves(t: Transcript) -> list[Move]:
    """Observe; rounds of survey → three recalls → coherence; then wrap up: observe again (what
    the heartbeat changed), the basins now active, the note. The answer is the budget's last step.
    A budget too small for one round and the wrap-up keeps the round's order and drops the rest."""
    budget = step_budget(t)
    observe = Move("observe_environment", "Observe the environment.", lambda t: {})
    active = Move("list_basins", "See which basins the recalls activated.", lambda t: {"active_only": True, "limit": 5})
    note = Move("remember", "Write a heartbeat note.", _heartbeat_note)
    middle = budget - 5 if budget >= 5 + ROUND else 0  # steps between the first observe and the wrap-up
    moves, recalls = [observe], 0
    for i in range(middle or ROUND):
        round_, position = divmod(i, ROUND)
        if position == 0:
            moves.append(Move("list_basins", "Survey the basins." if round_ == 0 else "Survey the basins again.", lambda t: {"limit": 10}))
        elif position <= RECALLS_PER_SURVEY:
            purpose = _RECALL_PURPOSES[recalls] if recalls < len(_RECALL_PURPOSES) else "Recall what another basin holds."
            moves.append(Move("semantic_recall", purpose, _heartbeat_query(recalls)))
            recalls += 1
        else:
            moves.append(Move("assess_coherence", "Check coherence." if round_ == 0 else "Check coherence again.", lambda t: {}))
    if middle:
        moves += [Move("observe_environment", "Observe the environment again: what the heartbeat changed.", lambda t: {}), active, note]
    else:  # a short budget: as much of one round as fits, the active basins, the note
        room = budget - 1  # the last step answers
        moves = [*moves, active][: room - 1] + [note] if room >= 2 else moves[:room]
    return moves


def _top_fact(hit: tx.Hit) -> str:
    """What a heartbeat reports of a recall: the top memory's first sentence (its headline fact)."""
    return clip(first_sentence(hit.text), 160)


def _heartbeat_summary(t: Transcript) -> tuple[str, list[str]]:
    env = t.last("observe_environment")
    checks = [c for c in (tx.coherence(e.observation) for e in t.all("assess_coherence")) if c]
    listing = t.last("list_basins")
    active = tx.basin_activations(listing.observation if listing else None)
    recalls = t.all("semantic_recall")
    details = [f"Environment: {tx.headline(env.observation) if env else 'not observed'}"]
    details.append(f"Active basins: {', '.join(f'{n} {a:.2f}' for n, a in active[:5]) or 'none'}")
    if len(recalls) > HEARTBEAT_RECALLS_SHOWN:
        details.append(f"Recalls: {len(recalls)}; the last {HEARTBEAT_RECALLS_SHOWN}:")
    for e in recalls[-HEARTBEAT_RECALLS_SHOWN:]:
        hits = tx.recall_hits(e.observation)
        query = e.arguments.get("query", "") if isinstance(e.arguments, dict) else ""
        details.append(f"Recall {clip(query, 40)!r}: " + (f"({hits[0].relevance:.2f}) {_top_fact(hits[0])}" if hits else "nothing"))
    if checks:
        trend = checks if len(checks) <= 4 else [checks[0], checks[-1]]
        details.append("Coherence: " + " -> ".join(f"{c[0] * 100:.1f}% ({c[1]})" for c in trend))
    short = (
        f"Heartbeat: {len(active)} active basins"
        + (f", coherence {checks[-1][0] * 100:.1f}%" if checks else "")
        + f", {len(recalls)} recalls."
    )
    return short, details


def _heartbeat_note(t: Transcript) -> dict[str, Any]:
    """A short note: the summary line, the active basins, and the headline fact of the last three
    recalls."""
    short, details = _heartbeat_summary(t)
    active = [d for d in details if d.startswith("Active basins")]
    facts = [clip(d.split(": ", 1)[-1], 100) for d in details if d.startswith("Recall ")][-3:]
    body = [*active, *([f"Recalled: {'; '.join(facts)}"] if facts else [])]
    return {"content": clip(" ".join([short, *body]), 500), "kind": "episodic", "tags": ["heartbeat"], "importance": 0.3}


def _heartbeat_answer(t: Transcript) -> str:
    short, details = _heartbeat_summary(t)
    note = t.last("remember")
    return report(t, short, [*details, f"Noted: {tx.memory_id(note.observation) if note else 'nothing'}"])


HEARTBEAT = Script("heartbeat", _heartbeat_moves, _heartbeat_answer)

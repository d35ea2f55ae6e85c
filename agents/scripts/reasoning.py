"""Reasoning (Orient): recall for the context and the basins perception found, find the
principles, list the active basins; answer with the basins ranked by what supports them."""

from __future__ import annotations

from typing import Any

from agents import transcript as tx
from agents.scripts.moves import QUERY_CHARS, Move, Script, clip, report
from agents.transcript import Transcript


def _reasoning_query(t: Transcript) -> dict[str, Any]:
    basins = tx.listed(tx.fact(t.task, "Recalled basins"))
    return {"query": " ".join([t.context[:QUERY_CHARS], *basins]).strip(), "k": 5}


def _recalled(t: Transcript) -> list[tx.Hit]:
    """Hits of this run's recalls, without the experience perception captured moments ago: it
    restates the context, so it would always rank first and ground nothing."""
    captured = set(tx.listed(tx.fact(t.task, "Captured")))
    return [h for e in t.all("semantic_recall") for h in tx.recall_hits(e.observation) if h.memory_id not in captured]


def _ranked_basins(t: Transcript) -> list[tuple[str, float]]:
    score: dict[str, float] = {}
    for hit in _recalled(t):
        for b in hit.basins:
            score[b] = score.get(b, 0.0) + hit.relevance
    listing = t.last("list_basins")
    for name, level in tx.basin_activations(listing.observation if listing else None):
        score[name] = score.get(name, 0.0) + level
    return sorted(score.items(), key=lambda kv: (-kv[1], kv[0]))


# Notes the agents write restate a past situation rather than tell what happened in it.
OWN_NOTES = ("OODA decision note", "Context:", "Heartbeat:")


def _reasoning_answer(t: Transcript) -> str:
    wisdom, listing = t.last("query_wisdom"), t.last("list_basins")
    hits = _recalled(t)
    grounding = [h for h in hits if not h.text.startswith(OWN_NOTES)]
    rules = tx.principles(wisdom.observation if wisdom else None)
    ranked = _ranked_basins(t)
    active = tx.basin_activations(listing.observation if listing else None)
    details = [
        f"Relevant basins: {', '.join(name for name, _ in ranked[:5]) or 'none'}",
        f"Top memory: {clip(grounding[0].text, 200) if grounding else 'none'}",
        f"Principle: {rules[0] if rules else 'none'}",
        f"Active basins: {', '.join(f'{n} {a:.2f}' for n, a in active) or 'none'}",
    ]
    if ranked:
        short = f"Oriented toward '{ranked[0][0]}' (score {ranked[0][1]:.2f}), supported by {len(hits)} memories and {len(rules)} principles."
    else:
        short = "No basin or memory relates to the context yet: orientation rests on the context alone."
    return report(t, short, details)


REASONING = Script(
    "reasoning",
    [
        Move("semantic_recall", "Recall memories for the context and the basins perception found.", _reasoning_query),
        Move("query_wisdom", "Find the principles for the context.", lambda t: {"topic": t.context[:QUERY_CHARS], "k": 3}),
        Move("list_basins", "List the basins active now.", lambda t: {"active_only": True, "limit": 10}),
    ],
    _reasoning_answer,
)

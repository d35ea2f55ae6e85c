"""Perception (Observe): survey the environment, recall and look up what bears on the context,
capture the moment; answer with what was observed."""

from __future__ import annotations

from typing import Any

from agents import transcript as tx
from agents.scripts.moves import QUERY_CHARS, Move, Script, clip, report
from agents.transcript import Transcript


def _perception_capture(t: Transcript) -> dict[str, Any]:
    env = t.last("observe_environment")
    recall = t.last("semantic_recall")
    hits = tx.recall_hits(recall.observation if recall else None)
    return {
        "senses": clip(tx.headline(env.observation) if env else "a request arrived", 1000),
        "cognitions": clip(hits[0].text, 1000) if hits else "nothing stored relates to this yet",
        "context": clip(t.context, 2000) or "OODA observe phase",
    }


def _perception_answer(t: Transcript) -> str:
    env, recall, wisdom, capture = (t.last(n) for n in ("observe_environment", "semantic_recall", "query_wisdom", "mosaeic_capture"))
    hits = tx.recall_hits(recall.observation if recall else None)
    rules = tx.principles(wisdom.observation if wisdom else None)
    basins = sorted({b for h in hits for b in h.basins})
    details = [f"Environment: {tx.headline(env.observation) if env else 'not observed'}"]
    details.append(f"Recalled: {tx.headline(recall.observation) if recall else 'nothing'}")
    details += [f"Memory ({h.relevance:.2f}): {clip(h.text, 200)}" for h in hits[:3]]
    details.append(f"Recalled basins: {', '.join(basins) or 'none'}")
    details.append(f"Wisdom: {rules[0] if rules else 'none matched'}")
    details.append(f"Captured: {tx.memory_id(capture.observation) if capture else 'nothing'}")
    short = f"Observed {len(hits)} related memories and {len(rules)} principles; basins in play: {', '.join(basins) or 'none'}."
    return report(t, short, details)


PERCEPTION = Script(
    "perception",
    [
        Move("observe_environment", "Observe the environment: basins, memories, coherence, recent runs.", lambda t: {}),
        Move("semantic_recall", "Recall the memories related to the context.", lambda t: {"query": t.context[:QUERY_CHARS], "k": 5}),
        Move("query_wisdom", "Look up the principles that bear on the context.", lambda t: {"topic": t.context[:QUERY_CHARS], "k": 3}),
        Move("mosaeic_capture", "Capture this moment as a MOSAEIC experience.", _perception_capture),
    ],
    _perception_answer,
)

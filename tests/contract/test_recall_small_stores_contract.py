"""Contract: honest word scores on small stores, the same on every backend.

FTS5's own idf, ln((N − n + 0.5) / (n + 0.5)), is zero for a term in half the memories or more
(floored at 1e-6): with three memories, two saying "budget", a query "budget" scored 1e-6 for
both. Recall uses Lucene's positive idf (dionysus_mcp/store/bm25.py) on every store, so a word
in most memories still counts, `lexical` stays in [0, 1] and memories holding the query's words
come first — with 1, 2, 3 and 10 memories, recalled through the real service and default model.
"""

from __future__ import annotations

import pytest

from dionysus_mcp.cognition.basins import BasinService
from dionysus_mcp.cognition.memory import MemoryService
from dionysus_mcp.cognition.minilm import MiniLMEmbedder
from dionysus_mcp.store import bm25
from dionysus_mcp.store.base import Store
from schema.text import memory_terms, tokens

OTHER = [
    "Walked the dog along the river before breakfast",
    "The cat sleeps on the warm windowsill",
    "Rotate the API keys every ninety days",
    "Planted tulips by the fence in the garden",
    "Dentist appointment moved to Thursday morning",
]
BUDGET = [
    "The budget for the offsite is tight this quarter",
    "Marketing asked for more budget",
    "Budget review with finance on Monday: the travel budget is cut",
    "Cut the software budget by ten percent",
    "Budget",
]


@pytest.fixture(scope="module")
def embedder() -> MiniLMEmbedder:
    return MiniLMEmbedder()


def corpus(size: int, with_word: int) -> list[str]:
    """`size` notes, the first `with_word` of them mentioning "budget"."""
    return BUDGET[:with_word] + OTHER[: size - with_word] if size <= 5 else (BUDGET + OTHER)[:size]


CASES = [(1, 1), (2, 1), (2, 2), (3, 2), (3, 3), (10, 5)]


@pytest.mark.parametrize(("size", "with_word"), CASES)
async def test_a_word_in_half_or_more_of_the_memories_still_scores(store: Store, embedder, size, with_word):
    notes = corpus(size, with_word)
    service = MemoryService(store.memories, BasinService(store.basins, 3600.0, embedder=embedder), embedder=embedder)
    ids = [(await service.remember(text)).memory_id for text in notes]
    terms = tokens("budget")
    found = await store.memories.search(terms, None, None, 10)
    matches = [(mid, [t for t in memory_terms(text, []) if t in terms], len(memory_terms(text, []))) for mid, text in zip(ids, notes)]
    df = {"budget": with_word}
    expected = bm25.scores([m for m in matches if m[1]], terms, size, sum(m[2] for m in matches), df)
    assert dict(found.lexical) == pytest.approx(expected, abs=1e-5)
    assert len(found.lexical) == with_word and min(s for _, s in found.lexical) > 0.01  # not FTS5's 1e-6
    assert found.query_weight == pytest.approx(bm25.idf(size, with_word), abs=1e-6) and found.query_weight > 0.04

    result = await service.semantic_recall("budget", k=10)
    with_budget = {mid for mid, text in zip(ids, notes) if "budget" in text.lower()}
    assert {h.memory_id for h in result.hits[:with_word]} == with_budget  # the word's memories first
    for hit in result.hits:
        assert 0.0 <= hit.lexical <= 1.0 and 0.0 <= hit.relevance <= 1.0 and 0.0 <= hit.score <= 1.0, hit
        assert (hit.lexical > 0.3) == (hit.memory_id in with_budget), hit
    assert result.hits[0].relevance == 1.0 and result.stale == 0 and result.note is None


async def test_a_memory_of_average_length_holding_the_word_once_scores_lexical_one(store: Store, embedder):
    service = MemoryService(store.memories, BasinService(store.basins, 3600.0, embedder=embedder), embedder=embedder)
    await service.remember("Budget")  # one memory, one term: its length is the average
    [hit] = (await service.semantic_recall("budget", k=3)).hits
    assert hit.lexical == 1.0 and hit.score == pytest.approx(0.75)  # importance 0.5: × 0.75

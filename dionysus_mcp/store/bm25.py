"""BM25 as recall scores words, one formula for every store (docs/COGNITION.md, "Recall").

    score(d) = Σ over query terms t in d of  idf(t) · tf · (k1 + 1) / (tf + k1 · (1 − b + b · |d| / avgdl))
    idf(t)   = ln(1 + (N − n + 0.5) / (n + 0.5))          Lucene's form: positive for every n

k1 = 1.2 and b = 0.75 (FTS5's and Lucene's defaults); N memories, n of them with the term,
avgdl their average number of terms, all over the whole store. FTS5's own `bm25()` uses
ln((N − n + 0.5) / (n + 0.5)) floored at 1e-6, which is zero for a term in half the memories or
more: in a store of three memories, two saying "budget", a query "budget" scored 1e-6 for both.
Lucene's idf never reaches zero, and it is always the larger of the two (ln(1 + x) > ln x), so a
document's Lucene score is at least its FTS5 score and at most that plus `slack`: the SQLite
store lets FTS5 order the candidates and rescores them here, fetching more until no unfetched
memory could still enter the top (`exact_after`).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable

K1 = 1.2
B = 0.75
_FTS5_FLOOR = 1e-6


def idf(total: int, df: int) -> float:
    """Lucene's idf: ln(1 + (N − n + 0.5) / (n + 0.5)); > 0 whenever N ≥ n."""
    if total <= 0:
        return 0.0
    return math.log(1.0 + (total - df + 0.5) / (df + 0.5))


def fts5_idf(total: int, df: int) -> float:
    """SQLite FTS5's idf, which its `bm25()` ranks by: only to bound the difference."""
    if total <= 0:
        return _FTS5_FLOOR
    value = math.log((total - df + 0.5) / (df + 0.5))
    return value if value > 0 else _FTS5_FLOOR


def score(term_counts: Counter, length: int, idfs: dict[str, float], avgdl: float) -> float:
    """The BM25 of one memory (its terms counted) for query terms with their idf."""
    norm = K1 * (1 - B + B * length / (avgdl or 1.0))
    total = 0.0
    for term, weight in idfs.items():
        tf = term_counts.get(term, 0)
        if tf:
            total += weight * tf * (K1 + 1) / (tf + norm)
    return round(total, 6)


def scores(matches: Iterable[tuple[str, list[str], int]], terms: Iterable[str], total: int, tokens: int,
           df: dict[str, int]) -> dict[str, float]:
    """BM25 for each (id, its terms that are query terms, its length in terms)."""
    idfs = {t: idf(total, df.get(t, 0)) for t in set(terms)}
    avgdl = tokens / total if total else 1.0
    return {mid: score(Counter(hit), length, idfs, avgdl) for mid, hit, length in matches}


def query_weight(terms: Iterable[str], total: int, df: dict[str, int]) -> float:
    """Σ idf over the distinct query terms: what a memory of average length mentioning each once
    would score, which puts BM25 on a 0..1 scale (ranking.fuse)."""
    return round(sum(idf(total, df.get(t, 0)) for t in set(terms)), 6)


def slack(terms: Iterable[str], total: int, df: dict[str, int]) -> float:
    """How much more than FTS5's bm25() a memory can score here: tf · (k1 + 1) / (tf + norm)
    stays below k1 + 1, so Σ (idf − FTS5 idf) · (k1 + 1) bounds it."""
    return sum(max(0.0, idf(total, df.get(t, 0)) - fts5_idf(total, df.get(t, 0))) for t in set(terms)) * (K1 + 1)


def exact_after(ranked: list[float], limit: int, last_fts5: float, bound: float) -> bool:
    """Whether the best `limit` of the fetched memories (their scores here, best first) are the
    store's best: any memory not fetched scored at most `last_fts5` in FTS5, so at most
    `last_fts5 + bound` here. Ties go by id, so an equal score might still enter: strictly above."""
    return len(ranked) >= limit and ranked[limit - 1] > last_fts5 + bound + 1e-9

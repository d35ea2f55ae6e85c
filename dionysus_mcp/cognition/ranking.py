"""Fusing lexical and embedding rankings into one (formulas in docs/COGNITION.md, "Recall").

Both inputs are candidate lists, best first: (key, lexical score) from BM25 and (key, cosine)
from the vectors. Two fusions are implemented; `scripts/benchmark_recall.py` measures both and
`FUSION` names the one recall uses:

- `rrf`: reciprocal rank fusion, Σ 1 / (RRF_K + rank) over the lists a key appears in. It needs
  no calibration between BM25 (unbounded, corpus-dependent) and cosine (model-dependent).
- `weighted`: with lex = min(1, bm25 / query weight) and w the lexical weight,
  max(lex³, w · lex + (1 − w) · max(0, cosine)), where the query weight is the sum of the query terms' idf (`MemorySearch.query_weight`: what
  a memory of average length mentioning every query term once scores), so a memory that shares
  one common word with a long query counts little and one that matches a rare code counts fully.
  Without a query weight (another lexical formula), bm25 / best bm25 of the query. The lex³
  floor lets a memory that contains every query term (a ticket code, an invoice number) win
  over memories that merely sound alike; partial matches barely reach it.

Either is then multiplied by the record's weight (0.5 + 0.5 · importance for memories,
confidence for wisdom). Ties: newer first, then key, so the order never depends on a backend.

The settings of the ranking — the fusion and the lexical weight — are `Ranking`s, one per
embedding model, in `RANKINGS` below and nowhere else: each model's cosines sit on their own
scale, so each gets the lexical weight measured for it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

RRF_K = 60
FUSION = "weighted"
FUSIONS = ("rrf", "weighted")


@dataclass(frozen=True)
class Ranking:
    """How recall and wisdom rank: the fusion, and the lexical part's share in weighted fusion."""

    fusion: str = FUSION
    lexical_weight: float = 0.2


# The recall weights, by DIONYSUS_EMBEDDER, measured with scripts/benchmark_recall.py
# (docs/benchmarks.md, "The default model" for minilm's; wordllama's was fitted when it was the
# default). `none` has no cosine, so its weight does not matter.
RANKINGS = {
    "minilm": Ranking(lexical_weight=0.05),
    "wordllama": Ranking(lexical_weight=0.2),
    "none": Ranking(),
}
DEFAULT = Ranking()


def ranking_for(embedder: object) -> Ranking:
    """The ranking settings of an embedder (`Embedder.setting`: minilm, wordllama, none)."""
    return RANKINGS.get(getattr(embedder, "setting", ""), DEFAULT)


@dataclass(frozen=True)
class Fused:
    key: str
    score: float  # fused, times the record's weight
    lexical: float  # BM25 (0 when the key shares no term with the query)
    lexical_part: float  # min(1, BM25 / query weight): the 0..1 share fusion uses
    semantic: float | None  # cosine (None when the key was not a semantic candidate)
    lexical_rank: int | None
    semantic_rank: int | None


def importance_weight(importance: float) -> float:
    return 0.5 + 0.5 * importance


def fuse(
    lexical: Sequence[tuple[str, float]],
    semantic: Sequence[tuple[str, float]],
    weight: Callable[[str], float],
    newer: Callable[[str], float],
    method: str = DEFAULT.fusion,
    query_weight: float | None = None,
    lexical_weight: float = DEFAULT.lexical_weight,
) -> list[Fused]:
    """All candidates, fused and weighted, best first. `newer(key)` orders ties (larger first).
    `method` and `lexical_weight` are the embedder's `Ranking` (RANKINGS): cosines differ per model."""
    if method not in FUSIONS:
        raise ValueError(f"unknown fusion {method!r}: expected one of {', '.join(FUSIONS)}")
    lex = {key: (rank, score) for rank, (key, score) in enumerate(lexical, start=1)}
    sem = {key: (rank, score) for rank, (key, score) in enumerate(semantic, start=1)}
    scale = query_weight or max((score for _, score in lexical), default=0.0) or 1.0
    out = []
    for key in dict.fromkeys([k for k, _ in lexical] + [k for k, _ in semantic]):
        lex_rank, lex_score = lex.get(key, (None, 0.0))
        sem_rank, sem_score = sem.get(key, (None, None))
        part = min(1.0, lex_score / scale)
        if method == "rrf":
            base = (1.0 / (RRF_K + lex_rank) if lex_rank else 0.0) + (1.0 / (RRF_K + sem_rank) if sem_rank else 0.0)
        else:
            base = max(part**3, lexical_weight * part + (1.0 - lexical_weight) * max(0.0, sem_score or 0.0))
        out.append(Fused(key, round(base * weight(key), 9), lex_score, round(part, 6), sem_score, lex_rank, sem_rank))
    out.sort(key=lambda f: (-f.score, -newer(f.key), f.key))
    return out

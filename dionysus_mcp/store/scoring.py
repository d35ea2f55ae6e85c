"""Lexical scoring both backends share: SQLite FTS5's idf, so the Neo4j fallback scores alike."""

from __future__ import annotations

import math


def fts5_idf(total: int, df: int) -> float:
    """SQLite FTS5's idf: ln((N - n + 0.5) / (n + 0.5)), floored at 1e-6 as bm25() does."""
    if total <= 0:
        return 1e-6
    idf = math.log((total - df + 0.5) / (df + 0.5))
    return idf if idf > 0 else 1e-6

"""The fusion of lexical and semantic candidate lists (dionysus_mcp/cognition/ranking.py)."""

from __future__ import annotations

import pytest

from dionysus_mcp.cognition.ranking import fuse, importance_weight

ONE = {"weight": lambda key: 1.0, "newer": lambda key: 0.0}


def test_weighted_fusion_puts_bm25_on_the_query_weight_scale():
    lexical = [("partial", 2.0)]  # shares one common word: 2 of a query weight of 10
    semantic = [("meaning", 0.5), ("partial", 0.1)]
    [first, second] = fuse(lexical, semantic, method="weighted", query_weight=10.0, **ONE)
    assert first.key == "meaning" and first.score == pytest.approx(0.8 * 0.5)
    assert (first.lexical, first.semantic, first.lexical_rank, first.semantic_rank) == (0.0, 0.5, None, 1)
    assert second.score == pytest.approx(0.2 * 0.2 + 0.8 * 0.1)


def test_a_memory_holding_every_query_term_beats_one_that_only_sounds_alike():
    lexical = [("invoice-60414", 16.0), ("about-invoices", 5.9)]
    semantic = [("about-invoices", 0.65), ("invoice-60414", 0.3)]
    ranked = fuse(lexical, semantic, method="weighted", query_weight=15.8, **ONE)
    assert [f.key for f in ranked] == ["invoice-60414", "about-invoices"]
    assert ranked[0].score == 1.0  # lex = 1: the lex³ floor


def test_rrf_and_weights_and_ties():
    ranked = fuse([("a", 3.0), ("b", 1.0)], [("b", 0.9)], weight=lambda k: importance_weight(0.0 if k == "a" else 1.0),
                  newer=lambda k: 0.0, method="rrf")
    assert [f.key for f in ranked] == ["b", "a"]
    assert ranked[0].score == pytest.approx(1 / 62 + 1 / 61)
    assert ranked[1].score == pytest.approx(0.5 / 61)
    tied = fuse([("x", 1.0), ("y", 1.0)], [], weight=lambda k: 1.0, newer=lambda k: {"x": 1.0, "y": 2.0}[k])
    assert [f.key for f in tied] == ["y", "x"]  # newer first
    with pytest.raises(ValueError):
        fuse([], [], method="other", **ONE)

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


def test_the_lexical_weight_decides_between_a_word_sharer_and_a_paraphrase():
    # A word-sharing distractor against the paraphrase: the lexical share decides which leads.
    lexical = [("shares-a-word", 5.0)]
    semantic = [("paraphrase", 0.60), ("shares-a-word", 0.52)]
    by_default = fuse(lexical, semantic, method="weighted", query_weight=10.0, **ONE)
    assert [f.key for f in by_default] == ["shares-a-word", "paraphrase"]  # 0.2·0.5 + 0.8·0.52 > 0.8·0.6
    smaller = fuse(lexical, semantic, method="weighted", query_weight=10.0, lexical_weight=0.1, **ONE)
    assert [f.key for f in smaller] == ["paraphrase", "shares-a-word"]  # 0.1·0.5 + 0.9·0.52 < 0.9·0.6
    assert smaller[0].score == pytest.approx(0.9 * 0.6)


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


def test_rrf_counts_a_key_found_by_one_list_only_once():
    # "sem-only" has no lexical rank: it gets the semantic term alone, not a lexical one too.
    ranked = fuse([("lex-only", 2.0)], [("sem-only", 0.4)], method="rrf", **ONE)
    by_key = {f.key: f for f in ranked}
    assert by_key["sem-only"].score == round(1 / 61, 9) and by_key["lex-only"].score == round(1 / 61, 9)
    assert (by_key["sem-only"].lexical_rank, by_key["sem-only"].semantic_rank) == (None, 1)
    assert (by_key["lex-only"].lexical_rank, by_key["lex-only"].semantic_rank) == (1, None)
    assert by_key["sem-only"].lexical == 0.0 and by_key["lex-only"].semantic is None


def test_the_lexical_floor_is_the_cube_and_scores_keep_nine_decimals():
    # 0.9 of the query weight and no semantic support: the floor 0.9³ beats 0.2 · 0.9.
    [only] = fuse([("k", 9.0)], [], method="weighted", query_weight=10.0, weight=lambda k: 1 / 3, newer=lambda k: 0.0)
    assert only.score == round(0.9**3 / 3, 9) and only.lexical_rank == 1
    # Without a query weight, the best BM25 of the query is the scale.
    ranked = fuse([("a", 4.0), ("b", 2.0)], [], method="weighted", **ONE)
    assert [f.score for f in ranked] == [1.0, round(max(0.5**3, 0.2 * 0.5), 9)]


def test_an_unknown_fusion_names_the_ones_there_are():
    with pytest.raises(ValueError, match=r"^unknown fusion 'other': expected one of rrf, weighted$"):
        fuse([], [], method="other", **ONE)


def test_the_recall_weights_are_the_rankings_of_each_embedder_in_one_place():
    from dionysus_mcp.cognition.embedding import EMBEDDERS, NoEmbedder, WordLlamaEmbedder
    from dionysus_mcp.cognition.minilm import MiniLMEmbedder
    from dionysus_mcp.cognition.ranking import DEFAULT, RANKINGS, ranking_for

    assert set(RANKINGS) == set(EMBEDDERS)
    assert ranking_for(MiniLMEmbedder()).lexical_weight == 0.05
    assert ranking_for(WordLlamaEmbedder()).lexical_weight == 0.2
    assert ranking_for(NoEmbedder()) == RANKINGS["none"]
    assert ranking_for(object()) == DEFAULT  # an embedder of a test's own


def test_a_negative_cosine_counts_as_no_meaning_not_as_less_than_none():
    # Two memories sharing the same word with the query: one merely unrelated in meaning
    # (cosine -0.4), one with no vector at all. Meaning must not push the first below the second.
    lexical = [("unrelated", 3.0), ("no-vector", 3.0)]
    semantic = [("unrelated", -0.4)]
    fused = {f.key: f for f in fuse(lexical, semantic, method="weighted", query_weight=10.0, **ONE)}
    assert fused["unrelated"].score == fused["no-vector"].score == pytest.approx(0.2 * 0.3)  # not the 0.3³ floor
    assert fused["unrelated"].semantic == -0.4  # the cosine itself is reported as it is

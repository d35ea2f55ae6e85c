"""The benchmark's paraphrase set is what it claims: no query shares a content word with its
memory (so only meaning can find it), at least 100 pairs, and distractors are deterministic."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def load_corpus():
    if "recall_corpus" in sys.modules:
        return sys.modules["recall_corpus"]
    spec = importlib.util.spec_from_file_location("recall_corpus", ROOT / "scripts" / "recall_corpus.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["recall_corpus"] = module
    spec.loader.exec_module(module)
    return module


def test_paraphrase_queries_share_no_content_word_with_their_memory():
    corpus = load_corpus()
    assert len(corpus.PARAPHRASES) >= 100
    assert len({q for _, q in corpus.PARAPHRASES}) == len(corpus.PARAPHRASES)
    overlaps = [(m, q) for m, q in corpus.PARAPHRASES if corpus.shared_words(m, q)]
    assert overlaps == []
    # the check itself sees a shared word, after plural folding
    assert corpus.shared_words("my cats sleep", "a cat naps") == {"cat"}


def test_exact_queries_are_in_their_memory_and_distractors_are_deterministic():
    corpus = load_corpus()
    assert all(corpus.shared_words(m, q) for m, q in corpus.EXACT)
    assert corpus.distractors(50, seed=3) == corpus.distractors(50, seed=3)
    assert corpus.distractors(50, seed=3) != corpus.distractors(50, seed=4)

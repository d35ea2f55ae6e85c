"""Tokenizing and matching shared by recall, wisdom and basin lookup.

The tokenizer itself lives in `schema.text`: the stores index the same terms."""

from __future__ import annotations

import difflib

from schema.text import STOPWORDS, memory_terms, normalize, tokens

__all__ = ["STOPWORDS", "close_matches", "memory_terms", "normalize", "tokens"]


def close_matches(name: str, candidates: list[str], n: int = 3) -> list[str]:
    return difflib.get_close_matches(name, candidates, n=n, cutoff=0.5)

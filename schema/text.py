"""Tokenizing shared by every layer: recall, wisdom and basin lookup in the services, and the
stores, which index the same normalized terms in their full-text engines (FTS5 on SQLite, a
full-text index or its fallback on Neo4j) so both backends score identical token streams."""

from __future__ import annotations

import re

_WORD = re.compile(r"[a-z0-9]+")

STOPWORDS = frozenset(
    """a an and are as at be but by for from has have how i if in into is it its of on or
    our so that the their them then there these they this to was we were what when where which
    who why will with you your do does did not no can about""".split()
)


def normalize(word: str) -> str:
    # A light plural fold ("memories" ~ "memory", "basins" ~ "basin"): enough for recall over
    # short notes, and deterministic, unlike a full stemmer's corner cases.
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def tokens(text: str) -> list[str]:
    """Lower-cased content words, stopwords dropped, plurals folded."""
    return [normalize(w) for w in _WORD.findall(text.lower()) if w not in STOPWORDS]


def memory_terms(content: str, tags: list[str] | tuple[str, ...]) -> list[str]:
    """The terms a memory is indexed under: its content and tags, tokenized."""
    return tokens(content + " " + " ".join(tags))

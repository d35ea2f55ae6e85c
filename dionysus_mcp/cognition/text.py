"""Tokenizing and matching shared by recall, wisdom and basin lookup."""

from __future__ import annotations

import difflib
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


def close_matches(name: str, candidates: list[str], n: int = 3) -> list[str]:
    return difflib.get_close_matches(name, candidates, n=n, cutoff=0.5)

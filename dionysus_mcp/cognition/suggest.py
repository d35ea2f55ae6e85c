"""Names close to a mistyped one, for the "did you mean" of an unknown basin.

(The tokenizer the services and the stores share is `schema/text.py`.)"""

from __future__ import annotations

import difflib


def close_matches(name: str, candidates: list[str], n: int = 3) -> list[str]:
    return difflib.get_close_matches(name, candidates, n=n, cutoff=0.5)

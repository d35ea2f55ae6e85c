"""The tokenizer token counts use (callbacks/tokens.py, callbacks/pruning.py), one per process.

Building its vocabulary takes a noticeable fraction of a second (docs/benchmarks.md, "Figures behind the code") inside
bpe-openai's Rust extension, which holds the GIL throughout: built during a request, it stalls the event loop whatever thread builds it. So the
server builds it in a background thread when it is idle (dionysus_mcp/warm_up.py), before an
agent call needs it; this module imports nothing heavy (no smolagents), so that costs start-up
nothing.
"""

from __future__ import annotations

import threading
from typing import Any

ENCODING_NAME = "o200k_base"
_encoding: Any = None
_lock = threading.Lock()


def encoding() -> Any:
    global _encoding  # a process-wide cache: the vocabulary is immutable and costly to load
    with _lock:
        if _encoding is None:
            import bpe_openai

            _encoding = bpe_openai.get_encoding(ENCODING_NAME)
        return _encoding



def count_tokens(text: str) -> int:
    # encode_ordinary: text that happens to contain "<|endoftext|>" is counted, not rejected.
    return len(encoding().encode_ordinary(text)) if text else 0

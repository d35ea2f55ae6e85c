"""Text embeddings behind a small interface, so the model can be swapped by configuration.

`Embedder.embed(texts)` returns a float32 matrix, one L2-normalized row per text (a zero row for
a text with nothing to embed), so cosine similarity is a dot product. Each stored vector carries
`name` and `dim`; vectors of another model are never compared with this one's (`dionysus-mcp
reindex` re-embeds them).

The default, WordLlama's `l2_supercat` at 256 dimensions, ships its weights and tokenizer inside
the `wordllama` wheel: it is loaded from the installed package folder with downloads disabled,
so it works offline. Loading takes ~0.4 s, so it happens lazily, once, in a worker thread
(`warm_up` at start-up; a first `embed` waits for it), never on the event loop.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from typing import Any

import anyio
import numpy as np

from dionysus_mcp.errors import DionysusError

EMBEDDERS = ("wordllama", "none")


class EmbedderUnavailable(DionysusError):
    """The configured embedding model cannot be loaded."""


class Embedder(ABC):
    name: str
    dim: int

    @abstractmethod
    def embed(self, texts: list[str]) -> np.ndarray:
        """(len(texts), dim) float32, rows L2-normalized; blocking: call it off the event loop."""

    def warm_up(self) -> None:
        """Load whatever `embed` needs now (blocking); the default has nothing to load."""

    async def embed_async(self, texts: list[str]) -> np.ndarray:
        return await anyio.to_thread.run_sync(self.embed, texts)

    def warm_up_in_background(self) -> None:
        threading.Thread(target=self._warm_quietly, name=f"embedder-{self.name}", daemon=True).start()

    def _warm_quietly(self) -> None:
        try:
            self.warm_up()
        except EmbedderUnavailable:
            pass  # reported by the first embed that needs the model


class NoEmbedder(Embedder):
    """Lexical recall only (DIONYSUS_EMBEDDER=none): no vectors at all."""

    name = "none"
    dim = 0

    def embed(self, texts: list[str]) -> np.ndarray:
        return np.zeros((len(texts), 0), dtype=np.float32)


def normalize_rows(matrix: np.ndarray) -> np.ndarray:
    matrix = np.asarray(matrix, dtype=np.float32)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return np.divide(matrix, norms, out=np.zeros_like(matrix), where=norms > 0)


class WordLlamaEmbedder(Embedder):
    """WordLlama `l2_supercat` (static token embeddings, average-pooled): ~25k short texts a
    second on one core, 16 MB of weights shipped in the wheel."""

    def __init__(self, dim: int = 256):
        self.dim = dim
        self.name = f"wordllama-l2_supercat-{dim}"
        self._model: Any = None
        self._lock = threading.Lock()

    def warm_up(self) -> None:
        self._load()

    def _load(self) -> Any:
        with self._lock:
            if self._model is None:
                try:
                    import wordllama  # noqa: PLC0415 - ~0.4 s: only when first needed
                    from pathlib import Path  # noqa: PLC0415

                    # Its loader looks for the tokenizer in a cache folder and would then try
                    # to download it: pointed at its own package folder it finds both files.
                    self._model = wordllama.WordLlama.load(
                        cache_dir=Path(wordllama.__file__).parent, dim=self.dim, disable_download=True
                    )
                except Exception as exc:  # missing package, missing files, bad dim
                    raise EmbedderUnavailable(
                        f"cannot load the WordLlama embedding model ({type(exc).__name__}: {exc}); "
                        "reinstall dionysus-mcp, or set DIONYSUS_EMBEDDER=none for lexical recall only"
                    ) from None
            return self._model

    def embed(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        model = self._load()
        return normalize_rows(model.embed(list(texts), norm=False, batch_size=256))


def create_embedder(name: str) -> Embedder:
    if name == "wordllama":
        return WordLlamaEmbedder()
    if name == "none":
        return NoEmbedder()
    raise ValueError(f"unknown embedder {name!r}: expected one of {', '.join(EMBEDDERS)}")

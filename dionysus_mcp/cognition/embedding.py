"""Text embeddings behind a small interface, so the model can be swapped by configuration.

`Embedder.embed(texts)` returns a float32 matrix, one L2-normalized row per text (a zero row for
a text with nothing to embed), so cosine similarity is a dot product. Each stored vector carries
`name` and `dim`; vectors of another model are never compared with this one's (`dionysus-mcp
reindex` re-embeds them).

The default, `minilm` (all-MiniLM-L6-v2, cognition/minilm.py), is a contextual sentence model
whose weights ship inside this package: offline, no download, no torch. `wordllama` (WordLlama's
`l2_supercat`, static token vectors, the `wordllama` extra) is the former default: far cheaper per
text, far worse at paraphrases (docs/benchmarks.md); `none` is lexical recall only. A model
loads lazily, once, in a worker thread — started when the server is idle after its first request
(dionysus_mcp/warm_up.py), or by the first `embed` that needs it — never on the event loop.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from typing import Any

import anyio
import numpy as np

from dionysus_mcp.errors import DionysusError

EMBEDDERS = ("minilm", "wordllama", "none")


class EmbedderUnavailable(DionysusError):
    """The configured embedding model cannot be loaded."""


class Embedder(ABC):
    name: str  # the model, as stored with each vector
    setting: str = ""  # the DIONYSUS_EMBEDDER value that selects it (its ranking: ranking.RANKINGS)
    dim: int
    # Cosines below the low end count as unrelated, at the high end as fully related (basin
    # relevance, the wisdom cut-off). Fitted per model on texts and the basins they are about.
    cosine_range: tuple[float, float] = (0.08, 0.4)

    @abstractmethod
    def embed(self, texts: list[str]) -> np.ndarray:
        """(len(texts), dim) float32, rows L2-normalized; blocking: call it off the event loop."""

    def warm_up(self) -> None:
        """Load whatever `embed` needs now (blocking); the default has nothing to load."""

    async def embed_async(self, texts: list[str]) -> np.ndarray:
        return await anyio.to_thread.run_sync(self.embed, texts)


class NoEmbedder(Embedder):
    """Lexical recall only (DIONYSUS_EMBEDDER=none): no vectors at all."""

    name = "none"
    setting = "none"
    dim = 0

    def embed(self, texts: list[str]) -> np.ndarray:
        return np.zeros((len(texts), 0), dtype=np.float32)


def normalize_rows(matrix: np.ndarray) -> np.ndarray:
    matrix = np.asarray(matrix, dtype=np.float32)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return np.divide(matrix, norms, out=np.zeros_like(matrix), where=norms > 0)


class WordLlamaEmbedder(Embedder):
    """WordLlama `l2_supercat` (static token embeddings, average-pooled): cheap per text
    (docs/benchmarks.md), its weights shipped in its wheel (`pip install "dionysus-mcp[wordllama]"`)."""

    setting = "wordllama"

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
                    import wordllama  # noqa: PLC0415 - a slow import: only when first needed
                    from pathlib import Path  # noqa: PLC0415

                    # Its loader looks for the tokenizer in a cache folder and would then try
                    # to download it: pointed at its own package folder it finds both files.
                    self._model = wordllama.WordLlama.load(
                        cache_dir=Path(wordllama.__file__).parent, dim=self.dim, disable_download=True
                    )
                except Exception as exc:  # missing package, missing files, bad dim
                    raise EmbedderUnavailable(
                        f"cannot load the WordLlama embedding model ({type(exc).__name__}: {exc}); "
                        'install it with pip install "dionysus-mcp[wordllama]", or unset DIONYSUS_EMBEDDER '
                        "for the default model"
                    ) from None
            return self._model

    def embed(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        model = self._load()
        return normalize_rows(model.embed(list(texts), norm=False, batch_size=256))


def create_embedder(name: str) -> Embedder:
    if name == "minilm":
        from dionysus_mcp.cognition.minilm import MiniLMEmbedder  # noqa: PLC0415 - imports this module

        return MiniLMEmbedder()
    if name == "wordllama":
        return WordLlamaEmbedder()
    if name == "none":
        return NoEmbedder()
    raise ValueError(f"unknown embedder {name!r}: expected one of {', '.join(EMBEDDERS)}")

"""An in-process matrix of memory vectors, grown incrementally: the SQLite store's vector search.

Memories are only ever added, so the store keeps (rowid, id, kind, vector) of every memory it has
seen in numpy arrays and, at each search, appends just the rows past the last rowid it read
(one indexed range query). A full load happens once per process, at the first search — ~0.3 s
per 100,000 256-dimension vectors (docs/benchmarks.md) — and again only when the vectors'
model changes or `set_embeddings` (reindex) bumps the store's embedding epoch. A search is one
matrix-vector product over the rows of the wanted kinds: exact, no approximate index.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

_GROW = 1.5


class VectorCache:
    def __init__(self) -> None:
        self.model: str | None = None
        self.dim = 0
        self.epoch: str | None = None
        self.last_rowid = 0
        self.count = 0
        self.ids: list[str] = []
        self._kind_codes: dict[str, int] = {}
        self._kinds = np.zeros(0, dtype=np.int32)
        self._has = np.zeros(0, dtype=bool)
        self._matrix = np.zeros((0, 0), dtype=np.float32)

    @classmethod
    def empty(cls, model: str | None, dim: int, epoch: str | None) -> "VectorCache":
        cache = cls()
        cache.model, cache.dim, cache.epoch = model, dim, epoch
        cache._matrix = np.zeros((0, dim), dtype=np.float32)
        return cache

    def append(self, rows: Iterable[tuple[int, str, str, str | None, bytes | None]]) -> None:
        """Rows of (rowid, id, kind, vector model, float32 vector bytes), in rowid order."""
        rows = list(rows)
        if not rows:
            return
        self._reserve(self.count + len(rows))
        n = self.count
        for offset, (rowid, mid, kind, model, blob) in enumerate(rows):
            i = n + offset
            self.ids.append(mid)
            self._kinds[i] = self._kind_codes.setdefault(kind, len(self._kind_codes))
            if self.dim and blob is not None and model == self.model and len(blob) == 4 * self.dim:
                self._matrix[i] = np.frombuffer(blob, dtype=np.float32)
                self._has[i] = True
            else:
                self._has[i] = False
        self.count = n + len(rows)
        self.last_rowid = rows[-1][0]

    def _reserve(self, size: int) -> None:
        if size <= self._kinds.shape[0]:
            return
        capacity = max(size, int(self._kinds.shape[0] * _GROW), 1024)
        kinds = np.zeros(capacity, dtype=np.int32)
        kinds[: self.count] = self._kinds[: self.count]
        has = np.zeros(capacity, dtype=bool)
        has[: self.count] = self._has[: self.count]
        matrix = np.zeros((capacity, self.dim), dtype=np.float32)
        matrix[: self.count] = self._matrix[: self.count]
        self._kinds, self._has, self._matrix = kinds, has, matrix

    def kind_mask(self, kinds: list[str] | None) -> np.ndarray:
        codes = self._kinds[: self.count]
        if kinds is None:
            return np.ones(self.count, dtype=bool)
        wanted = [self._kind_codes[k] for k in kinds if k in self._kind_codes]
        return np.isin(codes, np.asarray(wanted, dtype=np.int32))

    def search(self, vector: np.ndarray, mask: np.ndarray, limit: int) -> list[tuple[str, float]]:
        """The `limit` rows most similar to `vector` among `mask`, best first, ties by id."""
        usable = mask & self._has[: self.count]
        rows = np.flatnonzero(usable)
        if rows.size == 0 or limit <= 0:
            return []
        scores = self._matrix[rows] @ vector.astype(np.float32) if rows.size < self.count else (
            self._matrix[: self.count] @ vector.astype(np.float32)
        )[rows]
        if rows.size > limit:
            # Over-select a little so a tie at the cut is resolved by id, not by position.
            keep = np.argpartition(-scores, min(limit + 16, rows.size - 1))[: limit + 16]
            rows, scores = rows[keep], scores[keep]
        ranked = sorted(
            ((self.ids[r], round(float(s), 6)) for r, s in zip(rows.tolist(), scores.tolist())),
            key=lambda p: (-p[1], p[0]),
        )
        return ranked[:limit]

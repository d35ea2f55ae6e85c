"""An in-process matrix of memory vectors, grown incrementally: the SQLite store's vector search.

The store keeps (rowid, id, kind, vector) of every memory it has seen in numpy arrays and, at
each search, appends just the rows past the last rowid it read (one indexed range query). A full
load happens once per process, at the first search, and again only when the vectors' model
changes or another writer changed or removed vectors (the store's embedding epoch, bumped by
update, delete and reindex: every process notices, whoever wrote). Nothing is built at start
beyond reading the vectors.

Search: up to `PREFILTER_MIN` rows, one exact matrix-vector product over all rows. Above it, a
sign-bit prefilter first: each vector is also kept as its 384 signs (48 bytes instead of 1,536),
the rows whose signs differ least from the query's (Hamming distance, `PREFILTER_CANDIDATES` of
them) are rescored exactly, and only they can be returned. At 100,000 memories that reads 5 MB
instead of 154 MB per query; what it costs in hit@3 is measured in docs/benchmarks.md.
"""

from __future__ import annotations

import numpy as np

_GROW = 1.5
# Rows kept past the cut before sorting by (score, id): a tie at the cut is then resolved by
# id, as on the other backend, rather than by position.
_TIE_MARGIN = 16
# Chosen on the recall benchmark's tuning half (docs/benchmarks.md, "Sub-linear recall").
PREFILTER_MIN = 20_000
PREFILTER_CANDIDATES = 1_000


class VectorCache:
    def __init__(self, model: str | None = None, dim: int = 0, epoch: str | None = None) -> None:
        self.model, self.dim, self.epoch = model, dim, epoch
        self.last_rowid = 0
        self.count = 0
        self.tokens = 0  # terms over every row: BM25's average length (store/bm25.py)
        self.ids: list[str] = []
        self._kind_codes: dict[str, int] = {}
        self._kinds = np.zeros(0, dtype=np.int32)
        self._has = np.zeros(0, dtype=bool)
        self._matrix = np.zeros((0, dim), dtype=np.float32)
        # Sign bits, one row per 64 dimensions (column-major: a Hamming pass is then a few
        # contiguous sweeps, faster than over (rows, words): docs/benchmarks.md, "Figures behind the code").
        self._words = (dim + 63) // 64
        self._signs = np.zeros((self._words, 0), dtype=np.uint64)

    def append(self, rows: list[tuple[int, str, str, str | None, bytes | None, int]]) -> None:
        """Rows of (rowid, id, kind, vector model, float32 vector bytes, number of terms), in
        rowid order."""
        if not rows:
            return
        self.tokens += sum(r[5] for r in rows)
        n, m = self.count, len(rows)
        self._reserve(n + m)
        codes = self._kind_codes
        self._kinds[n : n + m] = [codes.setdefault(r[2], len(codes)) for r in rows]
        self.ids.extend(r[1] for r in rows)
        if self.dim:
            size = 4 * self.dim
            usable = [i for i, r in enumerate(rows) if r[3] == self.model and r[4] is not None and len(r[4]) == size]
            if usable:
                # One buffer for the whole batch: a per-row frombuffer cost more (docs/benchmarks.md).
                block = np.frombuffer(bytearray().join(rows[i][4] for i in usable), dtype=np.float32)
                block = block.reshape(-1, self.dim)
                where = n + np.asarray(usable)
                self._matrix[where] = block
                self._has[where] = True
                self._signs[:, where] = signs(block).T
        self.count = n + m
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
        bits = np.zeros((self._words, capacity), dtype=np.uint64)
        bits[:, : self.count] = self._signs[:, : self.count]
        self._kinds, self._has, self._matrix, self._signs = kinds, has, matrix, bits

    def kind_mask(self, kinds: list[str] | None) -> np.ndarray:
        if kinds is None:
            return np.ones(self.count, dtype=bool)
        wanted = [self._kind_codes[k] for k in kinds if k in self._kind_codes]
        return np.isin(self._kinds[: self.count], np.asarray(wanted, dtype=np.int32))

    def stale(self, mask: np.ndarray) -> int:
        """Rows of `mask` without a vector of this model: found by words only until a reindex."""
        return int(mask.sum()) - int((mask & self._has[: self.count]).sum())

    def search(self, vector: np.ndarray, mask: np.ndarray, limit: int) -> list[tuple[str, float]]:
        """The `limit` rows most similar to `vector` among `mask`, best first, ties by id."""
        usable = mask & self._has[: self.count]
        available = int(usable.sum())
        if available == 0 or limit <= 0:
            return []
        vector = vector.astype(np.float32, copy=False)
        keep = min(limit + _TIE_MARGIN, available)
        if available > PREFILTER_MIN and PREFILTER_CANDIDATES > keep:
            rows = self._prefiltered(vector, usable, PREFILTER_CANDIDATES)
            scores = self._matrix[rows] @ vector
            best = np.argpartition(scores, len(rows) - keep)[len(rows) - keep :]
            ranked = [(self.ids[rows[i]], round(float(scores[i]), 6)) for i in best.tolist()]
        else:
            # The product over every row, then the unwanted ones pushed out: cheaper than
            # copying the wanted rows out of the matrix first.
            scores = self._matrix[: self.count] @ vector
            if available < self.count:
                scores[~usable] = -np.inf
            top = np.argpartition(scores, self.count - keep)[self.count - keep :] if keep < self.count else np.arange(self.count)
            ranked = [(self.ids[r], round(float(scores[r]), 6)) for r in top.tolist() if usable[r]]
        ranked.sort(key=lambda p: (-p[1], p[0]))
        return ranked[:limit]

    def _prefiltered(self, vector: np.ndarray, usable: np.ndarray, candidates: int) -> np.ndarray:
        """The `candidates` usable rows whose sign bits differ least from the query's."""
        query = signs(vector[None, :])[0]
        distance = np.bitwise_count(self._signs[0, : self.count] ^ query[0]).astype(np.uint16)
        for w in range(1, self._words):
            distance += np.bitwise_count(self._signs[w, : self.count] ^ query[w])
        distance[~usable] = np.iinfo(np.uint16).max
        candidates = min(candidates, int(usable.sum()))
        return np.argpartition(distance, candidates - 1)[:candidates]


def signs(block: np.ndarray) -> np.ndarray:
    """(rows, words) uint64: bit i of a row is set where component i is positive."""
    bits = np.packbits(block > 0, axis=1)
    pad = (-bits.shape[1]) % 8
    if pad:
        bits = np.pad(bits, ((0, 0), (0, pad)))
    return bits.view(np.uint64)

"""The SQLite store's in-process vector search (dionysus_mcp/store/vector_cache.py): exact below
PREFILTER_MIN rows, a sign-bit prefilter with exact rescoring above it; stale rows counted."""

from __future__ import annotations

import numpy as np
import pytest

from dionysus_mcp.store import vector_cache
from dionysus_mcp.store.vector_cache import VectorCache, signs

DIM = 384


def unit(rng: np.random.Generator, n: int) -> np.ndarray:
    m = rng.standard_normal((n, DIM)).astype(np.float32)
    return m / np.linalg.norm(m, axis=1, keepdims=True)


def rows(vectors: np.ndarray, model: str = "m", kinds: tuple[str, ...] = ("semantic",), start: int = 0):
    return [
        (start + i + 1, f"id{start + i:05d}", kinds[i % len(kinds)], model, v.tobytes(), 3)
        for i, v in enumerate(vectors)
    ]


def exact(matrix: np.ndarray, query: np.ndarray, k: int, allowed=None) -> list[tuple[str, float]]:
    scores = matrix @ query
    pairs = [(f"id{i:05d}", round(float(s), 6)) for i, s in enumerate(scores) if allowed is None or allowed[i]]
    return sorted(pairs, key=lambda p: (-p[1], p[0]))[:k]


def test_sign_bits_pack_each_positive_component():
    v = np.zeros((1, 130), dtype=np.float32)
    v[0, [0, 64, 129]] = 1.0
    v[0, 1] = -1.0
    bits = signs(v)
    assert bits.shape == (1, 3) and bits.dtype == np.uint64
    assert [int(np.bitwise_count(w)) for w in bits[0]] == [1, 1, 1]


def test_below_the_threshold_search_is_exact_and_appends_incrementally():
    rng = np.random.default_rng(3)
    matrix = unit(rng, 600)
    cache = VectorCache("m", DIM, "1")
    cache.append(rows(matrix[:400]))
    cache.append(rows(matrix[400:], start=400))
    assert (cache.count, cache.last_rowid, cache.tokens) == (600, 600, 1800)
    query = unit(rng, 1)[0]
    assert cache.search(query, cache.kind_mask(None), 10) == exact(matrix, query, 10)


def test_above_the_threshold_the_prefilter_rescores_exactly(monkeypatch):
    monkeypatch.setattr(vector_cache, "PREFILTER_MIN", 500)
    monkeypatch.setattr(vector_cache, "PREFILTER_CANDIDATES", 200)
    rng = np.random.default_rng(5)
    matrix = unit(rng, 2000)
    cache = VectorCache("m", DIM, "1")
    cache.append(rows(matrix, kinds=("semantic", "episodic")))
    mask = cache.kind_mask(["semantic"])
    for i in (0, 2, 40, 1998):
        near = matrix[i] + 0.02 * unit(rng, 1)[0]
        found = cache.search(near, mask, 5)
        assert found[0][0] == f"id{i:05d}"  # a near duplicate is found first
        for mid, score in found:  # every returned score is the exact cosine of that row
            assert score == round(float(matrix[int(mid[2:])] @ near), 6) and int(mid[2:]) % 2 == 0
        assert len(found) == 5 and [s for _, s in found] == sorted((s for _, s in found), reverse=True)
    # Only the candidates the Hamming pass kept can come back, and most of the exact top do.
    query = unit(rng, 1)[0]
    kept = {f"id{r:05d}" for r in cache._prefiltered(query, mask, 200).tolist()}
    found = cache.search(query, mask, 10)
    assert {mid for mid, _ in found} <= kept and len(kept) == 200
    assert all(int(k[2:]) % 2 == 0 for k in kept)


def test_rows_of_another_model_or_none_are_stale_and_never_returned():
    rng = np.random.default_rng(7)
    matrix = unit(rng, 6)
    batch = rows(matrix)
    batch[1] = (*batch[1][:3], "other-model", batch[1][4], 3)
    batch[2] = (*batch[2][:3], None, None, 3)
    cache = VectorCache("m", DIM, "1")
    cache.append(batch)
    mask = cache.kind_mask(None)
    assert cache.stale(mask) == 2
    found = {mid for mid, _ in cache.search(matrix[1], mask, 10)}
    assert found == {"id00000", "id00003", "id00004", "id00005"}


@pytest.mark.parametrize("kinds", [None, ["semantic"], ["nothing"]])
def test_kind_mask(kinds):
    cache = VectorCache("m", DIM, "1")
    cache.append(rows(unit(np.random.default_rng(1), 4), kinds=("semantic", "episodic")))
    assert cache.kind_mask(kinds).tolist() == {
        None: [True] * 4, "semantic": [True, False, True, False], "nothing": [False] * 4
    }[kinds if kinds is None else kinds[0]]

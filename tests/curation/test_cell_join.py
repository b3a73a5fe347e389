"""The close pairs the cells find (core/curation/cell_join.py): with every cell probed, every pair within the
threshold, crowded cells split or not, whatever the number of threads; with the defaults, only true pairs."""

from __future__ import annotations

import numpy as np
import pytest

from core.curation.cell_join import CellParams, close_pairs
from tests.curation.embedding_like import embedding_like_vectors


def _found(
    vectors: np.ndarray, order: np.ndarray, threshold: float, params: CellParams
) -> dict[tuple[int, int], float]:
    pairs: dict[tuple[int, int], float] = {}
    for later, earlier, similarity in close_pairs(vectors, order, threshold, params):
        for a, b, s in zip(later.tolist(), earlier.tolist(), similarity.tolist(), strict=True):
            assert (a, b) not in pairs and a > b  # each pair once, from the later item
            pairs[(a, b)] = s
    return pairs


def _every_pair(vectors: np.ndarray, order: np.ndarray, threshold: float) -> dict[tuple[int, int], float]:
    ordered = vectors[order].astype(np.float64)
    similarities = ordered @ ordered.T
    later, earlier = np.nonzero(np.tril(similarities >= threshold, k=-1))
    return {(a, b): float(similarities[a, b]) for a, b in zip(later.tolist(), earlier.tolist(), strict=True)}


def _crowded_case() -> np.ndarray:
    """300 near-copies of one text (one leaf takes them all: far more than its share) among 500 spread ones."""
    rng = np.random.default_rng(3)
    base = rng.normal(size=24)
    vectors = np.vstack([base + 0.02 * rng.normal(size=(300, 24)), rng.normal(size=(500, 24)) + 0.6 * base])
    return (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)


@pytest.mark.parametrize("crowded", [1.5, 1000.0])  # crowded leaves split, or never
@pytest.mark.parametrize("chunk", [97, 100_000])
def test_with_every_cell_probed_every_pair_within_the_threshold_is_found_once(crowded: float, chunk: int) -> None:
    vectors = _crowded_case()
    order = np.random.default_rng(1).permutation(len(vectors))
    every = CellParams(cell=20, probes=1000, top_probes=1000, margin=2.0, crowded=crowded, chunk=chunk)
    found = _found(vectors, order, 0.95, every)
    expected = _every_pair(vectors, order, 0.95)
    assert found.keys() == expected.keys() and len(expected) > 40_000  # the copies' pairs, and a few more
    assert max(abs(found[pair] - expected[pair]) for pair in expected) < 1e-5


def test_the_defaults_find_true_pairs_and_nearly_all_of_them_whatever_the_threads() -> None:
    vectors = embedding_like_vectors(3000, dim=48, seed=2)
    order = np.random.default_rng(2).permutation(3000)
    expected = _every_pair(vectors, order, 0.97)
    one, two = (_found(vectors, order, 0.97, CellParams(cell=64, workers=w)) for w in (1, 2))
    assert one == two  # threads share the work, not the result
    assert one.keys() <= expected.keys()
    assert len(one) > 0.97 * len(expected) and len(expected) > 1500

"""The diversity table counts a cell's near-duplicate groups as the flags do: exact grouping below EXACT_LIMIT
samples (the same count as before), the cell-by-cell grouping above it (near-linear, close to exact)."""

from __future__ import annotations

import numpy as np
import pytest

from core.curation.diversity_stats import diversity_table, mean_pairwise_similarity
from core.curation.duplicate_flags import Item
from core.curation.grouping import EXACT_LIMIT, leader_groups, leader_order
from tests.curation.embedding_like import embedding_like_vectors


def _items(labels: list[str], statuses: list[str]) -> list[Item]:
    return [
        Item(i + 1, f"text {i}", label, "en", "train", "synthetic", status)
        for i, (label, status) in enumerate(zip(labels, statuses, strict=True))
    ]


def _exact_groups(vectors: np.ndarray, preferred: list[bool], threshold: float) -> int:
    return len(leader_groups(vectors, threshold, leader_order(vectors, preferred)))


def _brute_mean(vectors: np.ndarray) -> float:
    matrix = vectors.astype(np.float64)
    total = matrix.sum(axis=0)
    return (float(total @ total) - float(np.einsum("ij,ij->", matrix, matrix))) / (len(matrix) * (len(matrix) - 1))


def test_below_the_limit_the_groups_are_exact_grouping_s() -> None:
    vectors = embedding_like_vectors(3000, dim=32, seed=4)
    rng = np.random.default_rng(4)
    labels = rng.choice(["a", "b", "c"], 3000).tolist()
    statuses = np.where(rng.random(3000) < 0.05, "accepted", "pending").tolist()
    items = _items(labels, statuses)
    token_rows = [[i % 7, i % 11, i % 13] for i in range(3000)]
    table = {row.label: row for row in diversity_table(items, vectors, token_rows, threshold=0.97)}
    for label in ("a", "b", "c"):
        rows = [p for p, lab in enumerate(labels) if lab == label]
        preferred = [statuses[p] == "accepted" for p in rows]
        assert table[label].groups == _exact_groups(vectors[rows], preferred, 0.97)
        assert table[label].groups < table[label].n  # the case has near-duplicates to group
        assert table[label].mean_similarity == _brute_mean(vectors[rows])  # one chunk: the same to the last bit


def test_mean_similarity_of_chosen_rows_in_chunks_is_the_mean_of_those_rows() -> None:
    vectors = embedding_like_vectors(2 * EXACT_LIMIT + 5, dim=8, seed=5)
    rows = np.arange(0, len(vectors), 2)
    assert mean_pairwise_similarity(vectors, rows) == pytest.approx(_brute_mean(vectors[rows]), abs=1e-12)
    assert mean_pairwise_similarity(vectors, rows[:1]) is None


@pytest.mark.slow
def test_a_cell_above_the_limit_is_grouped_cell_by_cell_close_to_exact() -> None:
    n = EXACT_LIMIT + 5000
    vectors = embedding_like_vectors(n + 300, dim=64, seed=6)
    labels = ["big"] * n + ["small"] * 300
    statuses = np.where(np.random.default_rng(6).random(n + 300) < 0.02, "accepted", "pending").tolist()
    items = _items(labels, statuses)
    token_rows = [[i % 5, i % 9] for i in range(n + 300)]
    table = {row.label: row for row in diversity_table(items, vectors, token_rows, threshold=0.97)}
    big = table["big"]
    exact = _exact_groups(vectors[:n], [s == "accepted" for s in statuses[:n]], 0.97)
    assert big.n == n and big.groups < 0.95 * n  # thousands of near-duplicates
    assert abs(big.groups - exact) < 0.005 * n, f"{big.groups} groups against exact {exact}"
    small_exact = _exact_groups(vectors[n:], [s == "accepted" for s in statuses[n:]], 0.97)
    assert table["small"].groups == small_exact
    assert big.mean_similarity == pytest.approx(_brute_mean(vectors[:n]), abs=1e-9)

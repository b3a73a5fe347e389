"""Near-duplicate grouping of large scopes: the leader rule decided on the close pairs an inverted-file index finds
(cell by cell, exact similarities), against exact grouping."""

from __future__ import annotations

import numpy as np
import pytest

from core.curation.cell_join import CellParams
from core.curation.duplicate_flags import Findings, Item, find_near_duplicates
from core.curation.grouping import (
    EXACT_LIMIT,
    Members,
    cell_leader_members,
    leader_groups,
    leader_order,
    near_duplicate_members,
)
from tests.curation.embedding_like import embedding_like_vectors


def _clustered(n: int, dim: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(max(2, n // 50), dim))
    vectors = centres[rng.integers(0, len(centres), n)] + rng.normal(scale=0.35, size=(n, dim))
    return (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)


def _same(a: Members, b: Members) -> None:
    assert a.items.tolist() == b.items.tolist()
    assert a.leaders.tolist() == b.leaders.tolist()
    assert np.allclose(a.similarities, b.similarities, atol=1e-6)


EVERY_CELL = CellParams(cell=100, probes=100, top_probes=100, margin=2.0)  # every item compared with every other


@pytest.mark.parametrize("chunk", [1, 7, 64, 1024])
def test_with_every_cell_probed_the_cell_path_is_exact_grouping(chunk: int) -> None:
    vectors = _clustered(600, 16, seed=chunk)
    order = np.random.default_rng(chunk).permutation(600)
    exact = Members.of_groups(leader_groups(vectors, 0.9, order.tolist()))
    every = CellParams(cell=100, probes=100, top_probes=100, margin=2.0, chunk=chunk)
    _same(cell_leader_members(vectors, 0.9, order, params=every), exact)
    assert 100 < len(exact.items) < 550  # real groups, and real leaders


@pytest.mark.slow
def test_cells_of_a_few_hundred_miss_few_near_duplicates() -> None:
    vectors = embedding_like_vectors(5000, seed=3)
    order = np.array(leader_order(vectors, [False] * 5000))
    exact = Members.of_groups(leader_groups(vectors, 0.97, order.tolist()))
    found = cell_leader_members(vectors, 0.97, order, params=CellParams(cell=200))  # 25 cells, not one
    assert len(set(exact.items.tolist()) ^ set(found.items.tolist())) < 0.005 * 5000
    assert np.all(np.sum(vectors[found.items] * vectors[found.leaders], axis=1) >= 0.97 - 1e-6)


def test_a_subset_of_rows_is_grouped_in_leader_order_without_copying_it() -> None:
    vectors = _clustered(3000, 32, seed=5)
    rows = np.flatnonzero(np.random.default_rng(5).random(3000) < 0.8)  # e.g. one split, exact repeats left out
    preferred = [bool(r % 17 == 0) for r in rows]  # accepted samples lead first
    exact = near_duplicate_members(vectors, rows, preferred, 0.9)
    scope = vectors[rows]
    expected = Members.of_groups(leader_groups(scope, 0.9, leader_order(scope, preferred)), rows)
    _same(exact, expected)
    _same(near_duplicate_members(vectors, rows, preferred, 0.9, exact_limit=0, params=EVERY_CELL), exact)


def test_a_scope_with_nothing_or_one_item() -> None:
    vectors = _clustered(10, 8, seed=1)
    for rows in ([], [3]):
        members = near_duplicate_members(vectors, rows, [False] * len(rows), 0.9, exact_limit=0)
        assert members.items.tolist() == [] and members.leaders.tolist() == []
    with pytest.raises(ValueError):
        cell_leader_members(vectors, 0.9, [1, 1])


@pytest.mark.slow
def test_whole_project_grouping_of_50k_flags_the_same_samples_as_exact_grouping() -> None:
    """The cells' parameters are chosen so that, on 50,000 embedding-like vectors with planted near-duplicates
    at cosines on both sides of the threshold, the flagged samples differ from exact grouping on < 0.5%."""
    n, threshold = 50_000, 0.97
    assert n > EXACT_LIMIT  # the checks take the approximate path here
    vectors = embedding_like_vectors(n, seed=7)
    rng = np.random.default_rng(7)
    statuses = np.where(rng.random(n) < 0.02, "accepted", "pending")
    items = [Item(i, f"text {i}", "l", "en", "train", "synthetic", str(statuses[i])) for i in range(n)]
    findings = Findings()
    find_near_duplicates(items, vectors, threshold, "project", findings)
    flagged = {f["sample_id"]: f["details"]["representative"] for f in findings.flags}

    preferred = [s == "accepted" for s in statuses]
    exact = Members.of_groups(leader_groups(vectors, threshold, leader_order(vectors, preferred)))
    exact_flagged = dict(zip(exact.items.tolist(), exact.leaders.tolist(), strict=True))
    assert len(exact_flagged) > n // 20  # the case has plenty to find (about 6,000)
    differ = len(flagged.keys() ^ exact_flagged.keys())
    assert differ / n < 0.005, f"{differ} samples differ"
    print(f"flagged {len(flagged):,}, exact {len(exact_flagged):,}, differ on {differ:,} ({differ / n:.3%})")
    for f in findings.flags:  # every flag keeps the leader rule: within the threshold of its representative
        similarity = float(vectors[f["sample_id"]] @ vectors[f["details"]["representative"]])
        assert similarity >= threshold - 1e-6 and abs(similarity - f["details"]["similarity"]) < 1e-4

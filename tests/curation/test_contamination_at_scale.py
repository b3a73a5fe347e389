"""Test contamination beyond the exact budget (issue 20, item 5): the close pairs of candidates and tests found cell
by cell flag the same samples, with the same test named, as comparing every candidate with every test."""

from __future__ import annotations

import numpy as np

from core.curation.duplicate_flags import Findings, find_test_contamination
from core.store.sample_texts import SampleItem


def test_cells_flag_what_every_pair_compared_flags() -> None:
    rng = np.random.default_rng(4)
    n, tests = 24_000, 3_000
    common = np.ones(64, dtype=np.float32) / 8
    vectors = (1.5 * common + rng.normal(size=(n, 64)).astype(np.float32) / 8).astype(np.float32)
    test_rows = rng.choice(n, tests, replace=False)
    is_test = np.zeros(n, dtype=bool)
    is_test[test_rows] = True
    copies = rng.choice(np.flatnonzero(~is_test), 400, replace=False)
    for copy, source in zip(copies, rng.choice(test_rows, 400), strict=True):  # near copies of test samples
        vectors[copy] = vectors[source] + rng.normal(size=64).astype(np.float32) / 200
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    items = [
        SampleItem(
            p, f"t{p}", "a", "en", "test" if is_test[p] else "train", "human" if is_test[p] else "synthetic", "pending"
        )
        for p in range(n)
    ]

    exact, cells = Findings(), Findings()
    find_test_contamination(items, vectors, 0.97, exact)
    find_test_contamination(items, vectors, 0.97, cells, exact_pairs=0)

    def flagged(findings: Findings) -> dict[int, int]:
        return {f["sample_id"]: f["details"]["test_sample"] for f in findings.flags}

    assert len(flagged(exact)) >= 400
    missed = set(flagged(exact)) - set(flagged(cells))
    assert set(flagged(cells)) <= set(flagged(exact)) and len(missed) <= 0.005 * len(flagged(exact))
    same = [s for s in flagged(cells) if flagged(cells)[s] == flagged(exact)[s]]
    assert len(same) == len(flagged(cells))


def test_close_pairs_with_no_test_among_them_flag_nothing() -> None:
    rng = np.random.default_rng(5)
    vectors = rng.normal(size=(3_000, 32)).astype(np.float32)
    vectors[1:200] = vectors[0] + rng.normal(size=(199, 32)).astype(np.float32) / 100  # repeats among candidates
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    items = [
        SampleItem(p, f"t{p}", "a", "en", "test" if p >= 2_900 else "train", "synthetic", "pending")
        for p in range(3_000)
    ]
    findings = Findings()
    find_test_contamination(items, vectors, 0.97, findings, exact_pairs=0)
    assert findings.flags == []

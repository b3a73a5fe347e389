"""The leader rule on close pairs, decided in rounds: a long chain of close items (each close only to its
neighbours) needs one round per link, and the rounds hand the rest to a one-by-one pass in visiting order."""

from __future__ import annotations

import numpy as np

from core.curation.cell_join import CellParams
from core.curation.grouping import Members, cell_leader_members, leader_groups

EVERY_CELL = CellParams(cell=100, probes=100, top_probes=100, margin=2.0)  # every item compared with every other


def _chain(n: int, step: float) -> np.ndarray:
    """Points along a great circle, `step` radians apart (no wrap-around for n * step < 2 pi)."""
    angles = np.arange(n) * step
    return np.stack([np.cos(angles), np.sin(angles), np.zeros(n)], axis=1).astype(np.float32)


def test_a_chain_longer_than_the_rounds_alternates_leaders_and_members_as_exact_grouping_does() -> None:
    vectors = _chain(120, 0.05)  # neighbours at cos 0.99875, two links apart at cos 0.995
    threshold = 0.998
    for order in (np.arange(120), np.arange(120)[::-1].copy()):
        exact = Members.of_groups(leader_groups(vectors, threshold, order.tolist()))
        found = cell_leader_members(vectors, threshold, order, params=EVERY_CELL)
        assert found.items.tolist() == exact.items.tolist()
        assert found.leaders.tolist() == exact.leaders.tolist()
        assert len(exact.items) == 60  # every other item leads: a chain of 120 decisions


def test_a_member_joins_its_most_similar_leader_and_the_earliest_on_ties() -> None:
    angles = np.array([0.04, 0.01, 0.0, -0.04])  # 0 and 3 are not close (cos 0.9968); 2 is as close to both
    vectors = np.stack([np.cos(angles), np.sin(angles), np.zeros(4)], axis=1).astype(np.float32)
    vectors[2] = [1.0, 0.0, 0.0]  # exactly between 0 and 3: the same similarity to the last bit
    assert vectors[2] @ vectors[0] == vectors[2] @ vectors[3]
    for order, joined in (([3, 0, 2], 3), ([0, 3, 2], 0), ([3, 0, 1], 0)):  # 1: closer to 0 than to 3
        exact = Members.of_groups(leader_groups(vectors[order], 0.998), np.array(order))  # visited as listed
        found = cell_leader_members(vectors, 0.998, np.array(order), params=EVERY_CELL)
        assert found.items.tolist() == exact.items.tolist() == [order[2]]
        assert found.leaders.tolist() == exact.leaders.tolist() == [joined]
        assert np.allclose(found.similarities, exact.similarities, atol=1e-6)

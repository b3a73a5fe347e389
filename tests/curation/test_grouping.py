"""Near-duplicate grouping: leader clustering that cannot chain a cell together."""

from __future__ import annotations

import numpy as np
import pytest

from core.curation.grouping import centrality, leader_groups, leader_order


def _unit(angles_degrees: list[float]) -> np.ndarray:
    radians = np.radians(angles_degrees)
    return np.stack([np.cos(radians), np.sin(radians)], axis=1).astype(np.float32)


def test_a_chain_of_close_pairs_is_not_merged_into_one_group() -> None:
    # consecutive items 10 degrees apart (cosine 0.985), the ends 40 degrees apart (cosine 0.77)
    vectors = _unit([0, 10, 20, 30, 40])
    threshold = float(np.cos(np.radians(15)))
    groups = leader_groups(vectors, threshold)
    assert len(groups) > 1
    for group in groups:
        for member, similarity in group.members:
            assert similarity >= threshold
            assert float(vectors[group.leader] @ vectors[member]) >= threshold


def test_exact_and_close_copies_join_their_leader_and_every_item_appears_once() -> None:
    vectors = _unit([0, 0, 3, 90, 92, 180])
    groups = leader_groups(vectors, threshold=0.99)
    seen = sorted([g.leader for g in groups] + [m for g in groups for m, _ in g.members])
    assert seen == list(range(6))
    by_leader = {g.leader: sorted(m for m, _ in g.members) for g in groups}
    assert by_leader == {0: [1, 2], 3: [4], 5: []}


def test_preferred_items_lead_then_the_most_central() -> None:
    vectors = _unit([0, 1, 2, 60])
    order = leader_order(vectors, preferred=[False, False, True, False])
    assert order[0] == 2  # the accepted one leads its group
    assert order[1] == 1  # then the most typical of the rest
    groups = leader_groups(vectors, threshold=0.99, order=order)
    assert {g.leader for g in groups} == {2, 3}
    assert np.isclose(centrality(_unit([0, 0]))[0], 1.0)


def test_order_must_cover_every_item() -> None:
    with pytest.raises(ValueError):
        leader_groups(_unit([0, 10]), 0.9, order=[0])


def _one_by_one(vectors: np.ndarray, threshold: float, order: list[int]) -> list[tuple[int, list[int]]]:
    """The definition: visit items in order; join the most similar leader if close enough, else lead."""
    leaders: list[int] = []
    members: dict[int, list[int]] = {}
    for item in order:
        similarities = [float(vectors[leader] @ vectors[item]) for leader in leaders]
        if similarities and max(similarities) >= threshold:
            members[leaders[int(np.argmax(similarities))]].append(item)
        else:
            leaders.append(item)
            members[item] = []
    return [(leader, members[leader]) for leader in leaders]


@pytest.mark.parametrize("block", [1, 7, 64, 1024])
def test_blocked_grouping_equals_visiting_items_one_by_one(block: int) -> None:
    rng = np.random.default_rng(3)
    centres = rng.normal(size=(12, 16))
    vectors = np.concatenate([centres[rng.integers(0, 12, 300)] + rng.normal(scale=0.35, size=(300, 16))])
    vectors = (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)
    order = [int(i) for i in rng.permutation(300)]
    groups = leader_groups(vectors, 0.9, order, block=block)
    assert [(g.leader, [m for m, _ in g.members]) for g in groups] == _one_by_one(vectors, 0.9, order)
    assert 12 <= len(groups) < 300  # the case has real groups, not only singletons

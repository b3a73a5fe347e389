"""In-context examples: only human train samples, seeded random or farthest-point diverse, reproducible."""

from __future__ import annotations

import numpy as np
import pytest

from core.errors import InvalidInput
from core.generation.example_selection import ExampleCandidate, select_examples


def human_train(count: int) -> list[ExampleCandidate]:
    return [
        ExampleCandidate(sample_id=100 + i, text=f"Mvua itanyesha lini {i}?", split="train", origin="human")
        for i in range(count)
    ]


@pytest.mark.parametrize("method", ["random", "diverse"])
def test_a_test_split_candidate_is_refused(method: str) -> None:
    candidates = [*human_train(5), ExampleCandidate(7, "Je, mvua itanyesha?", split="test", origin="human")]
    with pytest.raises(InvalidInput, match="Sample 7 is in the test split"):
        select_examples(candidates, 3, method, seed=1, vectors=np.eye(6))  # type: ignore[arg-type]


def test_a_synthetic_candidate_is_refused() -> None:
    candidates = [*human_train(3), ExampleCandidate(9, "Mvua?", split="train", origin="synthetic")]
    with pytest.raises(InvalidInput, match="Sample 9 is synthetic"):
        select_examples(candidates, 1, "random", seed=1)


def test_no_test_text_is_ever_selected() -> None:
    test_texts = {"Jua kali leo.", "Bei ya mahindi?"}
    for seed in range(20):
        chosen = select_examples(human_train(8), 4, "random", seed=seed)
        assert not test_texts & {c.text for c in chosen}
        assert all(c.split == "train" and c.origin == "human" for c in chosen)


def test_random_is_seeded_and_independent_of_row_order() -> None:
    candidates = human_train(30)
    first = select_examples(candidates, 5, "random", seed=42)
    assert first == select_examples(candidates, 5, "random", seed=42)
    assert first == select_examples(list(reversed(candidates)), 5, "random", seed=42)
    assert len(first) == 5 and len({c.sample_id for c in first}) == 5
    seeds = {tuple(c.sample_id for c in select_examples(candidates, 5, "random", seed=s)) for s in range(10)}
    assert len(seeds) > 1


def test_more_than_available_returns_all_once_and_repeated_texts_count_once() -> None:
    candidates = [*human_train(3), ExampleCandidate(999, "mvua itanyesha lini 0?", split="train", origin="human")]
    chosen = select_examples(candidates, 10, "random", seed=3)
    assert sorted(c.sample_id for c in chosen) == [100, 101, 102]
    assert select_examples(candidates, 0, "random", seed=3) == []
    assert select_examples([], 5, "diverse", seed=3) == []  # no vectors needed for no candidates


def test_diverse_picks_one_from_each_cluster() -> None:
    rng = np.random.default_rng(0)
    centres = np.eye(3) * 10
    vectors = np.vstack([centres[i % 3] + rng.normal(0, 0.3, 3) for i in range(12)])
    candidates = human_train(12)
    chosen = select_examples(candidates, 3, "diverse", seed=5, vectors=vectors)
    clusters = {(c.sample_id - 100) % 3 for c in chosen}
    assert clusters == {0, 1, 2}
    assert chosen == select_examples(candidates, 3, "diverse", seed=5, vectors=vectors)


def test_diverse_is_independent_of_row_order() -> None:
    rng = np.random.default_rng(1)
    vectors = rng.normal(size=(15, 8))
    candidates = human_train(15)
    chosen = select_examples(candidates, 4, "diverse", seed=9, vectors=vectors)
    order = list(reversed(range(15)))
    again = select_examples([candidates[i] for i in order], 4, "diverse", seed=9, vectors=vectors[order])
    assert chosen == again


def test_diverse_needs_vectors_that_match() -> None:
    with pytest.raises(ValueError, match="needs the candidates' vectors"):
        select_examples(human_train(3), 2, "diverse", seed=1)
    with pytest.raises(ValueError, match="one vector per candidate"):
        select_examples(human_train(3), 2, "diverse", seed=1, vectors=np.ones((4, 2)))
    with pytest.raises(InvalidInput, match="Unknown way to choose examples"):
        select_examples(human_train(3), 2, "best", seed=1)  # type: ignore[arg-type]

"""Threshold help: nearest-neighbour similarities, the pairs around a threshold, and the remembered choice."""

from __future__ import annotations

import numpy as np
import pytest

from core.curation.duplicate_flags import DEFAULT_THRESHOLD, Item
from core.curation.threshold_help import save_threshold_choice, similarity_profile, threshold_choice
from core.errors import InvalidInput
from core.store import Store
from core.store.projects import create_project, parse_spec


def _case() -> tuple[list[Item], np.ndarray]:
    angles = {1: 0.0, 2: 2.0, 3: 20.0, 4: 45.0, 5: 0.0, 6: 1.0}  # 5 and 6 are in another cell
    items = [
        Item(i, f"text {i}", "weather" if i < 5 else "prices", "sw", "train", "synthetic", "pending") for i in angles
    ]
    items.append(Item(7, "TEXT 1", "weather", "sw", "train", "synthetic", "pending"))  # exact repeat of 1
    radians = np.radians([*angles.values(), 0.0])
    vectors = np.stack([np.cos(radians), np.sin(radians)], axis=1).astype(np.float32)
    return items, vectors


def test_each_sample_gets_its_nearest_neighbour_within_its_cell() -> None:
    items, vectors = _case()
    profile = similarity_profile(items, vectors, "cell")
    nearest = {p.sample_id: (p.neighbour_id, p.similarity) for p in profile.pairs}
    assert set(nearest) == {1, 2, 3, 4, 5, 6}  # the exact repeat (7) is left out
    assert nearest[1][0] == 2 and nearest[3][0] == 2 and nearest[4][0] == 3 and nearest[5][0] == 6
    assert nearest[4][1] == pytest.approx(np.cos(np.radians(25)), abs=1e-4)
    assert profile.similarities == sorted(profile.similarities, reverse=True)
    # across the project, 5 (same angle as 1) becomes 1's nearest neighbour
    across = {p.sample_id: p.neighbour_id for p in similarity_profile(items, vectors, "project").pairs}
    assert across[1] == 5


def test_pairs_just_above_and_below_a_threshold_each_pair_once() -> None:
    items, vectors = _case()
    profile = similarity_profile(items, vectors, "cell")
    threshold = float(np.cos(np.radians(10)))
    above, below = profile.around(threshold, k=5)
    assert {frozenset((p.sample_id, p.neighbour_id)) for p in above} == {frozenset((1, 2)), frozenset((5, 6))}
    assert [p.similarity for p in above] == sorted(p.similarity for p in above)
    assert [frozenset((p.sample_id, p.neighbour_id)) for p in below] == [frozenset((2, 3)), frozenset((3, 4))]
    assert profile.share_at_or_above(threshold) == pytest.approx(4 / 6)


def test_sampling_is_seeded_and_bounded() -> None:
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(300, 8)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    items = [Item(i, f"t{i}", "a", "en", "train", "synthetic", "pending") for i in range(300)]
    first = similarity_profile(items, vectors, sample_size=50, seed=1)
    assert first.sampled == 50 and first.total == 300
    assert first == similarity_profile(items, vectors, sample_size=50, seed=1)


def test_the_choice_is_remembered_per_project_and_encoder(store: Store) -> None:
    project = create_project(store, parse_spec(name="t", labels=[{"name": "a"}], languages=[{"code": "en"}]))
    assert threshold_choice(store, project.id, "enc-a") == threshold_choice(store, project.id, "enc-b")
    assert threshold_choice(store, project.id, "enc-a").threshold == DEFAULT_THRESHOLD
    save_threshold_choice(store, project.id, "enc-a", 0.91, "project")
    save_threshold_choice(store, project.id, "enc-a", 0.93, "cell")  # a second choice replaces the first
    choice = threshold_choice(store, project.id, "enc-a")
    assert (choice.threshold, choice.scope, choice.chosen) == (0.93, "cell", True)
    assert not threshold_choice(store, project.id, "enc-b").chosen
    with pytest.raises(InvalidInput, match="between 0 and 1"):
        save_threshold_choice(store, project.id, "enc-a", 1.5, "cell")


def test_looking_up_cached_vectors_never_provisions_a_model(studio_home) -> None:  # type: ignore[no-untyped-def]
    from core.embeddings.service import cached_vectors
    from core.models.resolver import bundled_folder

    assert cached_vectors(["Mvua kesho?"], "bundled:multilingual-e5-small") is None
    assert not bundled_folder("bundled:multilingual-e5-small").exists()  # a page render must not convert a model

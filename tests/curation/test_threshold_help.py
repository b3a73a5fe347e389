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


def _reference_nearest(items: list[Item], vectors: np.ndarray, profile_ids: list[int], scope: str) -> dict:
    """Each sampled sample's nearest other sample of its scope, by one argmax over the whole scope (exact repeats
    of a text within the scope left out, as the profile does)."""
    from core.curation.duplicate_flags import normalised

    key = (lambda i: (i.split, i.language, i.label)) if scope == "cell" else (lambda i: (i.split,))
    seen, scope_of = set(), {}
    for position, item in enumerate(items):
        text_key = (*key(item), normalised(item.text))
        if text_key not in seen:
            seen.add(text_key)
            scope_of.setdefault(key(item), []).append(position)
    by_id = {item.id: position for position, item in enumerate(items)}
    nearest = {}
    for sample_id in profile_ids:
        position = by_id[sample_id]
        others = scope_of[key(items[position])]
        similarities = vectors[others] @ vectors[position]
        similarities[others.index(position)] = -np.inf
        best = int(similarities.argmax())
        nearest[sample_id] = (items[others[best]].id, round(float(similarities[best]), 4))
    return nearest


@pytest.mark.parametrize("scope", ["cell", "project"])
def test_the_scope_read_a_block_at_a_time_gives_the_nearest_neighbour_of_one_pass(scope: str) -> None:
    """A project's vectors are never copied whole: the scope is read in blocks, and the neighbour found is the one a
    single argmax over the whole scope finds, ties and near copies included."""
    rng = np.random.default_rng(4)
    vectors = rng.normal(size=(400, 16)).astype(np.float32)
    vectors[200:260] = vectors[100:160] + 0.01 * rng.normal(size=(60, 16)).astype(np.float32)  # near copies
    vectors[300:310] = vectors[310:320]  # ties: the same vector twice
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    items = [
        Item(
            i + 1,
            f"text {i}",
            ("a", "b")[i % 2],
            ("en", "sw")[i % 3 == 0],
            ("train", "test")[i % 7 == 0],
            "synthetic",
            "pending",
        )
        for i in range(400)
    ]
    items[5] = Item(6, items[4].text.upper(), items[4].label, items[4].language, items[4].split, "synthetic", "pending")
    whole = similarity_profile(items, vectors, scope, sample_size=150, seed=2, block=10_000)
    blocked = similarity_profile(items, vectors, scope, sample_size=150, seed=2, block=7)
    assert blocked == whole and whole.sampled == 150
    reference = _reference_nearest(items, vectors, [p.sample_id for p in whole.pairs], scope)
    assert {p.sample_id: (p.neighbour_id, p.similarity) for p in whole.pairs} == reference


def test_a_kept_profile_reads_back_with_the_texts_as_they_are_now(store: Store) -> None:
    import pandas as pd
    from sqlalchemy import delete, update

    from core.curation.threshold_help import profile_record, stored_profile
    from core.io.importer import ColumnMapping, execute_import, plan_import
    from core.store.sample_texts import not_rejected_items
    from core.store.schema import SampleRow

    project = create_project(store, parse_spec(name="P", labels=[{"name": "a"}], languages=[{"code": "en"}]))
    frame = pd.DataFrame([(f"text number {i}", "a", "en") for i in range(40)], columns=["text", "label", "language"])
    execute_import(
        store,
        project,
        plan_import(store, project, frame, ColumnMapping("text", "label", language_column="language"), "f.csv"),
    )
    items = not_rejected_items(store, project.id)
    rng = np.random.default_rng(1)
    vectors = rng.normal(size=(len(items), 8)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    profile = similarity_profile(items, vectors, "cell", sample_size=10)
    record = profile_record(profile)
    assert stored_profile(store, project.id, "cell", record) == profile  # nothing changed: the same profile
    first, gone = profile.pairs[0], profile.pairs[-1]
    with store.session() as session:
        session.execute(update(SampleRow).where(SampleRow.id == first.sample_id).values(text="edited since"))
        session.execute(delete(SampleRow).where(SampleRow.id == gone.sample_id))
    again = stored_profile(store, project.id, "cell", record)
    assert again.pairs[0].text == "edited since" and again.pairs[0].similarity == first.similarity
    assert gone.sample_id not in {p.sample_id for p in again.pairs} and again.sampled < profile.sampled
    assert again.total == profile.total == 40

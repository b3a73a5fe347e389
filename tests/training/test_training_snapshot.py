"""Dataset snapshots: which samples the options take (train split only), budgets and caps, nested curve points, and
copies that later edits of the samples do not change."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import update

from core.errors import InvalidInput
from core.store import Store
from core.store.samples import SampleFilter, iter_samples
from core.store.schema import SampleRow
from core.training.curve import parse_sizes, plan_curve
from core.training.selection import cell_order, cell_quotas, spread_budget, validation_split
from core.training.snapshot import (
    SnapshotOptions,
    build_snapshot,
    load_candidates,
    load_snapshot_items,
    preview_snapshot,
    save_snapshot,
    select_items,
)
from tests.training_support import LABELS, LANGUAGES, make_project

ENCODER = "bundled:multilingual-e5-small"  # never loaded here


def test_a_budget_is_spread_evenly_and_small_labels_give_what_they_have() -> None:
    quotas = spread_budget({"a": 10, "b": 3, "c": 7}, 15)
    assert quotas["b"] == 3  # all it has
    assert quotas["a"] == quotas["c"] == 6  # the other 12 split evenly
    assert sum(spread_budget({"a": 10, "b": 3, "c": 7}, 100).values()) == 20
    uneven = spread_budget({"a": 5, "b": 5, "c": 5}, 7)
    assert sorted(uneven.values()) == [2, 2, 3] and sum(uneven.values()) == 7
    assert spread_budget({"a": 0, "b": 4}, 3) == {"a": 0, "b": 3}


def test_caps_and_strict_balance_come_before_the_budget() -> None:
    available = {"a": 10, "b": 3, "c": 7}
    assert cell_quotas(available, per_cell=5) == {"a": 5, "b": 3, "c": 5}
    assert cell_quotas(available, balance=True) == {"a": 3, "b": 3, "c": 3}
    assert cell_quotas({"a": 10, "b": 0, "c": 7}, balance=True) == {"a": 7, "b": 0, "c": 7}
    assert cell_quotas(available, per_cell=6, budget=9) == {"a": 3, "b": 3, "c": 3}


def test_the_order_within_a_cell_is_fixed_by_the_seed_so_smaller_budgets_pick_subsets() -> None:
    ids = list(range(100, 160))
    first = cell_order(ids, 0, "sw", "price")
    assert first == cell_order(list(reversed(ids)), 0, "sw", "price")
    assert sorted(first) == ids and first != ids
    assert cell_order(ids, 1, "sw", "price") != first
    assert cell_order(ids, 0, "en", "price") != first
    sizes = [3, 10, 40]
    picked = [set(first[:n]) for n in sizes]
    assert picked[0] < picked[1] < picked[2]


def test_validation_split_holds_out_a_share_of_every_language_label_group() -> None:
    keys = [("en", "a")] * 20 + [("en", "b")] * 10 + [("sw", "a")] * 2
    train, held = validation_split(keys, 0.2, seed=3)
    assert sorted(train + held) == list(range(len(keys)))
    held_groups = Counter(keys[i] for i in held)
    assert held_groups == {("en", "a"): 4, ("en", "b"): 2}  # groups under 3 samples give none
    assert validation_split(keys, 0.0, seed=3) == (list(range(len(keys))), [])


def _stored(store: Store, project_id: int, **filters: tuple[str, ...]) -> list:
    return list(iter_samples(store, project_id, SampleFilter(**filters)))


def test_default_snapshot_takes_accepted_train_samples_of_every_origin_and_never_the_test_split(
    sqlite_store: Store,
) -> None:
    project = make_project(sqlite_store, ENCODER)
    snapshot = build_snapshot(sqlite_store, project, SnapshotOptions())
    expected = _stored(sqlite_store, project.id, splits=("train",), statuses=("accepted",))
    assert sorted(item.sample_id for item in snapshot.items) == sorted(s.id for s in expected)
    by_id = {s.id: s for s in expected}
    for item in snapshot.items:
        stored = by_id[item.sample_id]
        assert (item.text, item.label, item.language, item.origin) == (
            stored.text,
            stored.label,
            stored.language,
            stored.origin,
        )
    assert snapshot.summary.total == len(expected)
    assert snapshot.summary.labels == list(LABELS)
    assert snapshot.summary.languages == list(LANGUAGES)
    test_ids = {s.id for s in _stored(sqlite_store, project.id, splits=("test",))}
    assert not test_ids & {item.sample_id for item in snapshot.items}


def test_options_choose_origins_pending_languages_labels_and_caps(sqlite_store: Store) -> None:
    project = make_project(sqlite_store, ENCODER)
    synthetic_all = build_snapshot(sqlite_store, project, SnapshotOptions(origins=("synthetic",), include_pending=True))
    expected = _stored(sqlite_store, project.id, splits=("train",), origins=("synthetic",))
    assert synthetic_all.summary.total == len(expected)
    assert {item.origin for item in synthetic_all.items} == {"synthetic"}

    narrow = build_snapshot(
        sqlite_store,
        project,
        SnapshotOptions(include_pending=True, languages=("sw",), labels=("price", "disease"), per_cell=5),
    )
    cells = Counter((item.language, item.label) for item in narrow.items)
    assert cells == {("sw", "price"): 5, ("sw", "disease"): 5}
    assert narrow.summary.labels == ["price", "disease"]


def test_budget_per_language_is_class_balanced_and_a_short_language_is_reported(sqlite_store: Store) -> None:
    project = make_project(sqlite_store, ENCODER)
    options = SnapshotOptions(origins=("synthetic",), include_pending=True, per_language=9)
    snapshot = build_snapshot(sqlite_store, project, options)
    cells = Counter((item.language, item.label) for item in snapshot.items)
    assert set(cells.values()) == {3} and len(cells) == 6
    assert snapshot.summary.by_language() == {"en": 9, "sw": 9}
    assert snapshot.summary.notes == []

    big = build_snapshot(sqlite_store, project, SnapshotOptions(origins=("synthetic",), per_language=50))
    accepted_per_language = 3 * 4  # 12 synthetic samples per cell, every third accepted, 3 labels
    assert big.summary.by_language() == {"en": accepted_per_language, "sw": accepted_per_language}
    assert any("50 asked, 12 available" in note for note in big.summary.notes)


def test_preview_counts_are_what_the_snapshot_takes(sqlite_store: Store) -> None:
    project = make_project(sqlite_store, ENCODER)
    options = SnapshotOptions(include_pending=True, per_language=10, balance=True)
    preview = preview_snapshot(sqlite_store, project, options)
    snapshot = build_snapshot(sqlite_store, project, options)
    assert replace(preview, left_out=[]) == snapshot.summary  # what it leaves out: the preview's alone
    assert sum(item.total for item in preview.left_out if item.reason == "limits") == 2 * (36 + 12 - 10)
    table = preview.table()
    assert [row["total"] for row in table] == [10, 10]
    assert all(set(row) == {"language", *LABELS, "total"} for row in table)


def test_nothing_to_train_on_is_refused_with_a_readable_message(sqlite_store: Store) -> None:
    project = make_project(sqlite_store, ENCODER)
    with pytest.raises(InvalidInput, match="No samples match"):
        build_snapshot(sqlite_store, project, SnapshotOptions(languages=("de",)))
    empty_language = preview_snapshot(sqlite_store, project, SnapshotOptions(languages=("en", "de")))
    assert empty_language.languages == ["en", "de"] and empty_language.by_language()["de"] == 0
    assert "German has no samples with these options." in empty_language.notes
    with pytest.raises(InvalidInput, match="at least two labels"):
        build_snapshot(sqlite_store, project, SnapshotOptions(labels=("price",)))
    with pytest.raises(InvalidInput):
        SnapshotOptions(origins=("robots",))


def test_a_saved_snapshot_keeps_its_copies_when_samples_are_edited(sqlite_store: Store, tmp_path: Path) -> None:
    project = make_project(sqlite_store, ENCODER)
    snapshot = build_snapshot(sqlite_store, project, SnapshotOptions())
    save_snapshot(snapshot, tmp_path)
    victim = snapshot.items[0]
    with sqlite_store.session() as session:
        session.execute(
            update(SampleRow).where(SampleRow.id == victim.sample_id).values(text="edited later", label="price")
        )
    assert load_snapshot_items(tmp_path) == snapshot.items
    rebuilt = build_snapshot(sqlite_store, project, SnapshotOptions())
    assert rebuilt.items != snapshot.items  # the store did change; the saved snapshot did not


def test_curve_points_are_nested_capped_and_a_repeat_is_skipped(sqlite_store: Store) -> None:
    project = make_project(sqlite_store, ENCODER)
    options = SnapshotOptions(origins=("synthetic",), include_pending=True)
    candidates = load_candidates(sqlite_store, project, options)
    plan = plan_curve(candidates, project, options, parse_sizes("3,6,100,200"))
    assert [p.size for p in plan.points] == [3, 6, 100]
    ids = [{item.sample_id for item in p.snapshot.items} for p in plan.points]
    assert ids[0] < ids[1] < ids[2]
    assert plan.points[-1].capped == {"en": 36, "sw": 36}
    assert plan.points[0].capped == {}
    assert any("200 skipped" in note for note in plan.notes)
    assert any("100 is capped" in note for note in plan.notes)
    with pytest.raises(InvalidInput):
        parse_sizes("10,abc")
    assert parse_sizes("50, 10,10") == [10, 50]


@pytest.mark.parametrize(
    "options",
    [
        SnapshotOptions(),
        SnapshotOptions(include_pending=True),
        SnapshotOptions(origins=("synthetic",), languages=("sw",)),
        SnapshotOptions(labels=("price", "pest"), per_cell=2),
        SnapshotOptions(include_pending=True, per_language=7, balance=True, languages=("sw", "en", "de")),
    ],
)
def test_the_preview_counted_from_the_tallies_matches_the_samples_it_would_read(
    store: Store, options: SnapshotOptions
) -> None:
    """The preview counts (the store's tallies, no sample read) say what the snapshot reads sample by sample, also
    after samples change status, label, split and language, and after some are deleted."""
    project = make_project(store, ENCODER)
    samples = _stored(store, project.id)
    with store.session() as session:
        session.execute(update(SampleRow).where(SampleRow.id == samples[0].id).values(status="rejected"))
        session.execute(update(SampleRow).where(SampleRow.id == samples[1].id).values(label=None, status="unlabeled"))
        session.execute(update(SampleRow).where(SampleRow.id == samples[2].id).values(split="test"))
        session.execute(update(SampleRow).where(SampleRow.id == samples[3].id).values(language="de"))
        session.execute(update(SampleRow).where(SampleRow.id == samples[4].id).values(status="accepted"))
        session.execute(SampleRow.__table__.delete().where(SampleRow.id.in_([s.id for s in samples[5:8]])))
    preview = preview_snapshot(store, project, options)
    read = select_items(load_candidates(store, project, options, with_text=False), project, options)[1]
    assert replace(preview, left_out=[]) == read
    assert preview.total > 0

"""What a snapshot leaves out, and why, per language: every sample of the project is either taken or counted
under exactly one reason, and each reason's count is what changing that one option brings in."""

from __future__ import annotations

from sqlalchemy import func, select, update

from core.evaluation.model_scores import count_test_samples, load_test_set
from core.store import Store
from core.store.schema import SampleRow
from core.training.left_out import LeftOut
from core.training.snapshot import SnapshotOptions, preview_snapshot
from tests.training_support import make_project

ENCODER = "bundled:multilingual-e5-small"  # never loaded here


def _count(store: Store, project_id: int, *conditions) -> dict[str, int]:  # type: ignore[no-untyped-def]
    query = (
        select(SampleRow.language, func.count())
        .where(SampleRow.project_id == project_id, *conditions)
        .group_by(SampleRow.language)
    )
    with store.session() as session:
        return dict(session.execute(query).all())


def _project_size(store: Store, project_id: int) -> int:
    with store.session() as session:
        return session.scalar(select(func.count()).where(SampleRow.project_id == project_id)) or 0


def _reasons(left: list[LeftOut]) -> dict[str, dict[str, int]]:
    return {item.reason + (f":{item.detail}" if item.reason == "origin" else ""): item.by_language for item in left}


def test_the_default_snapshot_says_it_leaves_the_pending_samples_out(sqlite_store: Store) -> None:
    project = make_project(sqlite_store, ENCODER)
    preview = preview_snapshot(sqlite_store, project, SnapshotOptions())
    pending = _count(sqlite_store, project.id, SampleRow.split == "train", SampleRow.status == "pending")
    tests = _count(sqlite_store, project.id, SampleRow.split == "test")
    assert _reasons(preview.left_out) == {"pending": pending, "test": tests}
    [first, _] = preview.left_out
    total = sum(pending.values())
    assert first.sentence() == (
        f'{total} pending samples are not used: review them on Curate, or tick "Also pending samples" '
        f"(English {pending['en']}, Swahili {pending['sw']})."
    )
    assert preview.total + sum(item.total for item in preview.left_out) == _project_size(sqlite_store, project.id)
    assert count_test_samples(sqlite_store, project) == len(load_test_set(sqlite_store, project).sample_ids) == 24

    # ticking "also pending" brings exactly those in
    with_pending = preview_snapshot(sqlite_store, project, SnapshotOptions(include_pending=True))
    assert with_pending.total == preview.total + total
    assert _reasons(with_pending.left_out) == {"test": tests}


def test_each_sample_left_out_is_counted_under_one_reason(sqlite_store: Store) -> None:
    project = make_project(sqlite_store, ENCODER)
    with sqlite_store.session() as session:
        train = select(SampleRow.id).where(SampleRow.project_id == project.id, SampleRow.split == "train")
        ids = list(session.scalars(train.where(SampleRow.language == "sw").order_by(SampleRow.id)))
        session.execute(update(SampleRow).where(SampleRow.id.in_(ids[:3])).values(status="rejected"))
        session.execute(update(SampleRow).where(SampleRow.id.in_(ids[3:5])).values(status="unlabeled", label=None))
        session.execute(update(SampleRow).where(SampleRow.id == ids[5]).values(label="a label since removed"))
    options = SnapshotOptions(origins=("human",), languages=("sw",), include_pending=True, per_cell=2)
    preview = preview_snapshot(sqlite_store, project, options)
    reasons = _reasons(preview.left_out)
    assert reasons["rejected"] == {"sw": 3}
    assert reasons["label"] == {"sw": 3}  # no label (2), a label the project no longer has (1)
    assert reasons["language"] == _count(
        sqlite_store, project.id, SampleRow.split == "train", SampleRow.language == "en"
    )
    # generated Swahili samples not rejected and labelled: all of them left out by the origin chosen
    touched = ids[:6]
    generated = _count(
        sqlite_store,
        project.id,
        SampleRow.split == "train",
        SampleRow.origin == "synthetic",
        SampleRow.language == "sw",
        SampleRow.id.not_in(touched),
    )
    assert reasons["origin:generated"] == generated
    humans = _count(
        sqlite_store, project.id, SampleRow.split == "train", SampleRow.origin == "human", SampleRow.id.not_in(touched)
    )
    assert reasons["limits"] == {"sw": humans["sw"] - preview.total} and preview.total == 2 * 3
    assert "pending" not in reasons
    assert preview.total + sum(item.total for item in preview.left_out) == _project_size(sqlite_store, project.id)
    sentences = {item.reason: item.sentence() for item in preview.left_out}
    assert sentences["rejected"] == "3 samples rejected on Curate are not used (Swahili 3)."
    assert sentences["origin"].startswith(f"{sum(generated.values())} generated samples are not used: add")
    assert "1 sample" not in sentences["label"] and sentences["label"].startswith("3 samples without a label")


def test_the_summary_keeps_what_it_left_out_through_a_round_trip(sqlite_store: Store) -> None:
    from core.training.snapshot import SnapshotSummary

    project = make_project(sqlite_store, ENCODER)
    preview = preview_snapshot(sqlite_store, project, SnapshotOptions())
    again = SnapshotSummary.from_dict(preview.to_dict())
    assert again == preview and again.left_out
    assert SnapshotSummary.from_dict({"total": 3}).left_out == []  # summaries stored before keep loading

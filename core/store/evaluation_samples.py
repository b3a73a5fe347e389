"""The human test split in the store: the samples every evaluation is scored on (human, split test, a project
label, not rejected), and the texts of test samples by id."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement, func, select

from core.store.database import Store
from core.store.schema import SampleRow

TEST_STATUSES = ("accepted", "pending")  # a test sample someone rejected does not count


@dataclass(frozen=True)
class TestSet:
    __test__ = False  # not a pytest class

    sample_ids: list[int]
    texts: list[str]
    labels: list[str]
    languages: list[str]


@dataclass(frozen=True)
class TestSampleKey:
    """A human test sample's id, content key and status (rejected ones too): what pairs a file's rows with it."""

    sample_id: int
    content_key: str
    status: str


def _scored(project_id: int, labels: Sequence[str]) -> list[ColumnElement[bool]]:
    return [
        SampleRow.project_id == project_id,
        SampleRow.split == "test",
        SampleRow.origin == "human",
        SampleRow.status.in_(TEST_STATUSES),
        SampleRow.label.in_(labels),
    ]


def count_test_samples(store: Store, project_id: int, labels: Sequence[str]) -> int:
    """How many samples `load_test_set` would load (without reading their texts)."""
    with store.session() as session:
        return int(session.scalar(select(func.count()).where(*_scored(project_id, labels))) or 0)


def load_test_set(
    store: Store, project_id: int, labels: Sequence[str], languages: Sequence[str] | None = None
) -> TestSet:
    """The test samples with one of `labels` (of these languages when given), in id order."""
    query = (
        select(SampleRow.id, SampleRow.text, SampleRow.label, SampleRow.language)
        .where(*_scored(project_id, labels))
        .order_by(SampleRow.id)
    )
    if languages:
        query = query.where(SampleRow.language.in_(languages))
    with store.session() as session:
        rows = session.execute(query).tuples().all()
    return TestSet([r[0] for r in rows], [r[1] for r in rows], [r[2] or "" for r in rows], [r[3] for r in rows])


def human_test_keys(store: Store, project_id: int) -> list[TestSampleKey]:
    """Every human test sample of the project (whatever its status or label), in id order."""
    with store.session() as session:
        rows = session.execute(
            select(SampleRow.id, SampleRow.content_key, SampleRow.status)
            .where(SampleRow.project_id == project_id, SampleRow.split == "test", SampleRow.origin == "human")
            .order_by(SampleRow.id)
        ).tuples()
        return [TestSampleKey(sample_id, key, status) for sample_id, key, status in rows]


def sample_texts(store: Store, sample_ids: Sequence[int]) -> dict[int, str]:
    """{sample id: text} for those of the ids that still exist."""
    with store.session() as session:
        return dict(
            session.execute(select(SampleRow.id, SampleRow.text).where(SampleRow.id.in_(list(sample_ids))))
            .tuples()
            .all()
        )

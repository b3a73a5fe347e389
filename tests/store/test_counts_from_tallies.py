"""The pages' counts read from the tallies (project summary, guide, snapshot preview) are what a GROUP BY over the
samples gives, after imports, edits and deletions."""

from __future__ import annotations

from sqlalchemy import delete, func, select, update

from core.store import Store
from core.store.sample_stats import grouped_counts
from core.store.schema import SampleRow
from core.store.training_samples import sample_counts
from tests.training_support import make_project


def _grouped(store: Store, project_id: int, *columns: object) -> dict[tuple, int]:
    with store.session() as session:
        rows = session.execute(
            select(*columns, func.count()).where(SampleRow.project_id == project_id).group_by(*columns)  # type: ignore[arg-type]
        )
        return {tuple(row[:-1]): int(row[-1]) for row in rows}


def test_counts_from_the_tallies_are_those_of_the_samples(store: Store) -> None:
    project = make_project(store, "bundled:multilingual-e5-small")
    other = make_project(store, "bundled:multilingual-e5-small", name="other")  # its samples are not counted
    with store.session() as session:
        ids = list(
            session.scalars(select(SampleRow.id).where(SampleRow.project_id == project.id).order_by(SampleRow.id))
        )
        session.execute(update(SampleRow).where(SampleRow.id.in_(ids[:5])).values(status="rejected"))
        session.execute(update(SampleRow).where(SampleRow.id.in_(ids[5:8])).values(label=None, status="unlabeled"))
        session.execute(update(SampleRow).where(SampleRow.id.in_(ids[8:12])).values(split="test", origin="human"))
        session.execute(delete(SampleRow).where(SampleRow.id.in_(ids[12:20])))
    columns = (SampleRow.language, SampleRow.origin, SampleRow.split, SampleRow.status)
    expected = _grouped(store, project.id, *columns)
    assert {tuple(row[:4]): row[4] for row in grouped_counts(store, project.id)} == expected
    assert len(grouped_counts(store, project.id)) == len(expected)  # no empty combination
    detailed = _grouped(
        store, project.id, SampleRow.split, SampleRow.status, SampleRow.origin, SampleRow.language, SampleRow.label
    )
    assert {
        (c.split, c.status, c.origin, c.language, c.label): c.samples for c in sample_counts(store, project.id)
    } == detailed
    assert sum(n for *_, n in grouped_counts(store, other.id)) == len(_grouped(store, other.id, SampleRow.id))

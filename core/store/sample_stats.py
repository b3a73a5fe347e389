"""Counts for a project's overview (computed in SQL, one GROUP BY)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from sqlalchemy import func, select

from core.language_names import language_name
from core.store.database import Store
from core.store.projects import Project
from core.store.schema import SampleTallyRow


@dataclass(frozen=True)
class ProjectTotals:
    total: int
    synthetic: int
    human: int
    accepted: int
    pending: int
    unlabeled: int
    rejected: int


def grouped_counts(store: Store, project_id: int) -> list[tuple[str, str, str, str, int]]:
    """(language, origin, split, status, samples) for every combination the project has, summed from the tallies
    the database keeps (core/store/sample_tallies.py): a few thousand rows, however many samples."""
    tally = SampleTallyRow
    with store.session() as session:
        query = (
            select(tally.language, tally.origin, tally.split, tally.status, func.sum(tally.n))
            .where(tally.project_id == project_id)
            .group_by(tally.language, tally.origin, tally.split, tally.status)
        )
        return [(lang, origin, split, status, int(n)) for lang, origin, split, status, n in session.execute(query) if n]


def project_totals(store: Store, project_id: int) -> ProjectTotals:
    by_origin: Counter[str] = Counter()
    by_status: Counter[str] = Counter()
    for _lang, origin, _split, status, n in grouped_counts(store, project_id):
        by_origin[origin] += n
        by_status[status] += n
    return ProjectTotals(
        total=sum(by_origin.values()),
        synthetic=by_origin["synthetic"],
        human=by_origin["human"],
        accepted=by_status["accepted"],
        pending=by_status["pending"],
        unlabeled=by_status["unlabeled"],
        rejected=by_status["rejected"],
    )


def overview_table(store: Store, project: Project) -> list[dict[str, object]]:
    """One row per project language (and any other language found in the samples)."""
    cells: dict[str, Counter[str]] = {}
    for lang, origin, split, status, n in grouped_counts(store, project.id):
        counter = cells.setdefault(lang, Counter())
        counter[f"{origin} {split}"] += n
        counter[status] += n
    order = project.language_codes + sorted(set(cells) - set(project.language_codes))
    rows = []
    for code in order:
        counter = cells.get(code, Counter())
        rows.append(
            {
                "language": f"{language_name(code)} ({code})",
                "synthetic train": counter["synthetic train"],
                "human train": counter["human train"],
                "human test": counter["human test"],
                "synthetic test": counter["synthetic test"],
                "accepted": counter["accepted"],
                "pending": counter["pending"],
                "unlabeled": counter["unlabeled"],
                "rejected": counter["rejected"],
            }
        )
    return rows

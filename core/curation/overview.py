"""Figures for the curation overview: the accepted training set per language x label, and flags per kind."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select

from core.store.database import Store
from core.store.projects import Project
from core.store.samples import SampleFilter, count_by_language_label_status
from core.store.schema import FlagRow, SampleRow


@dataclass(frozen=True)
class CountMatrix:
    languages: list[str]  # rows
    labels: list[str]  # columns
    counts: list[list[int]]

    @property
    def total(self) -> int:
        return sum(map(sum, self.counts))

    def weakest(self) -> tuple[str, str, int] | None:
        """The (language, label) cell with the fewest samples."""
        cells = [
            (self.counts[r][c], lang, label)
            for r, lang in enumerate(self.languages)
            for c, label in enumerate(self.labels)
        ]
        if not cells:
            return None
        n, lang, label = min(cells)
        return lang, label, n


def accepted_matrix(store: Store, project: Project, split: str = "train") -> CountMatrix:
    """Accepted samples of a split per language x label: the training set to come (test: the evaluation set)."""
    counts = {lang: dict.fromkeys(project.label_names, 0) for lang in project.language_codes}
    flt = SampleFilter(statuses=("accepted",), splits=(split,))
    for row in count_by_language_label_status(store, project.id, flt):
        if row.language in counts and row.label in counts[row.language]:
            counts[row.language][row.label] += row.count
    return CountMatrix(
        languages=list(project.language_codes),
        labels=list(project.label_names),
        counts=[[counts[lang][label] for label in project.label_names] for lang in project.language_codes],
    )


def flag_counts(store: Store, project_id: int) -> dict[str, int]:
    """Samples (not rejected) carrying each flag kind."""
    with store.session() as session:
        query = (
            select(FlagRow.kind, func.count(func.distinct(FlagRow.sample_id)))
            .join(SampleRow, SampleRow.id == FlagRow.sample_id)
            .where(FlagRow.project_id == project_id, SampleRow.status != "rejected")
            .group_by(FlagRow.kind)
            .order_by(FlagRow.kind)
        )
        return {kind: int(n) for kind, n in session.execute(query)}


@dataclass(frozen=True)
class LastCheck:
    job_id: int
    finished_at: object
    result: dict


def last_check(store: Store, project_id: int) -> LastCheck | None:
    """The result of the project's latest finished check (`flag` job): thresholds, counts, the diversity table."""
    from core.jobs.queue import list_jobs

    for job in list_jobs(store, project_id, kind="flag"):
        if job.status == "done" and job.result:
            return LastCheck(job.id, job.finished_at, job.result)
    return None

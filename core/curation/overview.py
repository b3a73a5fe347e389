"""Figures for the curation overview: the accepted training set per language x label, and flags per kind."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from core.store.database import Store
from core.store.flags import flag_counts
from core.store.projects import Project
from core.store.samples import SampleFilter, count_by_language_label_status
from core.store.schema import SAMPLE_STATUSES, utcnow


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


@dataclass(frozen=True)
class LastCheck:
    job_id: int
    finished_at: datetime | None  # UTC
    result: dict


def last_check(store: Store, project_id: int) -> LastCheck | None:
    """The result of the project's latest finished check (`flag` job): thresholds, counts, the diversity table."""
    from core.jobs.queue import list_jobs

    for job in list_jobs(store, project_id, kind="flag"):
        if job.status == "done" and job.result:
            return LastCheck(job.id, job.finished_at, job.result)
    return None


@dataclass(frozen=True)
class FlagTally:
    kind: str
    found: int  # samples the last check flagged with it
    flagged: int  # samples that carry it now, whatever their status
    to_review: int  # of those, the pending ones (the review queue of this flag)


@dataclass(frozen=True)
class CheckSummary:
    """What the last check found, kept after its job ended, next to where its flags stand now."""

    job_id: int
    finished_at: datetime | None  # UTC
    samples: int  # checked
    flags: list[FlagTally]  # kinds found by that check or carried now, in the check's order

    @property
    def found(self) -> int:
        return sum(t.found for t in self.flags)


def check_summary(store: Store, project_id: int) -> CheckSummary | None:
    """The last finished check of the project and, per flag kind, how many it found and how many carry the flag
    now (all, and pending: to review); None when no check has finished yet."""
    check = last_check(store, project_id)
    if check is None:
        return None
    found = {str(kind): int(n) for kind, n in (check.result.get("flags") or {}).items()}
    flagged = flag_counts(store, project_id, statuses=SAMPLE_STATUSES)
    pending = flag_counts(store, project_id, statuses=("pending",))
    kinds = [kind for kind in dict.fromkeys([*found, *flagged]) if found.get(kind) or flagged.get(kind)]
    return CheckSummary(
        job_id=check.job_id,
        finished_at=check.finished_at,
        samples=int(check.result.get("samples") or 0),
        flags=[FlagTally(kind, found.get(kind, 0), flagged.get(kind, 0), pending.get(kind, 0)) for kind in kinds],
    )


def time_ago(then: datetime, now: datetime | None = None) -> str:
    """'just now', '1 minute ago', '5 hours ago', '3 days ago' (both times UTC)."""
    seconds = ((now or utcnow()) - then).total_seconds()
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            n = int(seconds // size)
            return f"{n} {unit}{'s' if n != 1 else ''} ago"
    return "just now"

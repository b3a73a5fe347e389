"""Flags on samples: a check's findings replacing the old ones, counts per kind, and groups of repeats (a flag of a
repeat names its group's representative in `details["representative"]`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, delete, func, select, update

from core.store.database import Store
from core.store.schema import SAMPLE_STATUSES, FlagRow, SampleRow, utcnow


@dataclass(frozen=True)
class NewFlag:
    sample_id: int
    kind: str
    reason: str
    details: dict[str, Any] = field(default_factory=dict)
    score: float | None = None  # the higher, the sooner the kind's ordered queue shows it (ranked_queue.py)


_CHUNK = 5000


def replace_flags(
    store: Store, project_id: int, kinds: tuple[str, ...], flags: list[NewFlag], *, languages: tuple[str, ...] = ()
) -> None:
    """The new flags of these kinds replace the old ones, in one transaction (one flag per sample and kind: the
    first one given is kept). Only what differs is written: a flag found again as it was stays (with its date), one
    found again with another reason, details or score is updated, the others go or come. A sample that keeps a flag is
    then never seen without one by the database's triggers (its `flagged` and the tallies, migration 0015).
    `languages`: the check looked at the samples of these languages only; the flags of the others stay."""
    now = utcnow()
    unique: dict[tuple[int, str], NewFlag] = {}
    for flag in flags:
        unique.setdefault((flag.sample_id, flag.kind), flag)
    with store.session() as session:
        stored = select(FlagRow.id, FlagRow.sample_id, FlagRow.kind, FlagRow.reason, FlagRow.details, FlagRow.score)
        gone: list[int] = []
        changed: list[dict[str, Any]] = []
        stored = stored.where(FlagRow.project_id == project_id, FlagRow.kind.in_(kinds))
        if languages:
            of_languages = select(SampleRow.id).where(
                SampleRow.project_id == project_id, SampleRow.language.in_(languages)
            )
            stored = stored.where(FlagRow.sample_id.in_(of_languages))
        for flag_id, sample_id, kind, reason, details, score in session.execute(stored).tuples():
            new = unique.pop((sample_id, kind), None)
            if new is None:
                gone.append(flag_id)
            elif (new.reason, new.details, new.score) != (reason, details or {}, score):
                changed.append(
                    {"id": flag_id, "reason": new.reason, "details": new.details, "score": new.score, "created_at": now}
                )
        for start in range(0, len(gone), _CHUNK):
            session.execute(delete(FlagRow).where(FlagRow.id.in_(gone[start : start + _CHUNK])))
        if changed:
            session.execute(update(FlagRow), changed)
        session.add_all(
            [
                FlagRow(
                    sample_id=f.sample_id,
                    project_id=project_id,
                    kind=f.kind,
                    reason=f.reason,
                    details=f.details,
                    score=f.score,
                    created_at=now,
                )
                for f in unique.values()
            ]
        )


def flag_counts(store: Store, project_id: int, statuses: tuple[str, ...] | None = None) -> dict[str, int]:
    """Samples (not rejected; or, with `statuses`, in one of those) carrying each flag kind."""
    # a sample has at most one flag of a kind (unique (sample_id, kind)): flags of a kind count its samples, read
    # from the flags' (project_id, kind, sample_id) index; a sample's status only when some status is left out
    query = select(FlagRow.kind, func.count()).where(FlagRow.project_id == project_id)
    if statuses is None or set(SAMPLE_STATUSES) - set(statuses):
        status = SampleRow.status.in_(statuses) if statuses else SampleRow.status != "rejected"
        # the sample's project named too: PostgreSQL then reads the status queue index of this project alone
        query = query.join(SampleRow, SampleRow.id == FlagRow.sample_id)
        query = query.where(SampleRow.project_id == project_id, status)
    with store.session() as session:
        rows = session.execute(query.group_by(FlagRow.kind).order_by(FlagRow.kind))
        return {kind: int(n) for kind, n in rows}


@dataclass(frozen=True)
class RepeatGroupSize:
    representative: int  # the sample the others repeat
    repeats: int  # flags naming it (samples not rejected)


def repeat_group_sizes(store: Store, project_id: int, kinds: tuple[str, ...]) -> list[RepeatGroupSize]:
    """For each representative named by a flag of these kinds on a sample that is not rejected, how many such
    flags name it (in no particular order)."""
    with store.session() as session:
        representative: ColumnElement[int] = FlagRow.details["representative"].as_integer()
        query = (
            select(representative, func.count(FlagRow.id))
            .join(SampleRow, SampleRow.id == FlagRow.sample_id)
            .where(
                FlagRow.project_id == project_id,
                FlagRow.kind.in_(kinds),
                SampleRow.project_id == project_id,
                SampleRow.status != "rejected",
            )
            .group_by(representative)
        )
        return [RepeatGroupSize(int(rep), int(n)) for rep, n in session.execute(query) if rep is not None]


def repeat_group_members(store: Store, project_id: int, kinds: tuple[str, ...], representative: int) -> list[int]:
    """Ids of the samples (not rejected) with a flag of these kinds naming this representative, in id order (an id
    appears once per such flag)."""
    with store.session() as session:
        return list(
            session.scalars(
                select(FlagRow.sample_id)
                .join(SampleRow, SampleRow.id == FlagRow.sample_id)
                .where(
                    FlagRow.project_id == project_id,
                    FlagRow.kind.in_(kinds),
                    FlagRow.details["representative"].as_integer() == representative,
                    SampleRow.project_id == project_id,
                    SampleRow.status != "rejected",
                )
                .order_by(FlagRow.sample_id)
            )
        )

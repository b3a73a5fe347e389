"""Samples: reading with server-side filters and paging, counts, and the content key used against re-imports."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from typing import Any, TypeVarTuple

from sqlalchemy import ColumnElement, Select, and_, exists, false, func, or_, select, true
from sqlalchemy.orm import Session, joinedload, selectinload

from core.store.database import Store
from core.store.sample_tallies import (
    answers,
    block_of,
    first_id_of,
    flagged_condition,
    named_kind,
    tally_count,
    tally_groups,
    tally_split,
)
from core.store.schema import SAMPLE_STATUSES, FlagRow, SampleRow


def content_key(text: str, label: str | None, language: str, split: str, origin: str) -> str:
    """Identity of a sample for import purposes: same text, label, language, split and origin."""
    joined = "\x1f".join((text, label or "", language, split, origin))
    return hashlib.sha1(joined.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Flag:
    kind: str
    reason: str
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Sample:
    id: int
    text: str
    label: str | None
    language: str
    split: str
    origin: str
    status: str
    flags: list[Flag]
    source: str
    generation_run_id: int | None
    prompt_version: str | None
    model: str | None
    version: int
    created_at: datetime
    created_by: str
    updated_at: datetime
    updated_by: str

    def to_public(self) -> dict[str, Any]:
        """The CLI's `samples --json` shape."""
        return {
            "id": self.id,
            "text": self.text,
            "label": self.label,
            "language": self.language,
            "split": self.split,
            "origin": self.origin,
            "status": self.status,
            "flags": [asdict(f) for f in self.flags],
        }


_Columns = TypeVarTuple("_Columns")


@dataclass(frozen=True)
class SampleFilter:
    languages: tuple[str, ...] = ()
    labels: tuple[str, ...] = ()
    splits: tuple[str, ...] = ()
    origins: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()
    flags: tuple[str, ...] = ()  # any of these flag kinds; "none" = no flag at all, "any" = some flag
    search: str = ""

    def apply(self, query: Select[*_Columns], project_id: int) -> Select[*_Columns]:
        return query.where(and_(*self._sample_conditions(project_id), *self._flag_conditions()))

    def _sample_conditions(self, project_id: int) -> list[ColumnElement[bool]]:
        """Everything but the flags: conditions on the samples' own columns."""
        conditions: list[ColumnElement[bool]] = [SampleRow.project_id == project_id]
        if self.labels:  # "" stands for "no label"
            named = [label for label in self.labels if label]
            label_conditions = [SampleRow.label.in_(named)] if named else []
            if "" in self.labels:
                label_conditions.append(SampleRow.label.is_(None))
            conditions.append(or_(*label_conditions))
        for column, values in (
            (SampleRow.language, self.languages),
            (SampleRow.split, self.splits),
            (SampleRow.origin, self.origins),
            (SampleRow.status, self.statuses),
        ):
            if values:
                conditions.append(column.in_(values))
        if self.search.strip():
            conditions.append(SampleRow.text.icontains(self.search.strip(), autoescape=True))
        return conditions

    @property
    def flag_kinds(self) -> tuple[str, ...]:
        """The flag kinds asked for by name (without "none" and "any")."""
        return tuple(f for f in self.flags if f not in ("none", "any"))

    def _flag_conditions(self, *on_flags: ColumnElement[bool]) -> list[ColumnElement[bool]]:
        """The flag filter: "any" and "none" on the sample's own `flagged` column (kept by the database's triggers),
        flag kinds by name as probes of each sample's flags (what a walk in id order wants: it stops early);
        `on_flags`: the walk's id range again, on the flags (PostgreSQL may merge the two in id order: it then
        starts the flags where the walk starts, not at the first one)."""
        if not self.flags:
            return []
        if "any" in self.flags:  # every flag kind too
            return [] if "none" in self.flags else [SampleRow.flagged == true()]
        flag_conditions: list[ColumnElement[bool]] = []
        if self.flag_kinds:
            of_sample = [FlagRow.sample_id == SampleRow.id, *on_flags]
            flag_conditions.append(exists().where(*of_sample, FlagRow.kind.in_(self.flag_kinds)))
        if "none" in self.flags:
            flag_conditions.append(SampleRow.flagged == false())
        return [or_(*flag_conditions)]


@dataclass(frozen=True)
class SamplePage:
    samples: list[Sample]
    total: int
    page: int
    page_size: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.page_size))


def to_sample(row: SampleRow) -> Sample:
    return Sample(
        id=row.id,
        text=row.text,
        label=row.label,
        language=row.language,
        split=row.split,
        origin=row.origin,
        status=row.status,
        flags=[Flag(f.kind, f.reason, f.details or {}) for f in row.flags],
        source=row.source,
        generation_run_id=row.generation_run_id,
        prompt_version=row.prompt_version,
        model=row.model,
        version=row.version,
        created_at=row.created_at,
        created_by=row.created_by,
        updated_at=row.updated_at,
        updated_by=row.updated_by,
    )


# --- counting ----------------------------------------------------------------------------------------------------
# A filter the tallies answer (core/store/sample_tallies.py) is a sum of tallies, plus, for a place in the queue, a
# count inside one block of ids on the status queue's index (one flag kind by name: on the flags' index). Otherwise
# (a text search, several flag kinds by name) it is counted on the indexes: count(*) reads an index only
# (count(samples.id) made SQLite read a wider one and PostgreSQL the table); flag kinds are counted from the flags'
# side, through their (project_id, kind, sample_id) index: one probe per flag of those kinds into the samples' queue
# index (none at all when nothing else is asked), where a probe per sample would cost one per sample of the queue.


def _in_block(session: Session, project_id: int, flt: SampleFilter, sample_id: int) -> int:
    """Samples the filter keeps (`answers(flt)`) in the block of `sample_id`, before it: a range of at most a block
    on the status queue's index (its statuses all named when the filter names none); with one flag kind by name, on
    the flags' (project_id, kind, sample_id) index, a probe into the samples per flag of the kind in the range (plus
    the samples without a flag, with "none")."""
    conditions = flt._sample_conditions(project_id)
    conditions.append(SampleRow.status.in_(flt.statuses or SAMPLE_STATUSES))
    start = first_id_of(block_of(sample_id))
    kind = named_kind(flt)
    if kind is not None:
        of_kind = select(func.count()).select_from(FlagRow).join(SampleRow, SampleRow.id == FlagRow.sample_id)
        of_kind = of_kind.where(
            FlagRow.project_id == project_id,
            FlagRow.kind == kind,
            FlagRow.sample_id >= start,
            FlagRow.sample_id < sample_id,
            *conditions,
        )
        found = int(session.scalar(of_kind) or 0)
        if "none" not in flt.flags:
            return found
        return found + _in_block(session, project_id, replace(flt, flags=("none",)), sample_id)
    conditions += [SampleRow.id >= start, SampleRow.id < sample_id]
    flagged = flagged_condition(flt.flags, SampleRow.flagged)
    conditions += [flagged] if flagged is not None else []
    query = select(func.count()).select_from(SampleRow).where(*conditions)
    query = query.with_hint(SampleRow, "INDEXED BY ix_samples_status_queue", "sqlite")
    return int(session.scalar(query) or 0)


def _before(session: Session, project_id: int, flt: SampleFilter, sample_id: int) -> int:
    """How many samples the filter keeps with an id below `sample_id`."""
    if answers(flt):
        earlier = tally_count(session, project_id, flt, before_block=block_of(sample_id))
        return earlier + _in_block(session, project_id, flt, sample_id)
    return _counted(session, project_id, flt, below=sample_id)


def _counted(
    session: Session, project_id: int, flt: SampleFilter, *, below: int | None = None, since: int | None = None
) -> int:
    """How many samples the filter keeps (only those with id < `below`, or id >= `since`, when given)."""
    if below is None and since is None and answers(flt):
        return tally_count(session, project_id, flt)
    sample_conditions = flt._sample_conditions(project_id)
    only_the_project = len(sample_conditions) == 1
    id_range = [SampleRow.id < below] if below is not None else []
    id_range += [SampleRow.id >= since] if since is not None else []
    if id_range and not flt.statuses:  # every status by name: the id range is then a range of the status queue
        sample_conditions.append(SampleRow.status.in_(SAMPLE_STATUSES))

    def count(*conditions: ColumnElement[bool]) -> int:
        query = select(func.count()).select_from(SampleRow).where(*sample_conditions, *conditions)
        return int(session.scalar(query) or 0)

    def flagged(kinds: tuple[str, ...]) -> int:
        of_flags = [FlagRow.project_id == project_id]
        of_flags += [FlagRow.kind.in_(kinds)] if kinds else []
        of_flags += [FlagRow.sample_id < below] if below is not None else []
        of_flags += [FlagRow.sample_id >= since] if since is not None else []
        if only_the_project:  # the project's samples: their flags alone say it
            query = select(func.count(func.distinct(FlagRow.sample_id))).where(*of_flags)
            return int(session.scalar(query) or 0)
        # on SQLite the id range stays inside: outside, it would make the samples' range drive the count (a probe
        # per sample), not the flags; PostgreSQL joins the two sides whole, each cut to the range
        outside = [] if session.get_bind().dialect.name == "sqlite" else id_range
        return count(*outside, SampleRow.id.in_(select(FlagRow.sample_id).where(*of_flags)))

    none, any_, kinds = "none" in flt.flags, "any" in flt.flags, flt.flag_kinds
    flagged_or_not = flagged_condition(flt.flags, SampleRow.flagged)
    if any_ or not kinds:  # "any" holds every kind: the sample's `flagged` says it all
        return count(*id_range, *([flagged_or_not] if flagged_or_not is not None else []))
    if not none:
        return flagged(kinds)
    return count(*id_range, SampleRow.flagged == false()) + flagged(kinds)  # no flag at all, or one of these kinds


def count_samples(store: Store, project_id: int, flt: SampleFilter | None = None) -> int:
    flt = flt or SampleFilter()
    with store.session() as session:
        return _counted(session, project_id, flt)


def has_samples(store: Store, project_id: int) -> bool:
    """Whether the project has any sample (one index probe, where a count reads them all)."""
    with store.session() as session:
        query = select(SampleRow.id).where(SampleRow.project_id == project_id).limit(1)
        return session.scalar(query) is not None


def page_samples(
    store: Store, project_id: int, flt: SampleFilter | None = None, page: int = 1, page_size: int = 50
) -> SamplePage:
    """One page of samples, filtered and paged in SQL (never all rows)."""
    flt = flt or SampleFilter()
    page_size = max(1, min(page_size, 1000))
    with store.session() as session:
        total = _counted(session, project_id, flt)
        pages = max(1, -(-total // page_size))
        page = max(1, min(page, pages))
        query = (
            flt.apply(select(SampleRow), project_id)
            .options(selectinload(SampleRow.flags))
            .order_by(SampleRow.id)
            .offset((page - 1) * page_size)
            .limit(page_size)
        )
        samples = [to_sample(r) for r in session.scalars(query)]
    return SamplePage(samples=samples, total=total, page=page, page_size=page_size)


def iter_samples(store: Store, project_id: int, flt: SampleFilter | None = None, chunk: int = 5000) -> Iterator[Sample]:
    """All matching samples in id order, read in chunks (for export and training)."""
    flt = flt or SampleFilter()
    last_id = 0
    while True:
        with store.session() as session:
            query = (
                flt.apply(select(SampleRow), project_id)
                .where(SampleRow.id > last_id)
                .options(selectinload(SampleRow.flags))
                .order_by(SampleRow.id)
                .limit(chunk)
            )
            rows = [to_sample(r) for r in session.scalars(query)]
        if not rows:
            return
        yield from rows
        last_id = rows[-1].id


def get_sample(store: Store, sample_id: int) -> Sample | None:
    with store.session() as session:
        row = session.get(SampleRow, sample_id, options=[selectinload(SampleRow.flags)])
        return to_sample(row) if row else None


@dataclass(frozen=True)
class CountRow:
    language: str
    label: str | None
    status: str
    count: int


def count_by_language_label_status(store: Store, project_id: int, flt: SampleFilter | None = None) -> list[CountRow]:
    flt = flt or SampleFilter()
    with store.session() as session:
        if answers(flt):
            return sorted(
                (CountRow(lang, label, status, n) for lang, label, status, n in tally_groups(session, project_id, flt)),
                key=lambda r: (r.language, r.label or "", r.status),
            )
        query = flt.apply(
            select(SampleRow.language, SampleRow.label, SampleRow.status, func.count()), project_id
        ).group_by(SampleRow.language, SampleRow.label, SampleRow.status)
        rows = [CountRow(lang, label, status, int(n)) for lang, label, status, n in session.execute(query)]
    return sorted(rows, key=lambda r: (r.language, r.label or "", r.status))


def flag_kinds(store: Store, project_id: int) -> list[str]:
    """The flag kinds present in a project (for filter pickers), in one query that jumps from kind to kind on the
    flags' (project_id, kind) index: one probe per kind, however many flags there are."""
    of_project = FlagRow.project_id == project_id
    kinds = select(func.min(FlagRow.kind).label("kind")).where(of_project).cte("kinds", recursive=True)
    following = select(func.min(FlagRow.kind)).where(of_project, FlagRow.kind > kinds.c.kind).scalar_subquery()
    kinds = kinds.union_all(select(following).where(kinds.c.kind.is_not(None)))
    with store.session() as session:
        return list(session.scalars(select(kinds.c.kind).where(kinds.c.kind.is_not(None))))


def step_sample(
    store: Store, project_id: int, flt: SampleFilter, current_id: int | None, direction: int = 1
) -> Sample | None:
    """The next (direction 1) or previous (-1) sample matching the filter after `current_id`, in id order; the
    first (or last) one when `current_id` is None. Seek paging: no offset, so it stays fast in big projects."""
    with store.session() as session:
        query = flt.apply(select(SampleRow), project_id).options(selectinload(SampleRow.flags))
        if direction >= 0:
            if current_id is not None:
                query = query.where(SampleRow.id > current_id)
            query = query.order_by(SampleRow.id)
        else:
            if current_id is not None:
                query = query.where(SampleRow.id < current_id)
            query = query.order_by(SampleRow.id.desc())
        row = session.scalars(query.limit(1)).first()
        return to_sample(row) if row else None


def count_before(store: Store, project_id: int, flt: SampleFilter, sample_id: int) -> int:
    """How many samples matching the filter come before this one (its position in a review queue)."""
    with store.session() as session:
        return _before(session, project_id, flt, sample_id)


# --- queues: keyset pages in id order, with their place counted on the indexes ------------------------------------


def _walk(
    session: Session, project_id: int, flt: SampleFilter, *, after: int | None, limit: int, backwards: bool = False
) -> list[Sample]:
    """Up to `limit` samples the filter keeps, in id order from just after `after` (or, `backwards`, in reverse
    order from just before it), each with its flags, in one query: WHERE id > after ORDER BY id LIMIT n."""
    sample_range, flag_range = [], []
    if after is not None:
        sample_range = [SampleRow.id < after if backwards else SampleRow.id > after]
        flag_range = [FlagRow.sample_id < after if backwards else FlagRow.sample_id > after]
    conditions = [*_walk_conditions(session, project_id, flt), *sample_range, *flt._flag_conditions(*flag_range)]
    query = select(SampleRow).where(*conditions).options(joinedload(SampleRow.flags))
    query = query.order_by(SampleRow.id.desc() if backwards else SampleRow.id).limit(limit)
    return [to_sample(row) for row in session.scalars(query).unique()]


def _walk_conditions(session: Session, project_id: int, flt: SampleFilter) -> list[ColumnElement[bool]]:
    """The filter's conditions for a walk in id order. One status: its queue index is in id order. Otherwise
    SQLite is kept on the rowid (`project_id + 0` names no index), which reads the samples in id order until the
    page is full: left to itself it would read every sample of the project through an index that starts with
    project_id, then sort them. PostgreSQL weighs both with its statistics."""
    conditions = flt._sample_conditions(project_id)
    if len(flt.statuses) != 1 and session.get_bind().dialect.name == "sqlite":
        conditions[0] = SampleRow.project_id + 0 == project_id
    return conditions


def _previous_id(session: Session, project_id: int, flt: SampleFilter, sample_id: int) -> int | None:
    conditions = [*_walk_conditions(session, project_id, flt), *flt._flag_conditions(FlagRow.sample_id < sample_id)]
    query = select(SampleRow.id).where(*conditions, SampleRow.id < sample_id)
    return session.scalar(query.order_by(SampleRow.id.desc()).limit(1))


def _place(session: Session, project_id: int, flt: SampleFilter, sample_id: int, shown: int) -> tuple[int, int]:
    """(samples before `sample_id`, all samples) in the filter's queue: from the tallies and a count inside the
    sample's block when they answer the filter, else in two counts that split one index range; never fewer in all
    than before it plus the `shown` ones (on PostgreSQL each count sees the samples as they are when it starts)."""
    if answers(flt):
        earlier, total = tally_split(session, project_id, flt, block_of(sample_id))
        before = earlier + _in_block(session, project_id, flt, sample_id)
        return before, max(total, before + shown)
    before = _counted(session, project_id, flt, below=sample_id)
    since = _counted(session, project_id, flt, since=sample_id)
    return before, max(before + since, before + shown)


@dataclass(frozen=True)
class QueueStep:
    """One sample of a queue (the samples a filter keeps, in id order) and its place in it: what Review shows."""

    sample: Sample | None  # None: the queue is empty
    position: int  # 1 for the first sample of the queue; 0 when it is empty
    total: int  # samples in the queue
    previous_id: int | None  # the sample before it in the queue (what Previous shows), None for the first


def review_step(store: Store, project_id: int, flt: SampleFilter, start: int | None) -> QueueStep:
    """The first sample of the queue with an id of at least `start` (the queue's first one when `start` is None, or
    when none is left from there on), with its position, the queue's length and the sample before it. A few index
    probes and two counts on an index: the cost does not grow with the pages already seen."""
    with store.session() as session:
        found = _walk(session, project_id, flt, after=None if start is None else start - 1, limit=1)
        if not found and start is not None:
            found = _walk(session, project_id, flt, after=None, limit=1)
        if not found:
            return QueueStep(None, 0, 0, None)
        sample = found[0]
        previous = _previous_id(session, project_id, flt, sample.id)
        before, total = _place(session, project_id, flt, sample.id, 1)
    return QueueStep(sample, before + 1, total, previous)


@dataclass(frozen=True)
class SampleWindow:
    """One page of a filtered list of samples in id order, reached by keyset (from the ids at its edges), with its
    place in the list."""

    samples: list[Sample]
    first: int  # the position of its first sample in the list (1-based); 0 when the list is empty
    total: int
    page_size: int

    @property
    def last(self) -> int:
        return self.first + len(self.samples) - 1 if self.samples else 0

    @property
    def page(self) -> int:
        return max(1, -(-self.first // self.page_size))

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.page_size), self.page + (self.last < self.total))

    @property
    def has_previous(self) -> bool:
        return self.first > 1

    @property
    def has_next(self) -> bool:
        return self.last < self.total


def browse_page(
    store: Store,
    project_id: int,
    flt: SampleFilter | None = None,
    *,
    after: int | None = None,
    before: int | None = None,
    page_size: int = 50,
) -> SampleWindow:
    """The page of samples just after the id `after` (Next), just before the id `before` (Previous), or the first
    page. Past either end it gives the first (or the last) full page instead. Never an OFFSET: the cost is the
    page's, plus two counts on an index for its place."""
    flt = flt or SampleFilter()
    page_size = max(1, min(page_size, 1000))
    with store.session() as session:
        if before is not None:
            rows = _walk(session, project_id, flt, after=before, limit=page_size, backwards=True)[::-1]
            if len(rows) < page_size:  # reached the start: the first page
                rows = _walk(session, project_id, flt, after=None, limit=page_size)
        else:
            rows = _walk(session, project_id, flt, after=after, limit=page_size)
            if not rows and after is not None:  # past the end (samples went meanwhile): the last page
                rows = _walk(session, project_id, flt, after=None, limit=page_size, backwards=True)[::-1]
        if not rows:
            return SampleWindow([], 0, 0, page_size)
        ahead, total = _place(session, project_id, flt, rows[0].id, len(rows))
    return SampleWindow(rows, ahead + 1, total, page_size)

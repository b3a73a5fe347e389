"""Samples: reading with server-side filters and paging, counts, and the content key used against re-imports."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, TypeVarTuple

from sqlalchemy import ColumnElement, Select, and_, exists, func, or_, select
from sqlalchemy.orm import selectinload

from core.store.database import Store
from core.store.schema import FlagRow, SampleRow


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
        conditions = [SampleRow.project_id == project_id]
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
        if self.flags:
            wanted = [f for f in self.flags if f not in ("none", "any")]
            flag_conditions: list[ColumnElement[bool]] = []
            if "any" in self.flags:
                flag_conditions.append(exists().where(FlagRow.sample_id == SampleRow.id))
            if wanted:
                flag_conditions.append(exists().where(FlagRow.sample_id == SampleRow.id, FlagRow.kind.in_(wanted)))
            if "none" in self.flags:
                flag_conditions.append(~exists().where(FlagRow.sample_id == SampleRow.id))
            conditions.append(or_(*flag_conditions))
        if self.search.strip():
            conditions.append(SampleRow.text.icontains(self.search.strip(), autoescape=True))
        return query.where(and_(*conditions))


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


def count_samples(store: Store, project_id: int, flt: SampleFilter | None = None) -> int:
    flt = flt or SampleFilter()
    with store.session() as session:
        return int(session.scalar(flt.apply(select(func.count(SampleRow.id)), project_id)) or 0)


def page_samples(
    store: Store, project_id: int, flt: SampleFilter | None = None, page: int = 1, page_size: int = 50
) -> SamplePage:
    """One page of samples, filtered and paged in SQL (never all rows)."""
    flt = flt or SampleFilter()
    page_size = max(1, min(page_size, 1000))
    with store.session() as session:
        total = int(session.scalar(flt.apply(select(func.count(SampleRow.id)), project_id)) or 0)
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
        query = flt.apply(
            select(SampleRow.language, SampleRow.label, SampleRow.status, func.count(SampleRow.id)), project_id
        ).group_by(SampleRow.language, SampleRow.label, SampleRow.status)
        rows = [CountRow(lang, label, status, int(n)) for lang, label, status, n in session.execute(query)]
    return sorted(rows, key=lambda r: (r.language, r.label or "", r.status))


def flag_kinds(store: Store, project_id: int) -> list[str]:
    """The flag kinds present in a project (for filter pickers)."""
    with store.session() as session:
        query = select(FlagRow.kind).where(FlagRow.project_id == project_id).distinct().order_by(FlagRow.kind)
        return list(session.scalars(query))


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
        query = flt.apply(select(func.count(SampleRow.id)), project_id).where(SampleRow.id < sample_id)
        return int(session.scalar(query) or 0)

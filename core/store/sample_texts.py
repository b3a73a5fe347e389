"""Sample texts as the studio's work reads them, without their flags or history: examples for a prompt, the
texts to embed, the brief rows the checks go through, and when the newest sample arrived."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select

from core.store.database import Store
from core.store.schema import SampleRow


@dataclass(frozen=True)
class SampleText:
    id: int
    text: str
    split: str
    origin: str


@dataclass(frozen=True, slots=True)
class SampleItem:
    """A sample as the checks read it (flags and history left out); slotted, its few distinct words (language,
    label, split, origin, status) shared: a million of them are read at once."""

    id: int
    text: str
    label: str | None
    language: str
    split: str
    origin: str
    status: str


def accepted_train_samples(
    store: Store, project_id: int, language: str, label: str, origin: str | None = None
) -> list[SampleText]:
    """Accepted TRAIN-split samples of one (language, label) cell, of one origin or any, in id order. Never test
    samples: these are what prompts are shown."""
    with store.session() as session:
        query = (
            select(SampleRow.id, SampleRow.text, SampleRow.split, SampleRow.origin)
            .where(
                SampleRow.project_id == project_id,
                SampleRow.language == language,
                SampleRow.label == label,
                SampleRow.split == "train",
                SampleRow.status == "accepted",
            )
            .order_by(SampleRow.id)
        )
        if origin is not None:
            query = query.where(SampleRow.origin == origin)
        return [SampleText(i, t, s, o) for i, t, s, o in session.execute(query)]


def distinct_texts(store: Store, project_id: int) -> list[str]:
    """Every distinct sample text of the project, sorted."""
    with store.session() as session:
        query = select(SampleRow.text).where(SampleRow.project_id == project_id).distinct().order_by(SampleRow.text)
        return list(session.scalars(query))


def not_rejected_items(store: Store, project_id: int) -> list[SampleItem]:
    """The project's samples that are not rejected, in id order."""
    with store.session() as session:
        rows = session.execute(
            select(
                SampleRow.id,
                SampleRow.text,
                SampleRow.label,
                SampleRow.language,
                SampleRow.split,
                SampleRow.origin,
                SampleRow.status,
            )
            .where(SampleRow.project_id == project_id, SampleRow.status != "rejected")
            .order_by(SampleRow.id)
        )
        return [_item(*row) for row in rows]


def _item(id: int, text: str, label: str | None, language: str, split: str, origin: str, status: str) -> SampleItem:
    """A SampleItem whose short words are Python's one copy of each (a copy per sample is most of its memory)."""
    intern = sys.intern
    return SampleItem(
        id, text, intern(label) if label is not None else None, intern(language), intern(split), intern(origin),
        intern(status),
    )  # fmt: skip


def items_by_id(store: Store, project_id: int, ids: Iterable[int]) -> dict[int, SampleItem]:
    """The project's samples with these ids (any status), by id; ids of samples gone are left out."""
    wanted = sorted(set(ids))
    found: dict[int, SampleItem] = {}
    columns = (
        SampleRow.id,
        SampleRow.text,
        SampleRow.label,
        SampleRow.language,
        SampleRow.split,
        SampleRow.origin,
        SampleRow.status,
    )
    with store.session() as session:
        for start in range(0, len(wanted), 5000):
            part = wanted[start : start + 5000]
            query = select(*columns).where(SampleRow.project_id == project_id, SampleRow.id.in_(part))
            found.update((row[0], SampleItem(*row)) for row in session.execute(query))
    return found


def newest_sample_time(store: Store, project_id: int) -> datetime | None:
    """When the project's newest sample was stored (UTC), or None when it has none."""
    with store.session() as session:
        return session.scalar(select(func.max(SampleRow.created_at)).where(SampleRow.project_id == project_id))

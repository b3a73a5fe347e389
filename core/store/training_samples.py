"""The samples a model learns from, in the store: the train-split candidates of a snapshot, the train samples an
LLM baseline may show as in-context examples, and a project's sample counts by split, status, origin, language and
whether the label is one a run uses (what a snapshot leaves out, and why)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import cast

from sqlalchemy import exists, func, select

from core.store.database import Store
from core.store.schema import FlagRow, SampleRow, SampleTallyRow


@dataclass(frozen=True)
class Candidate:
    sample_id: int
    label: str
    language: str
    origin: str
    text: str = ""


@dataclass(frozen=True)
class Example:
    sample_id: int
    text: str
    label: str
    split: str
    origin: str


@dataclass(frozen=True)
class SampleGroup:
    """How many samples of a project share a split, status, origin and language, with or without a label used."""

    split: str
    status: str
    origin: str
    language: str
    labelled: bool
    samples: int


def train_candidates(
    store: Store,
    project_id: int,
    *,
    labels: Sequence[str],
    statuses: Sequence[str],
    origins: Sequence[str],
    languages: Sequence[str] = (),
    with_text: bool = True,
) -> list[Candidate]:
    """Every train-split sample with one of these labels, statuses and origins (and languages, when given), in id
    order (one query); without `with_text` the texts are not read (left empty)."""
    conditions = [
        SampleRow.project_id == project_id,
        SampleRow.split == "train",
        SampleRow.label.in_(labels),
        SampleRow.status.in_(statuses),
        SampleRow.origin.in_(origins),
    ]
    if languages:
        conditions.append(SampleRow.language.in_(languages))
    columns = (SampleRow.id, SampleRow.label, SampleRow.language, SampleRow.origin)
    with store.session() as session:
        if not with_text:
            rows = session.execute(select(*columns).where(*conditions).order_by(SampleRow.id)).tuples()
            return [Candidate(i, cast(str, label), language, origin) for i, label, language, origin in rows]
        texts = session.execute(select(*columns, SampleRow.text).where(*conditions).order_by(SampleRow.id)).tuples()
        return [Candidate(i, cast(str, label), language, origin, text) for i, label, language, origin, text in texts]


def example_candidates(
    store: Store, project_id: int, language: str, origin: str, labels: Sequence[str], unless_flagged: str
) -> list[Example]:
    """Accepted TRAIN samples of this language and origin with one of `labels`, without a flag of the kind
    `unless_flagged`, in id order."""
    flagged = exists().where(FlagRow.sample_id == SampleRow.id, FlagRow.kind == unless_flagged)
    with store.session() as session:
        rows = session.execute(
            select(SampleRow.id, SampleRow.text, SampleRow.label, SampleRow.split, SampleRow.origin)
            .where(
                SampleRow.project_id == project_id,
                SampleRow.language == language,
                SampleRow.origin == origin,
                SampleRow.split == "train",
                SampleRow.status == "accepted",
                SampleRow.label.in_(labels),
                ~flagged,
            )
            .order_by(SampleRow.id)
        )
        return [Example(i, text, cast(str, label), split, origin) for i, text, label, split, origin in rows.tuples()]


def sample_groups(store: Store, project_id: int, labels: Sequence[str]) -> list[SampleGroup]:
    """The project's samples counted by split, status, origin, language and whether their label is one of
    `labels` (from the tallies: a few thousand rows, however many samples)."""
    wanted = set(labels)
    groups: dict[tuple[str, str, str, str, bool], int] = {}
    for count in sample_counts(store, project_id):
        key = (count.split, count.status, count.origin, count.language, count.label in wanted)
        groups[key] = groups.get(key, 0) + count.samples
    return [SampleGroup(*key, samples=n) for key, n in groups.items()]


@dataclass(frozen=True)
class SampleCount:
    """How many samples of a project share a split, status, origin, language and label."""

    split: str
    status: str
    origin: str
    language: str
    label: str | None
    samples: int


def sample_counts(store: Store, project_id: int) -> list[SampleCount]:
    """The project's samples counted by split, status, origin, language and label, summed from the tallies the
    database keeps (core/store/sample_tallies.py), none empty."""
    tally = SampleTallyRow
    query = (
        select(tally.split, tally.status, tally.origin, tally.language, tally.label, func.sum(tally.n))
        .where(tally.project_id == project_id)
        .group_by(tally.split, tally.status, tally.origin, tally.language, tally.label)
    )
    with store.session() as session:
        return [
            SampleCount(split, status, origin, language, label or None, int(n))
            for split, status, origin, language, label, n in session.execute(query).tuples()
            if n
        ]

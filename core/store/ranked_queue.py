"""A review queue in the order of its flags' scores: "most doubtful first" (`label_doubt`), "least sure first"
(`model_uncertain`). The samples a filter keeps that carry the flag kind it names, highest score first, ties (and
flags without a score, after every scored one) in id order.

Walked by keyset on the flags' (project_id, kind, score, sample_id) index (migration 0017): a step is a few probes of
one direction on the index, each reading up to its first sample the filter keeps, never an OFFSET. A sample's place
k ("Sample k of N") is two counts of ranges of the index: the flags with a higher score, and those of its score with
a lower id. Without a filter on the samples they read the index alone; with one (a status, a language...) each flag
of the range is looked up in the samples, so a place costs in proportion to it (cheap at the top of the queue, where
the most doubtful samples are). N is the queue's length as the queue in id order counts it (core/store/samples.py).

The place in the order is a `RankKey` (score, sample id), kept by the page between steps: when the flags are
replaced meanwhile (the checks or the ranking ran again), the walk goes on from that place in the new order.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.orm import Session, selectinload

from core.errors import InvalidInput
from core.store.database import Store
from core.store.samples import Flag, Sample, SampleFilter, _counted, to_sample
from core.store.schema import FlagRow, SampleRow

SCORED_KINDS = ("label_doubt", "model_uncertain")  # the flag kinds written with a score
INDEX = "ix_flags_project_kind_score"


@dataclass(frozen=True)
class RankKey:
    """A place in the order: the flag's score (None: a flag without one) and the sample's id."""

    score: float | None
    sample_id: int

    def after(self) -> RankKey:
        """The place just after this one (a step from it finds the next sample)."""
        return RankKey(self.score, self.sample_id + 1)


@dataclass(frozen=True)
class RankedStep:
    """One sample of an ordered queue and its place in it: what Review shows."""

    sample: Sample | None  # None: the queue is empty
    position: int  # 1 for the first sample; 0 when the queue is empty
    total: int  # samples in the queue
    key: RankKey | None  # the sample's place in the order (RankKey.after(): Next)
    previous: RankKey | None  # the sample before it (Previous), None for the first
    flag: Flag | None  # the flag that orders the queue: its reason

    @property
    def score(self) -> float | None:
        return self.key.score if self.key is not None else None


def ranked_kind(flt: SampleFilter) -> str | None:
    """The scored flag kind the filter asks for, when it asks for that one kind alone (a queue that can be ordered)."""
    return flt.flags[0] if len(flt.flags) == 1 and flt.flags[0] in SCORED_KINDS else None


class _Order:
    """The flags of one kind in the queue's order, cut to the samples the filter keeps."""

    def __init__(self, session: Session, project_id: int, flt: SampleFilter, kind: str) -> None:
        self.session = session
        self.project_id = project_id
        self.of_flags = [FlagRow.project_id == project_id, FlagRow.kind == kind]
        self.of_samples = flt._sample_conditions(project_id)[1:]  # beyond "of the project": the flags say that

    def _select(self, *columns: Any) -> Select[Any]:
        query = select(*columns).select_from(FlagRow)
        if self.of_samples:
            query = query.join(SampleRow, SampleRow.id == FlagRow.sample_id)
            query = query.where(SampleRow.project_id == self.project_id, *self.of_samples)
        # SQLite would otherwise start from the samples' queue index and sort: the flags' order drives the walk
        return query.where(*self.of_flags).with_hint(FlagRow, f"INDEXED BY {INDEX}", "sqlite")

    def _first(self, *conditions: ColumnElement[bool], order: list[Any]) -> RankKey | None:
        query = self._select(FlagRow.score, FlagRow.sample_id).where(*conditions).order_by(*order).limit(1)
        row = self.session.execute(query).first()
        return RankKey(row[0], int(row[1])) if row is not None else None

    def _count(self, *conditions: ColumnElement[bool]) -> int:
        return int(self.session.scalar(self._select(func.count()).where(*conditions)) or 0)

    def _lowest_of(self, score: float | None) -> RankKey | None:
        """The first place of a score (its lowest id)."""
        return self._first(FlagRow.score == score, order=[FlagRow.sample_id])

    def _highest_of(self, score: float | None) -> RankKey | None:
        return self._first(FlagRow.score == score, order=[FlagRow.sample_id.desc()])

    def first(self) -> RankKey | None:
        top = self._first(FlagRow.score.is_not(None), order=[FlagRow.score.desc(), FlagRow.sample_id.desc()])
        if top is not None:
            return self._lowest_of(top.score)
        return self._first(FlagRow.score.is_(None), order=[FlagRow.sample_id])

    def at_or_after(self, key: RankKey) -> RankKey | None:
        """The first place at `key` or after it in the order."""
        if key.score is None:
            return self._first(FlagRow.score.is_(None), FlagRow.sample_id >= key.sample_id, order=[FlagRow.sample_id])
        same = self._first(FlagRow.score == key.score, FlagRow.sample_id >= key.sample_id, order=[FlagRow.sample_id])
        if same is not None:
            return same
        lower = self._first(FlagRow.score < key.score, order=[FlagRow.score.desc(), FlagRow.sample_id.desc()])
        if lower is not None:
            return self._lowest_of(lower.score)
        return self._first(FlagRow.score.is_(None), order=[FlagRow.sample_id])

    def before(self, key: RankKey) -> RankKey | None:
        """The place just before `key` in the order (None: it is the first)."""
        if key.score is None:
            earlier = self._first(
                FlagRow.score.is_(None), FlagRow.sample_id < key.sample_id, order=[FlagRow.sample_id.desc()]
            )
            if earlier is not None:
                return earlier
            last = self._first(FlagRow.score.is_not(None), order=[FlagRow.score, FlagRow.sample_id])
            return self._highest_of(last.score) if last is not None else None
        same = self._first(
            FlagRow.score == key.score, FlagRow.sample_id < key.sample_id, order=[FlagRow.sample_id.desc()]
        )
        if same is not None:
            return same
        higher = self._first(FlagRow.score > key.score, order=[FlagRow.score, FlagRow.sample_id])
        return self._highest_of(higher.score) if higher is not None else None

    def ahead_of(self, key: RankKey) -> int:
        """The flags before `key` in the order: a range of the index (those with a higher score) and a part of
        one score's."""
        if key.score is None:
            ahead = self._count(FlagRow.score.is_not(None))
            return ahead + self._count(FlagRow.score.is_(None), FlagRow.sample_id < key.sample_id)
        ahead = self._count(FlagRow.score > key.score)
        return ahead + self._count(FlagRow.score == key.score, FlagRow.sample_id < key.sample_id)


def ranked_step(store: Store, project_id: int, flt: SampleFilter, start: RankKey | None) -> RankedStep:
    """The queue's first sample at the place `start` or after it in the order of its flags' scores (its first sample
    when `start` is None, or when none is left from there on), with its position, the queue's length and the place
    of the sample before it. `flt` names one scored flag kind (`ranked_kind`)."""
    kind = ranked_kind(flt)
    if kind is None:
        raise InvalidInput(f"Only a queue of one of these flags can be ordered by score: {', '.join(SCORED_KINDS)}.")
    with store.session() as session:
        order = _Order(session, project_id, flt, kind)
        for _ in range(3):  # a sample deleted between two reads (each statement's own snapshot): the next one
            key = (order.at_or_after(start) if start is not None else None) or order.first()
            row = session.get(SampleRow, key.sample_id, options=[selectinload(SampleRow.flags)]) if key else None
            if key is None or row is not None:
                break
            start = key.after()
        if key is None or row is None:
            return RankedStep(None, 0, 0, None, None, None)
        sample = to_sample(row)
        previous = order.before(key)
        ahead = order.ahead_of(key)
        total = _counted(session, project_id, flt)  # the queue's length as the queue in id order counts it
    flag = next((f for f in sample.flags if f.kind == kind), None)
    return RankedStep(sample, ahead + 1, max(total, ahead + 1), key, previous, flag)


def iter_ranked(store: Store, project_id: int, flt: SampleFilter, chunk: int = 500) -> Iterator[Sample]:
    """Every sample of the queue in the order of its flags' scores (the CLI's `samples --order score`): a few index
    probes per sample, read in chunks, without the counts of a place."""
    kind = ranked_kind(flt)
    if kind is None:
        raise InvalidInput(f"Only a queue of one of these flags can be ordered by score: {', '.join(SCORED_KINDS)}.")
    start: RankKey | None = None
    while True:
        with store.session() as session:
            order = _Order(session, project_id, flt, kind)
            key = order.first() if start is None else order.at_or_after(start)
            keys: list[RankKey] = []
            while key is not None and len(keys) < chunk:
                keys.append(key)
                key = order.at_or_after(key.after())
            query = select(SampleRow).where(SampleRow.id.in_([k.sample_id for k in keys]))
            found = {row.id: to_sample(row) for row in session.scalars(query.options(selectinload(SampleRow.flags)))}
        yield from (found[k.sample_id] for k in keys if k.sample_id in found)
        if key is None:
            return
        start = key

"""The queues of samples (Review's "Sample k of N" with Next and Previous, the Browse table's pages) walked by keyset
on real SQLite and PostgreSQL: the same samples, in the same order and at the same places as the old stepping and
OFFSET pages gave, for every queue and filter the pages offer, also when samples change or go between two steps;
and counts that agree with the samples themselves."""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import cast

import pytest
from sqlalchemy import Table, delete, event, select, update

from core.front.actor import Actor
from core.front.data import browse_page, count_samples, flag_kinds, review_step
from core.store import Store
from core.store.bulk import bulk_insert
from core.store.flags import NewFlag, flag_counts, replace_flags
from core.store.projects import Project, create_project, parse_spec
from core.store.samples import SampleFilter, content_key, count_before, page_samples, step_sample
from core.store.schema import SAMPLE_STATUSES, FlagRow, SampleRow, utcnow

LANGUAGES = ("sw", "en", "yo")
LABELS = ("weather", "prices", "pests")
KINDS = ("near_duplicate", "exact_duplicate", "too_short", "wrong_language")

REVIEW_QUEUES = [  # components/review_queue.py QUEUES, with the language, label and flag pickers
    SampleFilter(statuses=("pending",)),
    SampleFilter(statuses=("pending",), flags=("any",)),
    SampleFilter(statuses=("unlabeled",)),
    SampleFilter(statuses=("accepted",)),
    SampleFilter(statuses=("rejected",)),
    SampleFilter(statuses=("pending",), languages=("sw",)),
    SampleFilter(statuses=("pending",), languages=("sw", "yo")),
    SampleFilter(statuses=("pending",), labels=("prices",)),
    SampleFilter(statuses=("pending",), languages=("en",), labels=("weather", "pests")),
    SampleFilter(statuses=("pending",), flags=("too_short",)),
    SampleFilter(statuses=("pending",), flags=("wrong_language",), languages=("yo",)),
    SampleFilter(statuses=("accepted",), flags=("near_duplicate",)),
]
BROWSE_FILTERS = [  # components/sample_browser.py: any mix of its pickers and the text search
    SampleFilter(),
    SampleFilter(statuses=("pending", "accepted")),
    SampleFilter(languages=("sw",), labels=("prices",)),
    SampleFilter(labels=("",)),
    SampleFilter(labels=("", "pests")),
    SampleFilter(splits=("test",), origins=("human",)),
    SampleFilter(flags=("none",)),
    SampleFilter(flags=("any",)),
    SampleFilter(flags=("exact_duplicate", "too_short")),
    SampleFilter(flags=("none", "too_short")),
    SampleFilter(flags=("none", "any")),
    SampleFilter(flags=("any", "near_duplicate")),
    SampleFilter(flags=("none",), statuses=("rejected",), languages=("en",)),
    SampleFilter(search="mvua"),
    SampleFilter(search="MVUA", flags=("any",), statuses=("pending",)),
    SampleFilter(languages=("xx",)),  # nothing
]


@dataclass(frozen=True)
class Row:
    id: int
    text: str
    label: str | None
    language: str
    split: str
    origin: str
    status: str
    kinds: frozenset[str]


def _fill(store: Store, n: int = 120, seed: int = 3, name: str = "queues") -> Project:
    """`n` samples of every status, language, label, split and origin, a third of them with one or two flags; a
    second project's samples interleaved with them (they never show)."""
    spec = parse_spec(name=name, labels=[{"name": x} for x in LABELS], languages=[{"code": c} for c in LANGUAGES])
    project = create_project(store, spec)
    other = create_project(
        store, parse_spec(name=f"{name} (other)", labels=[{"name": "x"}], languages=[{"code": "sw"}])
    )
    rng = random.Random(seed)
    now = utcnow()
    rows = []
    for i in range(n):
        label = None if rng.random() < 0.15 else rng.choice(LABELS)
        status = "unlabeled" if label is None else rng.choice(("pending", "pending", "accepted", "rejected"))
        language, split, origin = (
            rng.choice(LANGUAGES),
            rng.choice(("train", "test")),
            rng.choice(("synthetic", "human")),
        )
        text = f"{'Mvua' if rng.random() < 0.3 else 'Bei'} sample {i}"
        for project_id in (project.id, other.id) if i % 7 == 0 else (project.id,):
            rows.append(
                {
                    "project_id": project_id,
                    "text": text,
                    "label": label,
                    "language": language,
                    "origin": origin,
                    "split": split,
                    "status": status,
                    "content_key": content_key(text, label, language, split, origin),
                    "source": "test",
                    "generation_run_id": None,
                    "prompt_version": None,
                    "model": None,
                    "version": 1,
                    "created_at": now,
                    "created_by": "tester",
                    "updated_at": now,
                    "updated_by": "tester",
                }
            )
    with store.session() as session:
        bulk_insert(session, cast(Table, SampleRow.__table__), rows)
        ids = {
            project_id: list(
                session.scalars(select(SampleRow.id).where(SampleRow.project_id == project_id).order_by(SampleRow.id))
            )
            for project_id in (project.id, other.id)
        }
    flags = [
        NewFlag(sample_id, kind, f"found: {kind}", {"n": k})
        for sample_id in ids[project.id]
        if rng.random() < 0.35
        for k, kind in enumerate(rng.sample(KINDS, rng.choice((1, 1, 2))))
    ]
    replace_flags(store, project.id, KINDS, flags)
    replace_flags(store, other.id, KINDS, [NewFlag(i, "too_short", "short") for i in ids[other.id]])
    return project


def _rows(store: Store, project_id: int) -> list[Row]:
    """The project's samples as they are now, read plainly (the reference the queries are checked against)."""
    with store.session() as session:
        kinds: dict[int, set[str]] = {}
        for sample_id, kind in session.execute(select(FlagRow.sample_id, FlagRow.kind)):
            kinds.setdefault(sample_id, set()).add(kind)
        found = session.execute(
            select(
                SampleRow.id,
                SampleRow.text,
                SampleRow.label,
                SampleRow.language,
                SampleRow.split,
                SampleRow.origin,
                SampleRow.status,
            ).where(SampleRow.project_id == project_id)
        )
        return sorted((Row(*row, kinds=frozenset(kinds.get(row[0], ()))) for row in found), key=lambda row: row.id)


def _keeps(flt: SampleFilter, row: Row) -> bool:
    if flt.labels and (row.label or "") not in flt.labels:
        return False
    for values, value in (
        (flt.languages, row.language),
        (flt.splits, row.split),
        (flt.origins, row.origin),
        (flt.statuses, row.status),
    ):
        if values and value not in values:
            return False
    if flt.search.strip() and flt.search.strip().lower() not in row.text.lower():
        return False
    if flt.flags:
        named = set(flt.flags) - {"none", "any"}
        flagged = ("any" in flt.flags and row.kinds) or ("none" in flt.flags and not row.kinds) or named & row.kinds
        return bool(flagged)
    return True


def _queue(store: Store, project: Project, flt: SampleFilter) -> list[int]:
    return [row.id for row in _rows(store, project.id) if _keeps(flt, row)]


@pytest.fixture
def filled(store: Store) -> tuple[Actor, Project]:
    return Actor.of(store), _fill(store)


def test_counts_agree_with_the_samples_for_every_queue_and_filter(filled: tuple[Actor, Project]) -> None:
    actor, project = filled
    for flt in [*REVIEW_QUEUES, *BROWSE_FILTERS]:
        ids = _queue(actor.store, project, flt)
        assert count_samples(actor, project, flt) == len(ids), flt
        for cut in (ids[0], ids[len(ids) // 2], ids[-1] + 1) if ids else (1,):
            assert count_before(actor.store, project.id, flt, cut) == len([i for i in ids if i < cut]), (flt, cut)


@pytest.mark.slow
def test_review_visits_each_queue_in_the_old_order_at_the_old_places(filled: tuple[Actor, Project]) -> None:
    actor, project = filled
    for flt in REVIEW_QUEUES:
        ids = _queue(actor.store, project, flt)
        assert ids, flt  # every queue of the list has samples to walk through
        seen, cursor = [], None
        for _ in ids:
            step = review_step(actor, project, flt, cursor)
            assert step.sample is not None
            seen.append(step.sample.id)
            # the old page: step_sample from the cursor, count_samples, count_before + 1, step_sample backwards
            old = step_sample(actor.store, project.id, flt, cursor - 1 if cursor else None)
            previous = step_sample(actor.store, project.id, flt, step.sample.id, direction=-1)
            assert old is not None and old.id == step.sample.id
            assert (step.position, step.total) == (len(seen), len(ids))
            assert step.previous_id == (previous.id if previous else None) == (seen[-2] if len(seen) > 1 else None)
            cursor = step.sample.id + 1  # what Next leaves
        assert seen == ids, flt
        past = review_step(actor, project, flt, cursor)  # past the end: back to the first one
        assert past.sample is not None and (past.sample.id, past.position) == (ids[0], 1)
        middle = review_step(actor, project, flt, ids[len(ids) // 2])  # a cursor anywhere (Previous, Undo)
        assert middle.sample is not None and middle.position == len(ids) // 2 + 1


def test_an_empty_queue_is_empty(filled: tuple[Actor, Project]) -> None:
    actor, project = filled
    step = review_step(actor, project, SampleFilter(statuses=("pending",), languages=("xx",)), None)
    assert (step.sample, step.position, step.total, step.previous_id) == (None, 0, 0, None)


@pytest.mark.slow
def test_browse_pages_are_the_old_offset_pages_forth_and_back(filled: tuple[Actor, Project]) -> None:
    actor, project = filled
    for flt, size in [*((flt, 9) for flt in BROWSE_FILTERS), (SampleFilter(), 50)]:
        old_pages = []
        page_number = 1
        while True:
            old = page_samples(actor.store, project.id, flt, page=page_number, page_size=size)
            old_pages.append(old)
            if page_number >= old.pages:
                break
            page_number += 1
        window = browse_page(actor, project, flt, page_size=size)
        walked = [window]
        while window.has_next:
            window = browse_page(actor, project, flt, after=window.samples[-1].id, page_size=size)
            walked.append(window)
        assert len(walked) == len(old_pages), (flt, size)
        for old, new in zip(old_pages, walked, strict=True):
            assert [s.id for s in new.samples] == [s.id for s in old.samples], (flt, size)
            assert (new.total, new.page, new.pages) == (old.total, old.page, old.pages)
            assert new.first == ((old.page - 1) * size + 1 if old.samples else 0)
            assert new.samples == old.samples  # every field, flags included
        back = [window]
        while window.has_previous:
            window = browse_page(actor, project, flt, before=window.samples[0].id, page_size=size)
            back.append(window)
        assert [[s.id for s in w.samples] for w in back] == [[s.id for s in w.samples] for w in walked[::-1]]


def test_each_sample_comes_with_its_flags_in_one_query(filled: tuple[Actor, Project]) -> None:
    actor, project = filled
    flt = SampleFilter(flags=("any",))
    reference = {row.id: row.kinds for row in _rows(actor.store, project.id)}
    with _statements(actor.store) as statements:
        window = browse_page(actor, project, flt, page_size=30)
    assert len(window.samples) == 30 and sum(len(s.flags) for s in window.samples) > 30  # some have two
    assert {s.id: frozenset(f.kind for f in s.flags) for s in window.samples} == {
        s.id: reference[s.id] for s in window.samples
    }
    assert [f.reason for f in window.samples[0].flags] == [f"found: {f.kind}" for f in window.samples[0].flags]
    page_queries = [s for s in statements if "sample_flags" in s and "count" not in s.lower()]
    assert len(page_queries) == 1, page_queries  # the page and its flags: one query, not one per sample or flag
    with _statements(actor.store) as statements:
        step = review_step(actor, project, SampleFilter(statuses=("pending",), flags=("any",)), None)
    assert step.sample is not None and step.sample.flags
    assert len(statements) == 4  # the sample with its flags, the one before it, and the two halves of the count


def test_samples_changed_or_gone_between_two_steps(filled: tuple[Actor, Project]) -> None:
    """What the old stepping did: Next shows the first sample of the queue after the one shown, as the queue is
    now; its place and the queue's length are counted now."""
    actor, project = filled
    store = actor.store
    flt = SampleFilter(statuses=("pending",))
    ids = _queue(store, project, flt)
    shown = review_step(actor, project, flt, ids[3])
    assert shown.sample is not None and shown.position == 4
    with store.session() as session:
        # the one shown is accepted, one before it is rejected, one after it deleted, two more change languages
        session.execute(update(SampleRow).where(SampleRow.id.in_([ids[3], ids[1]])).values(status="accepted"))
        session.execute(delete(SampleRow).where(SampleRow.id == ids[4]))
        session.execute(update(SampleRow).where(SampleRow.id == ids[6]).values(status="rejected"))
    after = review_step(actor, project, flt, shown.sample.id + 1)  # Next
    now = _queue(store, project, flt)
    assert after.sample is not None and after.sample.id == ids[5] == now[2]
    assert (after.position, after.total, after.previous_id) == (3, len(ids) - 4, ids[2])
    old = step_sample(store, project.id, flt, shown.sample.id)
    assert old is not None and old.id == after.sample.id
    # a sample that joins the queue before the cursor moves the place, not the sample shown
    with store.session() as session:
        session.execute(update(SampleRow).where(SampleRow.id == ids[1]).values(status="pending"))
    again = review_step(actor, project, flt, after.sample.id)
    assert again.sample is not None and (again.sample.id, again.position) == (ids[5], 4)
    # Previous from the sample shown (its id), then Next again
    back = review_step(actor, project, flt, again.previous_id)
    assert back.sample is not None and back.sample.id == ids[2]


def test_a_browse_page_after_samples_went_starts_after_the_last_one_shown(filled: tuple[Actor, Project]) -> None:
    """Keyset paging never skips a sample: an OFFSET page skipped one for each sample gone before it."""
    actor, project = filled
    store = actor.store
    first = browse_page(actor, project, page_size=10)
    gone = [first.samples[2].id, first.samples[5].id]
    with store.session() as session:
        session.execute(delete(SampleRow).where(SampleRow.id.in_(gone)))
    second = browse_page(actor, project, after=first.samples[-1].id, page_size=10)
    everything = _queue(store, project, SampleFilter())
    start = everything.index(second.samples[0].id)
    assert second.samples[0].id == min(i for i in everything if i > first.samples[-1].id)
    assert [s.id for s in second.samples] == everything[start : start + 10]
    assert (second.first, second.total) == (start + 1, len(everything))
    offset = page_samples(store, project.id, page=2, page_size=10)
    assert {s.id for s in second.samples} - {s.id for s in offset.samples} == set(everything[start : start + 2])
    # past the end (the last page's samples went meanwhile): the last page
    last = browse_page(actor, project, after=everything[-1], page_size=10)
    assert [s.id for s in last.samples] == everything[-10:] and not last.has_next
    # before the start: the first page
    assert [s.id for s in browse_page(actor, project, before=everything[3], page_size=10).samples] == everything[:10]


def test_the_flag_kinds_and_counts_per_kind(filled: tuple[Actor, Project], store: Store) -> None:
    actor, project = filled
    rows = _rows(store, project.id)
    assert flag_kinds(actor, project) == sorted({kind for row in rows for kind in row.kinds})
    empty = create_project(store, parse_spec(name="empty", labels=[{"name": "a"}], languages=[{"code": "sw"}]))
    assert flag_kinds(actor, empty) == []
    for statuses in (None, ("pending",), ("pending", "accepted"), SAMPLE_STATUSES):
        wanted = [row for row in rows if (row.status in statuses if statuses else row.status != "rejected")]
        expected = {kind: sum(kind in row.kinds for row in wanted) for kind in KINDS}
        assert flag_counts(store, project.id, statuses=statuses) == {k: n for k, n in expected.items() if n}


@contextmanager
def _statements(store: Store) -> Iterator[list[str]]:
    seen: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany) -> None:  # type: ignore[no-untyped-def]
        seen.append(statement)

    event.listen(store.engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(store.engine, "before_cursor_execute", record)

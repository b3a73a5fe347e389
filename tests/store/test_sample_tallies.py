"""The tallies of samples (migration 0015), kept by the database's triggers, on real SQLite and PostgreSQL: after every
kind of write (imports small and large, decisions, label fixes, text edits, flags replaced by a checks run, a
generation storing samples and dropping some with a flag, project removal, two writers at once) they equal a GROUP
BY over the samples, every sample's `flagged` says whether it has a flag, and every queue and filter gives exactly
the k and N that a plain count of the samples gives, with ids spread over many blocks."""

from __future__ import annotations

import random
import threading
from typing import Any, cast

import pytest
from sqlalchemy import Table, create_engine, delete, select, text, update

from core.front.actor import Actor
from core.front.data import browse_page, count_samples, counts_by_language_label_status, review_step
from core.store import Store
from core.store.bulk import bulk_insert
from core.store.flags import NewFlag, replace_flags
from core.store.generation_runs import AnswerRecord, Verdict, create_run, record_answer, record_revision, save_requests
from core.store.llm_requests import LlmRequest
from core.store.projects import Project, create_project, delete_project, parse_spec
from core.store.sample_changes import change_many, change_one
from core.store.sample_import import SAMPLE_COLUMNS, SampleBatch, store_import
from core.store.sample_tallies import BLOCK_BITS
from core.store.samples import SampleFilter, content_key, count_before, get_sample
from core.store.schema import FlagRow, SampleRow, SampleTallyRow, utcnow
from tests.store.test_sample_queues import BROWSE_FILTERS, KINDS, LABELS, LANGUAGES, REVIEW_QUEUES, _queue

STRIDE = 2_111  # ids of the first samples: a few per block of 2**BLOCK_BITS, over many blocks


def _exact(store: Store) -> None:
    """The tallies (summed per key) are the samples grouped by key, and `flagged` is whether a sample has a flag."""
    key = f"project_id, id >> {BLOCK_BITS}, status, language, coalesce(label, ''), split, origin, flagged"
    with store.engine.connect() as connection:
        tallied = connection.execute(
            text(
                "SELECT project_id, block, status, language, label, split, origin, flagged, sum(n) FROM sample_tallies "
                "GROUP BY project_id, block, status, language, label, split, origin, flagged HAVING sum(n) <> 0"
            )
        )
        counted = connection.execute(text(f"SELECT {key}, count(*) FROM samples GROUP BY {key}"))
        tallies = {(*row[:7], bool(row[7])): int(row[8]) for row in tallied}
        samples = {(*row[:7], bool(row[7])): int(row[8]) for row in counted}
        wrong = connection.scalar(
            text(
                "SELECT count(*) FROM samples AS s WHERE s.flagged <> "
                "EXISTS (SELECT 1 FROM sample_flags AS f WHERE f.sample_id = s.id)"
            )
        )
    assert tallies == samples
    assert wrong == 0


def _places(actor: Actor, project: Project) -> None:
    """Every queue and filter: N, k before several samples, Review's place and Browse's, as a plain count says."""
    for flt in [*REVIEW_QUEUES, *BROWSE_FILTERS]:
        ids = _queue(actor.store, project, flt)
        assert count_samples(actor, project, flt) == len(ids), flt
        for cut in sorted({ids[0], ids[len(ids) // 3], ids[-1], ids[-1] + 1}) if ids else (1,):
            assert count_before(actor.store, project.id, flt, cut) == len([i for i in ids if i < cut]), (flt, cut)
        if ids:
            middle = ids[len(ids) // 2]
            step = review_step(actor, project, flt, middle)
            assert (step.position, step.total) == (len(ids) // 2 + 1, len(ids)), flt
        if len(ids) >= 3:
            window = browse_page(actor, project, flt, after=middle, page_size=7)
            assert (window.first, window.total) == (len(ids) // 2 + 2, len(ids)), flt


def _project(store: Store, name: str = "tallies") -> Project:
    spec = parse_spec(name=name, labels=[{"name": x} for x in LABELS], languages=[{"code": c} for c in LANGUAGES])
    return create_project(store, spec)


def _sample(project_id: int, i: int, rng: random.Random, now: Any) -> dict[str, Any]:
    label = None if rng.random() < 0.15 else rng.choice(LABELS)
    status = "unlabeled" if label is None else rng.choice(("pending", "pending", "accepted", "rejected"))
    language, split, origin = rng.choice(LANGUAGES), rng.choice(("train", "test")), rng.choice(("synthetic", "human"))
    sample_text = f"{'Mvua' if rng.random() < 0.3 else 'Bei'} sample {i}"
    return {
        "project_id": project_id,
        "text": sample_text,
        "label": label,
        "language": language,
        "origin": origin,
        "split": split,
        "status": status,
        "content_key": content_key(sample_text, label, language, split, origin),
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


def _fill(store: Store, n: int = 160, seed: int = 5) -> tuple[Project, Project]:
    """`n` samples with ids `STRIDE` apart (over about ten blocks), a third flagged; a second project's samples
    interleaved."""
    project, other = _project(store), _project(store, "other")
    rng = random.Random(seed)
    now = utcnow()
    rows = []
    for i in range(n):
        row = _sample(other.id if i % 9 == 0 else project.id, i, rng, now)
        rows.append({"id": 1 + i * STRIDE, **row})
    with store.session() as session:
        bulk_insert(session, cast(Table, SampleRow.__table__), rows)
        if store.dialect == "postgresql":  # ids given: the sequence goes on after them
            session.execute(
                text("SELECT setval(pg_get_serial_sequence('samples', 'id'), (SELECT max(id) FROM samples))")
            )
    ids = [row["id"] for row in rows if row["project_id"] == project.id]
    flags = [
        NewFlag(sample_id, kind, f"found: {kind}")
        for sample_id in ids
        if rng.random() < 0.35
        for kind in rng.sample(KINDS, rng.choice((1, 1, 2)))
    ]
    replace_flags(store, project.id, KINDS, flags)
    replace_flags(store, other.id, ("too_short",), [NewFlag(r["id"], "too_short", "short") for r in rows[::9]])
    return project, other


def _batch(n: int, start: int, *, flagged_every: int = 0) -> SampleBatch:
    rng = random.Random(start)
    now = utcnow()
    rows = [_sample(0, start + i, rng, now) for i in range(n)]
    columns = {name: [row[name] for row in rows] for name in SAMPLE_COLUMNS}
    flags = [
        [{"kind": "too_short", "reason": "short"}] if flagged_every and i % flagged_every == 0 else [] for i in range(n)
    ]
    return SampleBatch(n, columns, {}, flags if flagged_every else None)


def _import(store: Store, project: Project, batch: SampleBatch) -> None:
    store_import(store, project.id, batch, labels_to_add=[], languages_to_add=[], source="test", skipped_reasons={})


@pytest.fixture
def filled(store: Store) -> tuple[Actor, Project, Project]:
    project, other = _fill(store)
    return Actor.of(store), project, other


def test_the_tallies_follow_decisions_fixes_edits_and_flags(filled: tuple[Actor, Project, Project]) -> None:
    actor, project, _ = filled
    store = actor.store
    _exact(store)
    _places(actor, project)
    ids = _queue(store, project, SampleFilter())
    rng = random.Random(1)
    for sample_id in rng.sample(ids, 12):  # one at a time: accept, reject, relabel, edit, reset
        sample = get_sample(store, sample_id)
        assert sample is not None
        action = rng.choice(("accept", "reject", "relabel", "edit", "reset"))
        if action == "accept" and not sample.label:
            action = "relabel"
        change_one(
            store, sample_id, action, version=sample.version, label=rng.choice(LABELS), text=f"new text {sample_id}"
        )
    _exact(store)
    change_many(store, project.id, "reject", flt=SampleFilter(languages=("yo",), flags=("any",)))
    change_many(store, project.id, "relabel", ids=ids[::5], label="pests")
    with store.session() as session:  # a language fixed (no page does it yet: the database keeps up all the same)
        session.execute(update(SampleRow).where(SampleRow.id.in_(ids[1::6])).values(language="en"))
    _exact(store)
    # a checks run: some flags stay as they were, some change their reason, some go, some come
    replace_flags(
        store,
        project.id,
        KINDS,
        [NewFlag(i, "too_short", "short again" if i % 2 else "found: too_short") for i in ids[::3]]
        + [NewFlag(i, "near_duplicate", "near", {"representative": ids[0]}) for i in ids[1::4]],
    )
    _exact(store)
    _places(actor, project)
    with store.session() as session:  # a flag moved to another sample, and one sample's flags deleted
        flag = session.scalars(select(FlagRow).where(FlagRow.project_id == project.id).limit(1)).one()
        target = next(i for i in ids if not session.scalars(select(FlagRow.id).where(FlagRow.sample_id == i)).all())
        flag.sample_id = target
        session.flush()
        session.execute(delete(FlagRow).where(FlagRow.sample_id == ids[3]))
    _exact(store)
    replace_flags(store, project.id, KINDS, [])  # the last check found nothing
    _exact(store)
    assert count_samples(actor, project, SampleFilter(flags=("any",))) == 0
    _places(actor, project)


def test_the_tallies_follow_imports_generation_and_project_removal(filled: tuple[Actor, Project, Project]) -> None:
    actor, project, other = filled
    store = actor.store
    _import(store, project, _batch(40, 1000, flagged_every=4))  # small: the row trigger
    _exact(store)
    run = create_run(
        store,
        project.id,
        template_id=None,
        strategy="simple",
        backend="openai",
        model="m",
        base_url=None,
        params={},
        plan={"sw": {"weather": 3}},
    )
    request = LlmRequest("sw", "weather", 0, 0, 1, 3, [{"role": "user", "content": "write"}])
    save_requests(store, run, [request])
    record_answer(
        store, run, request, AnswerRecord("a\nb\nc", "stop", 1, 1, ["mvua a", "mvua b", "mvua c"], []), "v1", None
    )
    with store.session() as session:
        made = list(session.scalars(select(SampleRow.id).where(SampleRow.generation_run_id == run.id)))
    revise = LlmRequest("sw", "weather", 1, 0, 1, 3, [{"role": "user", "content": "check"}], kind="revise")
    save_requests(store, run, [revise])
    verdicts = [Verdict(made[0], "drop", reason="off topic"), Verdict(made[1], "fix", "mvua b, fixed")]
    record_revision(store, run, revise, "drop 1, fix 2", 1, 1, verdicts)
    _exact(store)
    dropped = get_sample(store, made[0])
    assert dropped is not None and [f.kind for f in dropped.flags] == ["revise_dropped"]
    _places(actor, project)
    delete_project(store, other.id)
    _exact(store)
    with store.session() as session:
        assert not session.scalars(select(SampleTallyRow.id).where(SampleTallyRow.project_id == other.id)).all()
    _places(actor, project)


@pytest.mark.slow
def test_a_large_import_is_tallied_in_one_pass(store: Store) -> None:
    """At least 10,000 rows: on SQLite the row trigger is replaced by one GROUP BY for the import (and made again)."""
    actor = Actor.of(store)
    project = _project(store)
    _import(store, project, _batch(12_000, 0, flagged_every=50))  # into an empty table
    _exact(store)
    _import(store, project, _batch(11_000, 20_000))  # into a table as large
    _exact(store)
    _import(store, project, _batch(30, 50_000))  # the row trigger is back
    _exact(store)
    if store.dialect == "sqlite":
        with store.engine.connect() as connection:
            names = set(connection.scalars(text("SELECT name FROM sqlite_master WHERE type = 'trigger'")))
        assert "samples_tally_insert" in names
    flt = SampleFilter(statuses=("pending",), flags=("any",))
    ids = _queue(store, project, flt)
    step = review_step(actor, project, flt, ids[len(ids) // 2])
    assert (step.position, step.total) == (len(ids) // 2 + 1, len(ids))
    assert sum(row.count for row in counts_by_language_label_status(actor, project)) == 23_030


@pytest.mark.postgres
def test_two_writers_at_once_never_wait_on_a_tally_and_stay_exact(postgres_url: str) -> None:
    store = Store(postgres_url, "tester")
    try:
        project, _ = _fill(store, n=60)
        ids = _queue(store, project, SampleFilter(statuses=("pending",)))
        first, second = ids[0], ids[1]  # the same block, status, maybe the same key: both change their tallies
        engine = create_engine(postgres_url)
        with engine.connect() as one:
            one.execute(text("UPDATE samples SET status = 'accepted' WHERE id = :id"), {"id": first})
            finished = threading.Event()

            def other_writer() -> None:
                with engine.connect() as two:
                    two.execute(text("SET lock_timeout = '5s'"))
                    two.execute(text("UPDATE samples SET status = 'rejected' WHERE id = :id"), {"id": second})
                    two.commit()
                finished.set()

            thread = threading.Thread(target=other_writer)
            thread.start()
            assert finished.wait(20), "the second writer waited for the first one's tallies"
            thread.join()
            one.commit()
        _exact(store)
        # a flag added while another transaction removes the sample's only other flag: the removal waits, and the
        # sample stays flagged
        target = next(i for i in ids if _kinds(store, i))
        kept, *_ = _kinds(store, target)
        added = next(kind for kind in KINDS if kind != kept)
        with engine.connect() as one:
            one.execute(
                text(
                    "INSERT INTO sample_flags (sample_id, project_id, kind, reason, details, created_at) "
                    "VALUES (:s, :p, :k, 'r', '{}', now())"
                ),
                {"s": target, "p": project.id, "k": added},
            )
            removed = threading.Event()

            def remover() -> None:
                with engine.connect() as two:
                    two.execute(
                        text("DELETE FROM sample_flags WHERE sample_id = :s AND kind <> :k"), {"s": target, "k": added}
                    )
                    two.commit()
                removed.set()

            thread = threading.Thread(target=remover)
            thread.start()
            assert not removed.wait(1.5)  # it waits for the flag being added
            one.commit()
            thread.join(20)
            assert removed.is_set()
        assert _kinds(store, target) == [added]
        _exact(store)
        engine.dispose()
    finally:
        store.dispose()


def _kinds(store: Store, sample_id: int) -> list[str]:
    with store.session() as session:
        return list(session.scalars(select(FlagRow.kind).where(FlagRow.sample_id == sample_id).order_by(FlagRow.kind)))

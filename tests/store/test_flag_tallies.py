"""The tallies of flags per kind (migration 0016), kept by the database's triggers, on real SQLite and PostgreSQL:
after every kind of write (flags replaced by a checks run, a flag removed, moved to another sample or kind, a
sample's status, language or label changed, a sample deleted, a project deleted, writers at once) they equal a
GROUP BY over the flags and their samples, and every queue with a flag kind by name gives exactly the k and N that a
plain count of the samples gives, with ids spread over many blocks."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import create_engine, delete, select, text, update

from core.front.actor import Actor
from core.front.data import browse_page, count_samples, counts_by_language_label_status, review_step
from core.store import Store
from core.store.database import alembic_config
from core.store.flags import NewFlag, replace_flags
from core.store.projects import Project, delete_project
from core.store.sample_changes import change_many, change_one
from core.store.sample_tallies import BLOCK_BITS, answers
from core.store.samples import SampleFilter, count_before, get_sample
from core.store.schema import FlagRow, FlagTallyRow, SampleRow
from tests.store.test_sample_queues import KINDS, _queue
from tests.store.test_sample_tallies import _exact, _fill, _places

KIND_FILTERS = [  # a flag kind by name, with what Review and Browse put beside it
    SampleFilter(statuses=("pending",), flags=("wrong_language",)),
    SampleFilter(statuses=("pending",), flags=("too_short",), languages=("sw", "yo")),
    SampleFilter(statuses=("accepted",), flags=("near_duplicate",), labels=("prices", "")),
    SampleFilter(statuses=("unlabeled",), flags=("exact_duplicate",)),
    SampleFilter(flags=("too_short",), splits=("test",), origins=("human",)),
    SampleFilter(flags=("near_duplicate",)),
    SampleFilter(flags=("none", "too_short"), statuses=("pending", "rejected")),
    SampleFilter(flags=("none", "exact_duplicate"), languages=("en",)),
]


def _exact_flags(store: Store) -> None:
    """The flag tallies (summed per key) are the flags grouped by their sample's key."""
    key = f"s.project_id, f.kind, s.status, s.id >> {BLOCK_BITS}, s.language, coalesce(s.label, ''), s.split, s.origin"
    with store.engine.connect() as connection:
        tallied = connection.execute(
            text(
                "SELECT project_id, kind, status, block, language, label, split, origin, sum(n) FROM flag_tallies "
                "GROUP BY project_id, kind, status, block, language, label, split, origin HAVING sum(n) <> 0"
            )
        )
        counted = connection.execute(
            text(
                f"SELECT {key}, count(*) FROM sample_flags AS f JOIN samples AS s ON s.id = f.sample_id GROUP BY {key}"
            )
        )
        tallies = {tuple(row[:8]): int(row[8]) for row in tallied}
        flags = {tuple(row[:8]): int(row[8]) for row in counted}
    assert tallies == flags
    _exact(store)  # the sample tallies and `flagged` too


def _kind_places(actor: Actor, project: Project) -> None:
    """Every filter with a kind by name: answered by the tallies, with N, k and the places a plain count gives."""
    for flt in KIND_FILTERS:
        assert answers(flt), flt
        ids = _queue(actor.store, project, flt)
        assert count_samples(actor, project, flt) == len(ids), flt
        for cut in sorted({ids[0], ids[len(ids) // 3], ids[-1], ids[-1] + 1}) if ids else (1,):
            assert count_before(actor.store, project.id, flt, cut) == len([i for i in ids if i < cut]), (flt, cut)
        if ids:
            step = review_step(actor, project, flt, ids[len(ids) // 2])
            assert (step.position, step.total) == (len(ids) // 2 + 1, len(ids)), flt
        if len(ids) >= 3:
            window = browse_page(actor, project, flt, after=ids[len(ids) // 2], page_size=3)
            assert (window.first, window.total) == (len(ids) // 2 + 2, len(ids)), flt
        counted = sum(row.count for row in counts_by_language_label_status(actor, project, flt))
        assert counted == len(ids), flt
    _places(actor, project)  # every Review queue and Browse filter


def _flagged_ids(store: Store, project: Project) -> list[int]:
    with store.session() as session:
        query = select(FlagRow.sample_id).where(FlagRow.project_id == project.id).distinct()
        return sorted(session.scalars(query))


@pytest.fixture
def filled(store: Store) -> tuple[Actor, Project, Project]:
    project, other = _fill(store)
    return Actor.of(store), project, other


def test_the_flag_tallies_follow_every_write(filled: tuple[Actor, Project, Project]) -> None:
    actor, project, other = filled
    store = actor.store
    _exact_flags(store)
    _kind_places(actor, project)
    flagged = _flagged_ids(store, project)
    for sample_id in flagged[:6]:  # a flagged sample decided, relabelled, reset, one at a time
        sample = get_sample(store, sample_id)
        assert sample is not None
        action = ("accept" if sample.label else "relabel", "relabel", "reject")[sample_id % 3]
        change_one(store, sample_id, action, version=sample.version, label="pests")
    _exact_flags(store)
    change_many(store, project.id, "reject", flt=SampleFilter(flags=("too_short",), languages=("sw",)))
    with store.session() as session:  # a language fixed on many flagged samples at once
        session.execute(update(SampleRow).where(SampleRow.id.in_(flagged[1::4])).values(language="en"))
    _exact_flags(store)
    _kind_places(actor, project)
    # a checks run: some flags stay, some change their reason, some go, some come
    ids = _queue(store, project, SampleFilter())
    replace_flags(
        store,
        project.id,
        KINDS,
        [NewFlag(i, "too_short", "short again" if i % 2 else "found: too_short") for i in ids[::3]]
        + [NewFlag(i, "wrong_language", "not Swahili") for i in ids[1::5]],
    )
    _exact_flags(store)
    _kind_places(actor, project)
    with store.session() as session:  # a flag moved to another sample, another's kind changed, one removed
        first, second, third = session.scalars(
            select(FlagRow).where(FlagRow.project_id == project.id).order_by(FlagRow.id).limit(3)
        ).all()
        target = next(i for i in ids if not session.scalars(select(FlagRow.id).where(FlagRow.sample_id == i)).all())
        first.sample_id = target
        session.flush()
        taken = set(session.scalars(select(FlagRow.kind).where(FlagRow.sample_id == second.sample_id)))
        second.kind = next(kind for kind in KINDS if kind not in taken)
        session.flush()
        session.delete(third)
    _exact_flags(store)
    with store.session() as session:  # samples deleted: flagged and not, one at a time and many at once
        flagged = _flagged_ids(store, project)
        session.execute(delete(SampleRow).where(SampleRow.id == flagged[0]))
        session.execute(delete(SampleRow).where(SampleRow.id.in_([*flagged[2::5], ids[-1]])))
    _exact_flags(store)
    _kind_places(actor, project)
    delete_project(store, other.id)
    _exact_flags(store)
    with store.session() as session:
        assert not session.scalars(select(FlagTallyRow.id).where(FlagTallyRow.project_id == other.id)).all()
    replace_flags(store, project.id, KINDS, [])  # the last check found nothing
    _exact_flags(store)
    with store.session() as session:
        assert not session.scalars(select(FlagTallyRow.id).where(FlagTallyRow.n != 0)).all()
    _kind_places(actor, project)


def test_several_kinds_by_name_are_counted_on_the_indexes(filled: tuple[Actor, Project, Project]) -> None:
    """A sample may carry two of the kinds asked for: no sum of tallies counts it once, so these are counted."""
    actor, project, _ = filled
    for flt in (
        SampleFilter(flags=("exact_duplicate", "too_short")),
        SampleFilter(statuses=("pending",), flags=("near_duplicate", "wrong_language")),
    ):
        assert not answers(flt)
        ids = _queue(actor.store, project, flt)
        assert count_samples(actor, project, flt) == len(ids)
        step = review_step(actor, project, flt, ids[len(ids) // 2])
        assert (step.position, step.total) == (len(ids) // 2 + 1, len(ids))


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_the_migration_counts_the_flags_there_are_and_goes_back(
    backend: str, studio_home: Path, request: pytest.FixtureRequest
) -> None:
    studio_home.mkdir(parents=True, exist_ok=True)
    url = f"sqlite:///{studio_home / 'old.db'}" if backend == "sqlite" else request.getfixturevalue("postgres_url")
    store = Store(url, "tester")
    project, _ = _fill(store, n=60)
    engine = create_engine(url)

    def migrate(to: str, *, down: bool = False) -> None:
        with engine.begin() as connection:
            config = alembic_config(url)
            config.attributes["connection"] = connection
            (command.downgrade if down else command.upgrade)(config, to)

    migrate("0015", down=True)  # the flags stay, their tallies go
    with store.engine.connect() as connection:
        assert "flag_tallies" not in set(connection.dialect.get_table_names(connection))
    with engine.begin() as connection:  # written under 0015's triggers alone (no newer column named)
        connection.execute(text("DELETE FROM sample_flags WHERE kind = 'too_short'"))
        connection.execute(text("UPDATE samples SET status = 'rejected' WHERE flagged AND language = 'sw'"))
    _exact(store)
    migrate("head")
    _exact_flags(store)
    actor = Actor.of(store)
    _kind_places(actor, project)
    engine.dispose()
    store.dispose()


@pytest.mark.postgres
def test_writers_at_once_on_postgres_keep_the_flag_tallies_exact(postgres_url: str) -> None:
    store = Store(postgres_url, "tester")
    engine = create_engine(postgres_url)
    try:
        project, _ = _fill(store, n=60)
        pending = _queue(store, project, SampleFilter(statuses=("pending",), flags=("none",)))
        one_id, two_id, target = pending[0], pending[1], pending[2]
        # two flags of one kind added at once to samples of the same key's block: neither waits for the other
        with engine.connect() as one:
            one.execute(
                text(
                    "INSERT INTO sample_flags (sample_id, project_id, kind, reason, details, created_at) "
                    "VALUES (:s, :p, 'too_short', 'r', '{}', now())"
                ),
                {"s": one_id, "p": project.id},
            )
            finished = threading.Event()

            def other_writer() -> None:
                with engine.connect() as two:
                    two.execute(text("SET lock_timeout = '5s'"))
                    two.execute(
                        text(
                            "INSERT INTO sample_flags (sample_id, project_id, kind, reason, details, created_at) "
                            "VALUES (:s, :p, 'too_short', 'r', '{}', now())"
                        ),
                        {"s": two_id, "p": project.id},
                    )
                    two.commit()
                finished.set()

            thread = threading.Thread(target=other_writer)
            thread.start()
            assert finished.wait(20), "the second writer waited for the first one's flag tallies"
            thread.join()
            one.commit()
        _exact_flags(store)
        # a flag added while another transaction changes its sample's status: the flag waits for the change, and is
        # counted under the status the sample ends with
        with engine.connect() as one:
            one.execute(text("UPDATE samples SET status = 'accepted' WHERE id = :id"), {"id": target})
            added = threading.Event()

            def flagger() -> None:
                with engine.connect() as two:
                    two.execute(
                        text(
                            "INSERT INTO sample_flags (sample_id, project_id, kind, reason, details, created_at) "
                            "VALUES (:s, :p, 'wrong_language', 'r', '{}', now())"
                        ),
                        {"s": target, "p": project.id},
                    )
                    two.commit()
                added.set()

            thread = threading.Thread(target=flagger)
            thread.start()
            assert not added.wait(1.5)  # it waits for the change of its sample
            one.commit()
            thread.join(20)
            assert added.is_set()
        _exact_flags(store)
        # the other way round: a status changed while another transaction removes the sample's flag
        with engine.connect() as one:
            one.execute(text("DELETE FROM sample_flags WHERE sample_id = :id"), {"id": target})
            changed = threading.Event()

            def decider() -> None:
                with engine.connect() as two:
                    two.execute(text("UPDATE samples SET status = 'rejected' WHERE id = :id"), {"id": target})
                    two.commit()
                changed.set()

            thread = threading.Thread(target=decider)
            thread.start()
            assert not changed.wait(1.5)
            one.commit()
            thread.join(20)
            assert changed.is_set()
        _exact_flags(store)
        _kind_places(Actor.of(store), project)
    finally:
        engine.dispose()
        store.dispose()

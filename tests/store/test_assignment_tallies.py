"""The tallies of assignments per project, annotator and state (migration 0016), kept by the database's triggers, on
real SQLite and PostgreSQL: after distributing, judging, undoing, re-balancing, a direct decision, a sample's and a
project's deletion and two writers at once, they equal a GROUP BY over the assignments, and "My queue" and the
review's progress give the counts a plain count gives."""

from __future__ import annotations

import threading
from collections import Counter

import pytest
from sqlalchemy import create_engine, delete, text

from core.front.projects import get_project
from core.front.review import (
    add_annotators,
    assign,
    judge,
    my_queue,
    remove_annotators,
    review_progress,
    undo_last_judgement,
)
from core.store import Store
from core.store.projects import delete_project
from core.store.sample_changes import change_one
from core.store.samples import get_sample
from core.store.schema import SampleRow
from tests.review.support import Team, assignment_rows, make_project, make_team

ANNOTATORS = {"anna": ["en", "sw"], "ben": ["en"], "cara": ["en", "sw"], "dan": ["sw"]}


def _exact(store: Store, team: Team, project_ids: list[int]) -> None:
    """The tallies (summed per key) are the assignments grouped by key; each annotator's queue counts and the
    review's progress agree with the assignments as stored."""
    with store.engine.connect() as connection:
        tallied = connection.execute(
            text(
                "SELECT project_id, annotator, state, sum(n) FROM assignment_tallies "
                "GROUP BY project_id, annotator, state HAVING sum(n) <> 0"
            )
        )
        counted = connection.execute(
            text("SELECT project_id, annotator, state, count(*) FROM assignments GROUP BY project_id, annotator, state")
        )
        assert {tuple(row[:3]): int(row[3]) for row in tallied} == {tuple(row[:3]): int(row[3]) for row in counted}
    for project_id in project_ids:
        states = Counter((annotator, state) for _, annotator, state, _ in assignment_rows(store, project_id))
        project = get_project(team.owner, project_id)
        for name, actor in team.annotators.items():
            mine = my_queue(actor, project, 5)
            assert (mine.open, mine.done) == (states[(name, "open")], states[(name, "done")]), name
        progress = review_progress(team.lead, project)
        expected = {
            name: {"open": states[(name, "open")], "done": states[(name, "done")]}
            for name in sorted({name for name, state in states if state != "removed"})
        }
        assert progress.annotators == expected


@pytest.fixture
def team(store: Store) -> Team:
    return make_team(store, ANNOTATORS)


def test_the_assignment_tallies_follow_every_write(store: Store, team: Team) -> None:
    project = make_project(team, {"en": 30, "sw": 14})
    other = make_project(team, {"en": 8}, name="other")
    assign(team.lead, project, ["anna", "ben", "cara"], overlap=2)
    assign(team.lead, other, ["anna", "ben"], overlap=1)
    _exact(store, team, [project.id, other.id])
    for name in ("anna", "cara"):  # some judged, the last one taken back
        for entry in my_queue(team[name], project, 4).entries:
            judge(team[name], project, entry.sample_id, "accept")
    undo_last_judgement(team["cara"], project)
    _exact(store, team, [project.id, other.id])
    add_annotators(team.lead, project, ["dan"])  # a fair share of what is open moves to dan
    _exact(store, team, [project.id, other.id])
    remove_annotators(team.lead, project, ["ben"])  # ben's open work goes to the others
    _exact(store, team, [project.id, other.id])
    entry = my_queue(team["anna"], project, 1).entries[0]  # decided directly: out of every queue
    sample = get_sample(store, entry.sample_id)
    assert sample is not None
    change_one(store, entry.sample_id, "reject", version=sample.version)
    _exact(store, team, [project.id, other.id])
    with store.session() as session:  # samples deleted, with assignments open, done and removed
        rows = assignment_rows(store, project.id)
        gone = {rows[0][0], rows[5][0], next(s for s, _, state, _ in rows if state == "removed")}
        session.execute(delete(SampleRow).where(SampleRow.id.in_(sorted(gone))))
    _exact(store, team, [project.id, other.id])
    delete_project(store, other.id)
    _exact(store, team, [project.id])
    with store.engine.connect() as connection:
        left = connection.scalar(text("SELECT count(*) FROM assignment_tallies WHERE project_id = :p"), {"p": other.id})
    assert left == 0


@pytest.mark.slow
def test_a_large_distribution_is_tallied_in_one_pass(store: Store, team: Team) -> None:
    """At least 10,000 assignments at once: on SQLite the row trigger is replaced by one GROUP BY (and made again)."""
    project = make_project(team, {"en": 5_000})
    assign(team.lead, project, ["anna", "ben", "cara"], overlap=2)
    _exact(store, team, [project.id])
    judge(team["ben"], project, my_queue(team["ben"], project, 1).entries[0].sample_id, "accept")  # the trigger is back
    _exact(store, team, [project.id])
    if store.dialect == "sqlite":
        with store.engine.connect() as connection:
            names = set(connection.scalars(text("SELECT name FROM sqlite_master WHERE type = 'trigger'")))
        assert "assignment_tallies_inserted" in names


@pytest.mark.postgres
def test_two_writers_of_one_annotators_queue_never_wait_on_a_tally(postgres_url: str) -> None:
    store = Store(postgres_url, "tester")
    engine = create_engine(postgres_url)
    try:
        team = make_team(store, ANNOTATORS)
        project = make_project(team, {"en": 12})
        assign(team.lead, project, ["anna"], overlap=1)
        first, second = [entry.sample_id for entry in my_queue(team["anna"], project, 2).entries]
        change = "UPDATE assignments SET state = 'done' WHERE sample_id = :s AND annotator = 'anna'"
        with engine.connect() as one:
            one.execute(text(change), {"s": first})  # the same keys: anna's open and done
            finished = threading.Event()

            def other_writer() -> None:
                with engine.connect() as two:
                    two.execute(text("SET lock_timeout = '5s'"))
                    two.execute(text(change), {"s": second})
                    two.commit()
                finished.set()

            thread = threading.Thread(target=other_writer)
            thread.start()
            assert finished.wait(20), "the second writer waited for the first one's tallies"
            thread.join()
            one.commit()
        _exact(store, team, [project.id])
        assert my_queue(team["anna"], project).done == 2
    finally:
        engine.dispose()
        store.dispose()

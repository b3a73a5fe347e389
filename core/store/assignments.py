"""Who judges which sample: writing a distribution into the annotators' queues, re-balancing what is not yet judged
when annotators join or leave, reading a queue, and taking a sample out of every queue when someone decides it
directly (not by judging it).

The decisions (which annotator gets which sample) are `core.review.distribution`'s: it is handed the state, read
under the project's review lock, and returns a plan that is written in the same transaction.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, NamedTuple, cast

from sqlalchemy import Connection, Table, func, select, update
from sqlalchemy.orm import Session

from core.store import action_log
from core.store.database import Store
from core.store.review_settings import review_lock
from core.store.samples import SampleFilter
from core.store.schema import AssignmentRow, AssignmentTallyRow, GoldSampleRow, ReviewItemRow, SampleRow, utcnow

if TYPE_CHECKING:
    import psycopg

OPEN, DONE, REMOVED = "open", "done", "removed"
DIRECT_DECISIONS = frozenset({"accept", "reject", "relabel", "label"})  # what takes a sample out of the queues
_CHUNK = 5000


class NewAssignment(NamedTuple):
    sample_id: int
    annotator: str
    position: int
    gold: bool = False
    overlap: int = 0  # the judgements the sample needs (k); 0 for a gold check


@dataclass
class DistributionState:
    """What distributing the chosen samples starts from (read under the project's review lock)."""

    samples: list[tuple[int, str]]  # (id, language) of the chosen samples whose review is not over, by id
    assignees: dict[int, set[str]]  # sample id -> annotators with an active (open or done) assignment of it
    loads: dict[str, int]  # annotator -> open assignments in the project (gold checks not counted)
    next_position: dict[str, int]  # annotator -> the position after the end of their queue
    closed: int  # chosen samples whose review is over (resolved, adjudicated, decided): left alone
    gold: list[tuple[int, str]]  # the project's gold samples (id, language)
    gold_assignees: dict[int, set[str]]  # gold sample id -> annotators who have it (open or done)


@dataclass
class DistributionPlan:
    # made as they are written (on PostgreSQL the server stores the first while the rest are chosen): iterated once
    assignments: Iterable[NewAssignment]
    overlap: int
    summary: dict[str, Any]  # what the action log keeps (counts, not every assignment): complete once iterated


class OpenAssignment(NamedTuple):
    id: int
    sample_id: int
    annotator: str
    language: str
    position: int
    overlap: int


@dataclass
class OpenWork:
    """The project's review work that can still move (read under the project's review lock)."""

    open: list[OpenAssignment]  # open assignments (gold checks not included), by position
    assignees: dict[int, set[str]]  # sample id -> annotators with an active assignment of it (not gold)
    loads: dict[str, int]  # annotator -> open assignments (gold checks not counted)
    next_position: dict[str, int]
    pool: set[str]  # annotators with an active assignment in the project (gold checks not counted)
    gold_open: dict[str, list[int]]  # annotator -> ids of their open gold checks


@dataclass
class RebalancePlan:
    removed: list[int]  # ids of open assignments taken away
    reason: str  # why, kept on them: "rebalanced" or "left"
    added: list[NewAssignment]
    summary: dict[str, Any]


def _active_assignees(session: Session, project_id: int) -> tuple[dict[int, set[str]], dict[int, set[str]]]:
    """(sample -> annotators, gold sample -> annotators) of the project's active assignments."""
    assignees: dict[int, set[str]] = defaultdict(set)
    gold_assignees: dict[int, set[str]] = defaultdict(set)
    query = select(AssignmentRow.sample_id, AssignmentRow.annotator, AssignmentRow.gold).where(
        AssignmentRow.project_id == project_id, AssignmentRow.state != REMOVED
    )
    for sample_id, annotator, gold in session.execute(query).tuples():
        (gold_assignees if gold else assignees)[sample_id].add(annotator)
    return assignees, gold_assignees


def _loads_and_positions(session: Session, project_id: int) -> tuple[dict[str, int], dict[str, int]]:
    loads: dict[str, int] = {}
    query = (
        select(AssignmentRow.annotator, func.count(AssignmentRow.id))
        .where(AssignmentRow.project_id == project_id, AssignmentRow.state == OPEN, AssignmentRow.gold.is_(False))
        .group_by(AssignmentRow.annotator)
    )
    for annotator, count in session.execute(query).tuples():
        loads[annotator] = int(count)
    ends = (
        select(AssignmentRow.annotator, func.max(AssignmentRow.position))
        .where(AssignmentRow.project_id == project_id)
        .group_by(AssignmentRow.annotator)
    )
    next_position = {annotator: int(end) + 1 for annotator, end in session.execute(ends).tuples()}
    return loads, next_position


def _distribution_state(session: Session, project_id: int, flt: SampleFilter) -> DistributionState:
    chosen = (
        flt.apply(
            select(SampleRow.id, SampleRow.language, ReviewItemRow.state)
            .select_from(SampleRow)
            .outerjoin(ReviewItemRow, ReviewItemRow.sample_id == SampleRow.id)
            .outerjoin(GoldSampleRow, GoldSampleRow.sample_id == SampleRow.id),
            project_id,
        )
        .where(GoldSampleRow.id.is_(None))
        .order_by(SampleRow.id)
    )
    samples: list[tuple[int, str]] = []
    closed = 0
    for sample_id, language, state in session.execute(chosen).tuples():
        if state is not None and state != OPEN:
            closed += 1
            continue
        samples.append((sample_id, language))
    assignees, gold_assignees = _active_assignees(session, project_id)
    loads, next_position = _loads_and_positions(session, project_id)
    gold_query = (
        select(GoldSampleRow.sample_id, SampleRow.language)
        .join(SampleRow, SampleRow.id == GoldSampleRow.sample_id)
        .where(GoldSampleRow.project_id == project_id)
        .order_by(GoldSampleRow.sample_id)
    )
    gold = [(sample_id, language) for sample_id, language in session.execute(gold_query).tuples()]
    return DistributionState(samples, assignees, loads, next_position, closed, gold, gold_assignees)


def _insert_rows(
    session: Session, table: Table, columns: list[str], rows: Iterable[tuple[Any, ...]], constants: dict[str, Any]
) -> None:
    """Many rows at once: `rows` hold the values of `columns` (ints, strings, booleans: stored as they are), then
    every row gets the same `constants` (converted once). PostgreSQL's COPY (many times an INSERT's pace, the server
    storing rows while the next are made), SQLite's executemany."""
    connection = session.connection()
    names = ", ".join(f'"{column}"' for column in [*columns, *constants])
    if connection.dialect.name == "postgresql":
        tail = tuple(constants.values())
        raw = cast("psycopg.Connection[Any]", connection.connection.dbapi_connection)
        with raw.cursor() as cursor, cursor.copy(f'COPY "{table.name}" ({names}) FROM STDIN') as copy:
            for row in rows:
                copy.write_row(row + tail)
        return
    tail = tuple(
        process(value) if (process := table.c[column].type.bind_processor(connection.dialect)) else value
        for column, value in constants.items()
    )
    values = [row + tail for row in rows]
    if values:
        marks = ", ".join("?" for _ in range(len(columns) + len(constants)))
        with _sqlite_tallied_after(connection, table.name, len(values)):
            connection.exec_driver_sql(f'INSERT INTO "{table.name}" ({names}) VALUES ({marks})', values)


_TALLY_TRIGGER = "assignment_tallies_inserted"  # SQLite: the row trigger a large insert replaces by one GROUP BY
_TALLIED_AFTER_MIN_ROWS = 10_000


@contextmanager
def _sqlite_tallied_after(connection: Connection, table: str, rows: int) -> Iterator[None]:
    """Around an insert of `rows` assignments on SQLite, in its transaction: from _TALLIED_AFTER_MIN_ROWS on, the
    tallies' row trigger is dropped first, the new rows (the ids above the largest one before) tallied in one
    GROUP BY after, and the trigger made again from its stored definition (a failure rolls all of it back with the
    rows). Smaller inserts keep the trigger."""
    found = "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = ?"
    definition = connection.exec_driver_sql(found, (_TALLY_TRIGGER,)).scalar() if table == "assignments" else None
    if rows < _TALLIED_AFTER_MIN_ROWS or definition is None:
        yield
        return
    raw = connection.connection.dbapi_connection
    if raw is not None and not raw.in_transaction:  # pysqlite opens none before DDL: the drop must be in it
        connection.exec_driver_sql("BEGIN IMMEDIATE")
    before = connection.exec_driver_sql("SELECT coalesce(max(id), 0) FROM assignments").scalar()
    connection.exec_driver_sql(f"DROP TRIGGER {_TALLY_TRIGGER}")
    yield
    grouped = connection.exec_driver_sql(
        "SELECT project_id, annotator, state, count(*) FROM assignments WHERE id > ? GROUP BY 1, 2, 3", (before,)
    ).all()
    key = "project_id = ? AND annotator = ? AND state = ?"
    for project_id, annotator, state, n in grouped:
        changed = connection.exec_driver_sql(
            f"UPDATE assignment_tallies SET n = n + ? WHERE {key}", (n, project_id, annotator, state)
        )
        if changed.rowcount == 0:
            connection.exec_driver_sql(
                "INSERT INTO assignment_tallies (project_id, annotator, state, n) VALUES (?, ?, ?, ?)",
                (project_id, annotator, state, n),
            )
    connection.exec_driver_sql(str(definition))


def _insert_assignments(
    session: Session, project_id: int, assignments: Iterable[NewAssignment], who: str, now: datetime
) -> None:
    _insert_rows(
        session,
        cast(Table, AssignmentRow.__table__),
        list(NewAssignment._fields),  # a NewAssignment is the tuple of these columns' values
        assignments,
        {"project_id": project_id, "state": OPEN, "assigned_at": now, "assigned_by": who},
    )


def distribute(
    store: Store, project_id: int, flt: SampleFilter, plan: Callable[[DistributionState], DistributionPlan]
) -> DistributionPlan:
    """Hand out the samples `flt` chooses: `plan` decides who gets what from the state; its assignments are written
    in the same transaction, under the project's review lock."""
    now = utcnow()
    with store.session() as session:
        review_lock(session, project_id, shared=False)
        state = _distribution_state(session, project_id, flt)
        made = plan(state)
        _insert_assignments(session, project_id, made.assignments, store.user, now)
        action_log.record(
            session,
            who=store.user,
            action="review.assign",
            project_id=project_id,
            target=f"project:{project_id}",
            after=made.summary,
        )
    return made


def _open_work(session: Session, project_id: int) -> OpenWork:
    query = (
        select(
            AssignmentRow.id,
            AssignmentRow.sample_id,
            AssignmentRow.annotator,
            SampleRow.language,
            AssignmentRow.position,
            AssignmentRow.overlap,
            AssignmentRow.gold,
        )
        .join(SampleRow, SampleRow.id == AssignmentRow.sample_id)
        .where(AssignmentRow.project_id == project_id, AssignmentRow.state == OPEN)
        .order_by(AssignmentRow.position, AssignmentRow.id)
    )
    open_work: list[OpenAssignment] = []
    gold_open: dict[str, list[int]] = defaultdict(list)
    for assignment_id, sample_id, annotator, language, position, overlap, gold in session.execute(query).tuples():
        if gold:
            gold_open[annotator].append(assignment_id)
        else:
            open_work.append(OpenAssignment(assignment_id, sample_id, annotator, language, position, overlap))
    assignees, _ = _active_assignees(session, project_id)
    loads, next_position = _loads_and_positions(session, project_id)
    pool = {annotator for names in assignees.values() for annotator in names}
    return OpenWork(open_work, assignees, loads, next_position, pool, gold_open)


def rebalance(store: Store, project_id: int, plan: Callable[[OpenWork], RebalancePlan]) -> RebalancePlan:
    """Move open (not yet judged) assignments as `plan` decides, under the project's review lock; judged ones stay."""
    now = utcnow()
    with store.session() as session:
        review_lock(session, project_id, shared=False)
        made = plan(_open_work(session, project_id))
        for start in range(0, len(made.removed), _CHUNK):
            session.execute(
                update(AssignmentRow)
                .where(AssignmentRow.id.in_(made.removed[start : start + _CHUNK]), AssignmentRow.state == OPEN)
                .values(state=REMOVED, closed_at=now, closed_reason=made.reason)
            )
        _insert_assignments(session, project_id, made.added, store.user, now)
        action_log.record(
            session,
            who=store.user,
            action="review.rebalance",
            project_id=project_id,
            target=f"project:{project_id}",
            after=made.summary,
        )
    return made


# --- queues ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class QueueEntry:
    """A sample in an annotator's queue: what they judge, and nothing of anyone else's judgement."""

    sample_id: int
    text: str
    label: str | None
    language: str
    position: int


def open_queue(store: Store, project_id: int, annotator: str, limit: int | None = None) -> list[QueueEntry]:
    """The annotator's open assignments in queue order (the first `limit` of them)."""
    query = (
        select(SampleRow.id, SampleRow.text, SampleRow.label, SampleRow.language, AssignmentRow.position)
        .join(SampleRow, SampleRow.id == AssignmentRow.sample_id)
        .where(
            AssignmentRow.project_id == project_id,
            AssignmentRow.annotator == annotator,
            AssignmentRow.state == OPEN,
        )
        .order_by(AssignmentRow.position, AssignmentRow.id)
    )
    if limit is not None:
        query = query.limit(limit)
    with store.session() as session:
        return [QueueEntry(*row) for row in session.execute(query).tuples()]


def projects_with_open_work(store: Store, annotator: str) -> list[int]:
    """The projects where the annotator has samples still to judge."""
    query = (
        select(AssignmentRow.project_id)
        .where(AssignmentRow.annotator == annotator, AssignmentRow.state == OPEN)
        .distinct()
        .order_by(AssignmentRow.project_id)
    )
    with store.session() as session:
        return list(session.scalars(query))


def queue_counts(store: Store, project_id: int, annotator: str) -> dict[str, int]:
    """{"open": n, "done": n} of the annotator's assignments in the project: a sum of a few tallies (kept by the
    database's triggers, migration 0016), where a count read every assignment of the annotator."""
    tally = AssignmentTallyRow
    query = (
        select(tally.state, func.sum(tally.n))
        .where(tally.project_id == project_id, tally.annotator == annotator, tally.state.in_((OPEN, DONE)))
        .group_by(tally.state)
    )
    with store.session() as session:
        counts = {state: int(n) for state, n in session.execute(query).tuples()}
    return {OPEN: counts.get(OPEN, 0), DONE: counts.get(DONE, 0)}


@dataclass(frozen=True)
class ReviewProgress:
    items: dict[str, int]  # review state -> samples ("open": samples waiting for judgements); zeros left out
    annotators: dict[str, dict[str, int]]  # annotator -> {"open": n, "done": n} (gold checks included)


def review_progress(store: Store, project_id: int) -> ReviewProgress:
    with store.session() as session:
        items = session.execute(
            select(ReviewItemRow.state, func.count(ReviewItemRow.id))
            .where(ReviewItemRow.project_id == project_id)
            .group_by(ReviewItemRow.state)
        ).tuples()
        per_state = {state: int(n) for state, n in items if state != OPEN}
        waiting = session.scalar(
            select(func.count(func.distinct(AssignmentRow.sample_id))).where(
                AssignmentRow.project_id == project_id, AssignmentRow.state == OPEN, AssignmentRow.gold.is_(False)
            )
        )
        if waiting:
            per_state[OPEN] = int(waiting)
        tally = AssignmentTallyRow
        rows = session.execute(
            select(tally.annotator, tally.state, func.sum(tally.n))
            .where(tally.project_id == project_id, tally.state != REMOVED)
            .group_by(tally.annotator, tally.state)
        ).tuples()
        annotators: dict[str, dict[str, int]] = defaultdict(lambda: {OPEN: 0, DONE: 0})
        for annotator, state, n in rows:
            if n:
                annotators[annotator][state] = int(n)
    return ReviewProgress(per_state, dict(sorted(annotators.items())))


# --- a direct decision ends the review ---------------------------------------------------------------------------


def close_for_decisions(session: Session, sample_ids: Collection[int], who: str, action: str) -> None:
    """Someone decided these samples directly (accepted, rejected or labelled them, not by judging them): the reviews
    still going on end as "decided", their open assignments leave every queue, and each is logged with whose queues
    it left. Called in the transaction that made the decision; a sample under no review costs two indexed reads."""
    if action.removeprefix("bulk ") not in DIRECT_DECISIONS or not sample_ids:
        return
    now = utcnow()
    ids = sorted(set(sample_ids))
    log_rows: list[dict[str, Any]] = []
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        queues: dict[int, list[str]] = defaultdict(list)
        needs: dict[int, int] = {}
        for sample_id, annotator, overlap in session.execute(
            select(AssignmentRow.sample_id, AssignmentRow.annotator, AssignmentRow.overlap).where(
                AssignmentRow.sample_id.in_(chunk), AssignmentRow.state == OPEN, AssignmentRow.gold.is_(False)
            )
        ).tuples():
            queues[sample_id].append(annotator)
            needs[sample_id] = max(needs.get(sample_id, 0), overlap)
        items = {
            item.sample_id: item
            for item in session.scalars(
                select(ReviewItemRow).where(
                    ReviewItemRow.sample_id.in_(chunk), ReviewItemRow.state.in_((OPEN, "adjudication"))
                )
            )
        }
        reviewed = sorted(set(queues) | set(items))
        if not reviewed:
            continue
        session.execute(
            update(AssignmentRow)
            .where(AssignmentRow.sample_id.in_(reviewed), AssignmentRow.state == OPEN, AssignmentRow.gold.is_(False))
            .values(state=REMOVED, closed_at=now, closed_reason="decided")
        )
        decided = session.execute(
            select(SampleRow.id, SampleRow.project_id, SampleRow.status, SampleRow.label).where(
                SampleRow.id.in_(reviewed)
            )
        ).tuples()
        for sample_id, project_id, status, label in decided:
            item = items.get(sample_id)
            was = item.state if item else OPEN
            if item is None:
                item = ReviewItemRow(
                    project_id=project_id, sample_id=sample_id, overlap=needs.get(sample_id, 0), created_by=who
                )
                session.add(item)
            item.state, item.outcome_status, item.outcome_label = "decided", status, label
            item.closed_at, item.closed_by = now, who
            log_rows.append(
                {
                    "project_id": project_id,
                    "at": now,
                    "who": who,
                    "action": "review.taken out",
                    "target": f"sample:{sample_id}",
                    "batch": None,
                    "before": {"state": was, "queues": sorted(queues.get(sample_id, []))},
                    "after": {"state": "decided", "by": action, "status": status, "label": label},
                }
            )
    action_log.record_many(session, log_rows)

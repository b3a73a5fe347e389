"""A project's review rules (overlap, resolution rule, gold checks), and the lock that review work takes."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from core.store import action_log
from core.store.database import Store
from core.store.locks import hold_write_lock, scope_number
from core.store.schema import ReviewSettingRow, utcnow


@dataclass(frozen=True)
class ReviewSettings:
    overlap: int = 2  # judgements per sample (k)
    rule: str = "unanimous"  # one of core.store.schema.REVIEW_RULES
    gold: bool = False  # gold samples mixed into the queues


def review_lock(session: Session, project_id: int, *, shared: bool) -> None:
    """The project's review lock, until the transaction ends: distributing and re-balancing take it alone, judging
    and adjudicating share it (PostgreSQL: an advisory lock; SQLite: its one write lock, `BEGIN IMMEDIATE`, so a
    judgement never fails with "database is locked" half-way). Call it first in the transaction."""
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        function = "pg_advisory_xact_lock_shared" if shared else "pg_advisory_xact_lock"
        connection.execute(
            text(f"SELECT {function}(:scope, :key)"), {"scope": scope_number("review"), "key": project_id}
        )
    else:
        hold_write_lock(session, "review", project_id)


def settings_in(session: Session, project_id: int) -> ReviewSettings:
    row = session.scalar(select(ReviewSettingRow).where(ReviewSettingRow.project_id == project_id))
    return ReviewSettings(row.overlap, row.rule, row.gold) if row else ReviewSettings()


def get_settings(store: Store, project_id: int) -> ReviewSettings:
    with store.session() as session:
        return settings_in(session, project_id)


def save_settings(store: Store, project_id: int, settings: ReviewSettings) -> ReviewSettings:
    """Store the project's review rules (logged with the old ones)."""
    with store.session() as session:
        row = session.scalar(select(ReviewSettingRow).where(ReviewSettingRow.project_id == project_id))
        before = ReviewSettings(row.overlap, row.rule, row.gold) if row else ReviewSettings()
        if row is None:
            row = ReviewSettingRow(project_id=project_id, updated_by=store.user)
            session.add(row)
        row.overlap, row.rule, row.gold = settings.overlap, settings.rule, settings.gold
        row.updated_at, row.updated_by = utcnow(), store.user
        action_log.record(
            session,
            who=store.user,
            action="review.settings",
            project_id=project_id,
            target=f"project:{project_id}",
            before=asdict(before),
            after=asdict(settings),
        )
    return settings

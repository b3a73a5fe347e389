"""The append-only action log: who did what, when, before -> after."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from core.store.database import Store
from core.store.schema import ActionRow


@dataclass(frozen=True)
class Action:
    id: int
    project_id: int | None
    at: datetime
    who: str
    action: str
    target: str
    batch: str | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None


def new_batch_id() -> str:
    return uuid.uuid4().hex


def record(
    session: Session,
    *,
    who: str,
    action: str,
    project_id: int | None = None,
    target: str = "",
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    batch: str | None = None,
) -> None:
    session.add(
        ActionRow(project_id=project_id, who=who, action=action, target=target, before=before, after=after, batch=batch)
    )


def record_many(session: Session, rows: list[dict[str, Any]]) -> None:
    """Bulk form of `record` for large imports and bulk edits (one INSERT for all rows)."""
    if rows:
        session.execute(cast(Table, ActionRow.__table__).insert(), rows)


def log_action(
    store: Store,
    *,
    action: str,
    project_id: int | None = None,
    target: str = "",
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> None:
    """One row in the log, in its own transaction, by this store's user."""
    with store.session() as session:
        record(
            session,
            who=store.user,
            action=action,
            project_id=project_id,
            target=target,
            before=before,
            after=after,
        )


def was_logged(store: Store, action: str) -> bool:
    """Whether this action was ever logged (in any project, or none)."""
    with store.session() as session:
        return session.scalar(select(ActionRow.id).where(ActionRow.action == action).limit(1)) is not None


def list_actions(store: Store, project_id: int | None = None, limit: int = 100) -> list[Action]:
    with store.session() as session:
        query = select(ActionRow).order_by(ActionRow.id.desc()).limit(limit)
        if project_id is not None:
            query = query.where(ActionRow.project_id == project_id)
        return [
            Action(r.id, r.project_id, r.at, r.who, r.action, r.target, r.batch, r.before, r.after)
            for r in session.scalars(query)
        ]

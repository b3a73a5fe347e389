"""The append-only action log: who did what, when, before -> after."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Select, Table, func, select
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


@dataclass(frozen=True)
class ActionQuery:
    """Which log rows to read (the audit): all of them unless narrowed. Times are naive UTC, like the log's."""

    who: str | None = None
    project_id: int | None = None
    since: datetime | None = None  # from this moment on (inclusive)
    until: datetime | None = None  # before this moment (exclusive)
    actions: tuple[str, ...] = ()  # only these actions (none: every action)


def _narrowed(statement: Select[Any], query: ActionQuery) -> Select[Any]:
    if query.who is not None:
        statement = statement.where(ActionRow.who == query.who)
    if query.project_id is not None:
        statement = statement.where(ActionRow.project_id == query.project_id)
    if query.since is not None:
        statement = statement.where(ActionRow.at >= query.since)
    if query.until is not None:
        statement = statement.where(ActionRow.at < query.until)
    if query.actions:
        statement = statement.where(ActionRow.action.in_(query.actions))
    return statement


def find_actions(store: Store, query: ActionQuery, *, limit: int | None = None) -> list[Action]:
    """The rows the query keeps, newest first (at most `limit`)."""
    with store.session() as session:
        statement = _narrowed(select(ActionRow), query).order_by(ActionRow.id.desc())
        if limit is not None:
            statement = statement.limit(limit)
        return [_action(row) for row in session.scalars(statement)]


def count_actions(store: Store, query: ActionQuery) -> int:
    with store.session() as session:
        return int(session.scalar(_narrowed(select(func.count(ActionRow.id)), query)) or 0)


def iter_actions(store: Store, query: ActionQuery, *, chunk: int = 2000) -> Iterator[Action]:
    """Every row the query keeps, newest first, read `chunk` rows at a time (an export of a long log never holds
    it all in memory, nor one transaction open while the caller writes)."""
    below: int | None = None
    while True:
        with store.session() as session:
            statement = _narrowed(select(ActionRow), query)
            if below is not None:
                statement = statement.where(ActionRow.id < below)
            rows = [_action(row) for row in session.scalars(statement.order_by(ActionRow.id.desc()).limit(chunk))]
        yield from rows
        if len(rows) < chunk:
            return
        below = rows[-1].id


def who_in_log(store: Store) -> list[str]:
    """Everyone the log names, in alphabetical order."""
    with store.session() as session:
        return list(session.scalars(select(ActionRow.who).distinct().order_by(ActionRow.who)))


def _action(row: ActionRow) -> Action:
    return Action(row.id, row.project_id, row.at, row.who, row.action, row.target, row.batch, row.before, row.after)

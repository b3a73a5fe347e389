"""Accounts and project memberships (team mode). The password hash stays in the store: `Account` does not carry it,
and only `password_hash_of` hands it out, to the password check."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import InstrumentedAttribute, Session

from core.errors import InvalidInput
from core.store.action_log import record
from core.store.database import Store
from core.store.locks import hold_write_lock
from core.store.schema import (
    AccountRow,
    ActionRow,
    BaselineRunRow,
    EvaluationRow,
    GenerationRunRow,
    JobRow,
    ProjectMemberRow,
    ProjectRow,
    SampleRow,
    TrainingRunRow,
    utcnow,
)


@dataclass(frozen=True)
class Account:
    id: int
    username: str
    display_name: str
    email: str | None
    role: str
    active: bool
    created_at: datetime
    created_by: str
    last_sign_in_at: datetime | None
    password_changed_at: datetime | None
    has_password: bool


def _account(row: AccountRow) -> Account:
    return Account(
        id=row.id,
        username=row.username,
        display_name=row.display_name,
        email=row.email,
        role=row.role,
        active=row.active,
        created_at=row.created_at,
        created_by=row.created_by,
        last_sign_in_at=row.last_sign_in_at,
        password_changed_at=row.password_changed_at,
        has_password=row.password_hash is not None,
    )


def insert_account(
    store: Store,
    *,
    username: str,
    display_name: str,
    role: str,
    password_hash: str | None,
    email: str | None = None,
) -> Account:
    now = utcnow()
    with store.session() as session:
        row = AccountRow(
            username=username,
            display_name=display_name,
            email=email,
            password_hash=password_hash,
            role=role,
            active=True,
            created_at=now,
            created_by=store.user,
            password_changed_at=now if password_hash is not None else None,
        )
        session.add(row)
        session.flush()
        added: dict[str, object] = {"role": role, "display_name": display_name, "email": email}
        _log(session, store, "account.add", username, after=added)
        return _account(row)


def find_account(store: Store, username: str) -> Account | None:
    with store.session() as session:
        row = session.scalars(select(AccountRow).where(AccountRow.username == username)).first()
        return _account(row) if row else None


def find_account_by_email(store: Store, email: str) -> Account | None:
    with store.session() as session:
        row = session.scalars(select(AccountRow).where(func.lower(AccountRow.email) == email.lower())).first()
        return _account(row) if row else None


def list_accounts(store: Store) -> list[Account]:
    with store.session() as session:
        return [_account(row) for row in session.scalars(select(AccountRow).order_by(AccountRow.username))]


def count_active_accounts(store: Store) -> int:
    with store.session() as session:
        return int(session.scalar(select(func.count()).select_from(AccountRow).where(AccountRow.active)) or 0)


def password_hash_of(store: Store, username: str) -> str | None:
    """For the password check only: the stored argon2 hash (None: no such account, or no password)."""
    with store.session() as session:
        return session.scalar(select(AccountRow.password_hash).where(AccountRow.username == username))


def set_role(store: Store, username: str, role: str) -> None:
    _change_keeping_an_owner(store, username, role=role)


def set_active(store: Store, username: str, active: bool) -> None:
    _change_keeping_an_owner(store, username, active=active)


def _change_keeping_an_owner(
    store: Store, username: str, *, role: str | None = None, active: bool | None = None
) -> None:
    """Change the role or the active flag, refusing to leave no active owner. The count and the change happen in one
    transaction under the accounts' write lock, so two owners demoting each other at once cannot both succeed."""
    with store.session() as session:
        hold_write_lock(session, "accounts", 0)
        row = session.scalar(select(AccountRow).where(AccountRow.username == username))
        if row is None:
            return
        stays_owner = (row.role if role is None else role) == "owner" and (row.active if active is None else active)
        if row.active and row.role == "owner" and not stays_owner:
            owners = session.scalar(
                select(func.count()).select_from(AccountRow).where(AccountRow.active, AccountRow.role == "owner")
            )
            if int(owners or 0) <= 1:
                raise InvalidInput(
                    f"{username} is the only active owner: make another account an owner first, "
                    "so that someone can still manage the accounts."
                )
        before = {"role": row.role, "active": row.active}
        if role is not None:
            row.role = role
        if active is not None:
            row.active = active
        after = {"role": row.role, "active": row.active}
        if after != before:
            action = "account.role" if role is not None else ("account.reactivate" if active else "account.deactivate")
            _log(session, store, action, username, before=before, after=after)


def set_password_hash(store: Store, username: str, password_hash: str, *, changed: bool = True) -> None:
    """A new hash; `changed=False` for a rehash of the same password (its change time stays)."""
    values: dict[str, object] = {"password_hash": password_hash}
    if changed:
        values["password_changed_at"] = utcnow()
    with store.session() as session:
        session.execute(update(AccountRow).where(AccountRow.username == username).values(**values))
        if changed:  # the hash itself is never logged
            _log(session, store, "account.password", username, after={"password": "changed"})


def record_sign_in(store: Store, username: str) -> None:
    with store.session() as session:
        session.execute(update(AccountRow).where(AccountRow.username == username).values(last_sign_in_at=utcnow()))


def add_member(store: Store, project_id: int, account_id: int) -> bool:
    """Adds the membership; False when it existed already."""
    with store.session() as session:
        existing = session.scalar(
            select(ProjectMemberRow.id).where(
                ProjectMemberRow.project_id == project_id, ProjectMemberRow.account_id == account_id
            )
        )
        if existing is not None:
            return False
        session.add(
            ProjectMemberRow(project_id=project_id, account_id=account_id, added_at=utcnow(), added_by=store.user)
        )
        _log_membership(session, store, "member.add", project_id, account_id)
        return True


def remove_member(store: Store, project_id: int, account_id: int) -> bool:
    """Removes the membership; False when there was none."""
    with store.session() as session:
        result = session.execute(
            delete(ProjectMemberRow).where(
                ProjectMemberRow.project_id == project_id, ProjectMemberRow.account_id == account_id
            )
        )
        removed = bool(getattr(result, "rowcount", 0))
        if removed:
            _log_membership(session, store, "member.remove", project_id, account_id)
        return removed


def _log(
    session: Session,
    store: Store,
    action: str,
    username: str,
    *,
    before: dict[str, object] | None = None,
    after: dict[str, object] | None = None,
) -> None:
    """An account change in the action log (the audit), in the change's own transaction."""
    record(session, who=store.user, action=action, target=f"account:{username}", before=before, after=after)


def _log_membership(session: Session, store: Store, action: str, project_id: int, account_id: int) -> None:
    username = session.scalar(select(AccountRow.username).where(AccountRow.id == account_id))
    record(session, who=store.user, action=action, project_id=project_id, target=f"account:{username}")


def project_ids_of(store: Store, account_id: int) -> list[int]:
    with store.session() as session:
        query = (
            select(ProjectMemberRow.project_id)
            .where(ProjectMemberRow.account_id == account_id)
            .order_by(ProjectMemberRow.project_id)
        )
        return list(session.scalars(query))


def member_ids_of(store: Store, project_id: int) -> list[int]:
    with store.session() as session:
        query = (
            select(ProjectMemberRow.account_id)
            .where(ProjectMemberRow.project_id == project_id)
            .order_by(ProjectMemberRow.account_id)
        )
        return list(session.scalars(query))


def member_project_ids(store: Store, username: str) -> set[int]:
    """The projects the active account of that name is a member of (none for an unknown or deactivated account)."""
    with store.session() as session:
        query = (
            select(ProjectMemberRow.project_id)
            .join(AccountRow, AccountRow.id == ProjectMemberRow.account_id)
            .where(AccountRow.username == username, AccountRow.active)
        )
        return set(session.scalars(query))


# What a thing named by its id belongs to, for the membership check at the front door: (its id, its project's id;
# None for a job or a log row of no project).
SCOPED_COLUMNS: dict[
    str, tuple[InstrumentedAttribute[int], InstrumentedAttribute[int] | InstrumentedAttribute[int | None]]
] = {
    "project": (ProjectRow.id, ProjectRow.id),
    "sample": (SampleRow.id, SampleRow.project_id),
    "action": (ActionRow.id, ActionRow.project_id),
    "job": (JobRow.id, JobRow.project_id),
    "evaluation": (EvaluationRow.id, EvaluationRow.project_id),
    "training_run": (TrainingRunRow.id, TrainingRunRow.project_id),
    "generation_run": (GenerationRunRow.id, GenerationRunRow.project_id),
    "baseline": (BaselineRunRow.id, BaselineRunRow.project_id),
}


def projects_of_things(store: Store, kind: str, ids: Collection[int]) -> dict[int, int | None]:
    """{id: its project's id} for the things of a kind (SCOPED_COLUMNS) that exist; an id that names nothing is
    left out (the function asked says it was not found)."""
    if not ids:
        return {}
    id_column, project_column = SCOPED_COLUMNS[kind]
    with store.session() as session:
        rows = session.execute(select(id_column, project_column).where(id_column.in_(sorted(set(ids)))))
        return {thing_id: project_id for thing_id, project_id in rows.tuples()}


def project_names(store: Store, project_ids: Collection[int]) -> dict[int, str]:
    with store.session() as session:
        query = select(ProjectRow.id, ProjectRow.name).where(ProjectRow.id.in_(sorted(set(project_ids))))
        return {project_id: name for project_id, name in session.execute(query)}


def action_maker(store: Store, action_id: int) -> str | None:
    """Who the action log says made the action (None when there is no such row): whose decision an undo undoes."""
    with store.session() as session:
        return session.scalar(select(ActionRow.who).where(ActionRow.id == action_id))

"""Accounts and project memberships (team mode). The password hash stays in the store: `Account` does not carry it,
and only `password_hash_of` hands it out, to the password check."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, select, update

from core.errors import InvalidInput
from core.store.database import Store
from core.store.locks import hold_write_lock
from core.store.schema import AccountRow, ProjectMemberRow, utcnow


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
        if role is not None:
            row.role = role
        if active is not None:
            row.active = active


def set_password_hash(store: Store, username: str, password_hash: str, *, changed: bool = True) -> None:
    """A new hash; `changed=False` for a rehash of the same password (its change time stays)."""
    values: dict[str, object] = {"password_hash": password_hash}
    if changed:
        values["password_changed_at"] = utcnow()
    with store.session() as session:
        session.execute(update(AccountRow).where(AccountRow.username == username).values(**values))


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
        return True


def remove_member(store: Store, project_id: int, account_id: int) -> bool:
    """Removes the membership; False when there was none."""
    with store.session() as session:
        result = session.execute(
            delete(ProjectMemberRow).where(
                ProjectMemberRow.project_id == project_id, ProjectMemberRow.account_id == account_id
            )
        )
        return bool(getattr(result, "rowcount", 0))


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

"""Signed-in browser sessions (team mode): the sha256 of each session's token, never the token, with the times that
decide whether it still holds. `StoredSession` carries what the check needs of its account, read in the same query."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, select, update

from core.store.database import Store
from core.store.schema import AccountRow, AccountSessionRow, utcnow


@dataclass(frozen=True)
class StoredSession:
    id: int
    account_id: int
    username: str
    role: str
    account_active: bool
    password_changed_at: datetime | None
    method: str
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime
    ended_at: datetime | None
    ended_reason: str | None
    user_agent: str | None


def _stored(row: AccountSessionRow, account: AccountRow) -> StoredSession:
    return StoredSession(
        id=row.id,
        account_id=row.account_id,
        username=account.username,
        role=account.role,
        account_active=account.active,
        password_changed_at=account.password_changed_at,
        method=row.method,
        created_at=row.created_at,
        last_seen_at=row.last_seen_at,
        expires_at=row.expires_at,
        ended_at=row.ended_at,
        ended_reason=row.ended_reason,
        user_agent=row.user_agent,
    )


def _with_account() -> Select[AccountSessionRow, AccountRow]:
    return select(AccountSessionRow, AccountRow).join(AccountRow, AccountRow.id == AccountSessionRow.account_id)


def insert_session(
    store: Store,
    *,
    account_id: int,
    token_hash: str,
    method: str,
    created_at: datetime,
    expires_at: datetime,
    user_agent: str | None = None,
    sso_login: str | None = None,
) -> StoredSession:
    """A new open session. A second session for the same `sso_login` fails with IntegrityError."""
    with store.session() as session:
        row = AccountSessionRow(
            account_id=account_id,
            token_hash=token_hash,
            method=method,
            sso_login=sso_login,
            created_at=created_at,
            last_seen_at=created_at,
            expires_at=expires_at,
            user_agent=(user_agent or "")[:300] or None,
        )
        session.add(row)
        session.flush()
        account = session.get_one(AccountRow, account_id)
        return _stored(row, account)


def find_session(store: Store, token_hash: str) -> StoredSession | None:
    with store.session() as session:
        found = session.execute(_with_account().where(AccountSessionRow.token_hash == token_hash)).first()
        return _stored(found[0], found[1]) if found else None


def sessions_of(store: Store, account_id: int) -> list[StoredSession]:
    """The account's sessions, open and ended, oldest first."""
    with store.session() as session:
        query = _with_account().where(AccountSessionRow.account_id == account_id).order_by(AccountSessionRow.id)
        return [_stored(row, account) for row, account in session.execute(query)]


def sso_login_used(store: Store, sso_login: str) -> bool:
    with store.session() as session:
        return session.scalar(select(AccountSessionRow.id).where(AccountSessionRow.sso_login == sso_login)) is not None


def touch_session(store: Store, session_id: int, when: datetime) -> None:
    """The session was seen at `when` (only an open session, and never back in time)."""
    with store.session() as session:
        session.execute(
            update(AccountSessionRow)
            .where(
                AccountSessionRow.id == session_id,
                AccountSessionRow.ended_at.is_(None),
                AccountSessionRow.last_seen_at < when,
            )
            .values(last_seen_at=when)
        )


def end_session(store: Store, session_id: int, reason: str) -> bool:
    """Ends an open session; False when it had ended already."""
    with store.session() as session:
        result = session.execute(
            update(AccountSessionRow)
            .where(AccountSessionRow.id == session_id, AccountSessionRow.ended_at.is_(None))
            .values(ended_at=utcnow(), ended_reason=reason[:40])
        )
        return bool(getattr(result, "rowcount", 0))


def end_sessions_of(store: Store, account_id: int, reason: str) -> int:
    """Ends every open session of the account; how many there were."""
    with store.session() as session:
        result = session.execute(
            update(AccountSessionRow)
            .where(AccountSessionRow.account_id == account_id, AccountSessionRow.ended_at.is_(None))
            .values(ended_at=utcnow(), ended_reason=reason[:40])
        )
        return int(getattr(result, "rowcount", 0) or 0)

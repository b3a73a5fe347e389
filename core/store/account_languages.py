"""The languages each account can judge (review work): the `accounts.languages` column."""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import select, update

from core.store import action_log
from core.store.database import Store
from core.store.schema import AccountRow


def languages_of(store: Store, usernames: Collection[str] | None = None) -> dict[str, list[str]]:
    """{username: language codes} of these accounts (every account when None); an unknown name is left out."""
    with store.session() as session:
        query = select(AccountRow.username, AccountRow.languages).order_by(AccountRow.username)
        if usernames is not None:
            query = query.where(AccountRow.username.in_(sorted(set(usernames))))
        return {name: [str(code) for code in codes or []] for name, codes in session.execute(query).tuples()}


def active_usernames(store: Store, usernames: Collection[str]) -> set[str]:
    """Those of the names that are active accounts."""
    with store.session() as session:
        query = select(AccountRow.username).where(AccountRow.username.in_(sorted(set(usernames))), AccountRow.active)
        return set(session.scalars(query))


def set_languages(store: Store, username: str, codes: list[str]) -> bool:
    """Replace the account's languages (logged); False when there is no such account."""
    with store.session() as session:
        before = session.scalar(select(AccountRow.languages).where(AccountRow.username == username))
        if before is None:
            return False
        session.execute(update(AccountRow).where(AccountRow.username == username).values(languages=list(codes)))
        action_log.record(
            session,
            who=store.user,
            action="account.languages",
            target=f"account:{username}",
            before={"languages": list(before)},
            after={"languages": list(codes)},
        )
        return True

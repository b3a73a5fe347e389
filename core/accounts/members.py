"""Project membership: leads and annotators see only the projects they belong to."""

from __future__ import annotations

from core.accounts.manage import get_account
from core.store import accounts as stored
from core.store.accounts import Account
from core.store.database import Store


def add_member(store: Store, project_id: int, username: str) -> bool:
    """Adds the account to the project; False when it was a member already."""
    return stored.add_member(store, project_id, get_account(store, username).id)


def remove_member(store: Store, project_id: int, username: str) -> bool:
    """Removes the account from the project; False when it was not a member."""
    return stored.remove_member(store, project_id, get_account(store, username).id)


def projects_of(store: Store, username: str) -> list[int]:
    """The ids of the projects the account is a member of."""
    return stored.project_ids_of(store, get_account(store, username).id)


def members_of(store: Store, project_id: int) -> list[Account]:
    """The accounts that are members of the project, by username."""
    ids = set(stored.member_ids_of(store, project_id))
    return [account for account in stored.list_accounts(store) if account.id in ids]


def visible_project_ids(store: Store, username: str) -> set[int]:
    """The projects a lead or annotator sees: those their (active) account is a member of."""
    return stored.member_project_ids(store, username)


def join_created_project(store: Store, project_id: int, username: str) -> bool:
    """Whoever creates a project in team mode becomes its member; False when there is no such account (an actor
    made up in a test) or it was a member already."""
    account = stored.find_account(store, username)
    return account is not None and stored.add_member(store, project_id, account.id)

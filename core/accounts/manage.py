"""Creating and managing accounts, and who acts: `team_mode` (at least one active account) and `actor_as`.

These functions do not check who asks: the front door (core.front.accounts) does.
"""

from __future__ import annotations

import functools

from sqlalchemy.exc import IntegrityError

from core.accounts import sessions
from core.accounts.passwords import check_new_password, hash_password, needs_rehash, verify_password
from core.accounts.usernames import check_username
from core.errors import InvalidInput, NotFound, PermissionDenied
from core.front.actor import ROLES, Actor
from core.store import accounts as stored
from core.store.accounts import Account
from core.store.database import Store


def team_mode(store: Store) -> bool:
    """Whether the studio is in team mode: at least one active account exists."""
    return stored.count_active_accounts(store) > 0


def check_role(role: str) -> str:
    if role not in ROLES:
        raise InvalidInput(f"'{role}' is not a role: choose one of {', '.join(ROLES)}.")
    return role


def _check_email(email: str | None) -> str | None:
    if email is None or not email.strip():
        return None
    address = email.strip()
    if "@" not in address.strip("@") or any(ch.isspace() for ch in address):
        raise InvalidInput(f"'{address}' does not look like an e-mail address.")
    return address


def get_account(store: Store, username: str) -> Account:
    account = stored.find_account(store, username.strip())
    if account is None:
        raise NotFound(f"There is no account named '{username.strip()}'.")
    return account


def create_account(
    store: Store,
    username: str,
    role: str,
    password: str | None,
    *,
    display_name: str | None = None,
    email: str | None = None,
) -> Account:
    """A new active account; `password=None` only for single sign-on accounts (they need an e-mail address)."""
    name = check_username(username)
    check_role(role)
    address = _check_email(email)
    if password is None and address is None:
        raise InvalidInput("An account needs a password, or an e-mail address to sign in with single sign-on.")
    if password is not None:
        check_new_password(password)
    if stored.find_account(store, name) is not None:
        raise InvalidInput(f"An account named '{name}' exists already.")
    if address is not None and stored.find_account_by_email(store, address) is not None:
        raise InvalidInput(f"Another account uses the e-mail address {address} already.")
    try:
        return stored.insert_account(
            store,
            username=name,
            display_name=(display_name or "").strip() or name,
            role=role,
            password_hash=hash_password(password) if password is not None else None,
            email=address,
        )
    except IntegrityError as exc:  # created at the same moment by someone else
        raise InvalidInput(f"An account named '{name}' exists already.") from exc


def list_accounts(store: Store) -> list[Account]:
    return stored.list_accounts(store)


def set_role(store: Store, username: str, role: str) -> Account:
    check_role(role)
    account = get_account(store, username)
    stored.set_role(store, account.username, role)
    return get_account(store, account.username)


def deactivate(store: Store, username: str) -> Account:
    """The account can no longer sign in or act, and its sessions end in every browser; its history stays."""
    account = get_account(store, username)
    stored.set_active(store, account.username, False)
    sessions.end_account_sessions(store, account, sessions.DEACTIVATED)
    return get_account(store, account.username)


def reactivate(store: Store, username: str) -> Account:
    account = get_account(store, username)
    stored.set_active(store, account.username, True)
    return get_account(store, account.username)


def reset_password(store: Store, username: str, password: str) -> Account:
    account = get_account(store, username)
    check_new_password(password)
    stored.set_password_hash(store, account.username, hash_password(password))
    sessions.end_account_sessions(store, account, sessions.PASSWORD_CHANGED)  # signed in with the old one: ended
    return get_account(store, account.username)


def check_password(store: Store, username: str, password: str) -> Account | None:
    """The active account when the password is right, else None (whatever the reason, so that nobody learns
    whether the username exists). An old-style hash is replaced by a new one on success."""
    account = stored.find_account(store, username.strip())
    password_hash = stored.password_hash_of(store, username.strip())
    if account is None or password_hash is None:
        verify_password(_dummy_hash(), password)  # the same time spent either way
        return None
    if not verify_password(password_hash, password) or not account.active:
        return None
    if needs_rehash(password_hash):
        stored.set_password_hash(store, account.username, hash_password(password), changed=False)
    return account


@functools.cache
def _dummy_hash() -> str:
    return hash_password("not a password anyone has")


def actor_as(store: Store, username: str) -> Actor:
    """Who acts as `username`: in personal mode (no account) the studio's one user, an owner, under that name; in
    team mode the account's role, and an unknown or deactivated account is refused."""
    if not team_mode(store):
        return Actor(store=store, user=username, role="owner", team=False)
    account = stored.find_account(store, username.strip())
    if account is None:
        raise PermissionDenied(
            f"permission denied: there is no account named '{username}' in this studio "
            "(ask an owner to add one, or act as another user with --as)."
        )
    if not account.active:
        raise PermissionDenied(f"permission denied: the account '{account.username}' is deactivated.")
    return Actor(store=store, user=account.username, role=account.role, team=True)

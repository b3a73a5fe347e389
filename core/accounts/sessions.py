"""Signed-in sessions of team mode that outlive a browser tab: a reload, a new tab and a deep link find the same
sign-in until it ends.

A session is a random token (`secrets.token_urlsafe(32)`) that the browser holds in a cookie; the store keeps only
its sha256. Every check reads the store, so a session ends for every tab at its next rerun when:
- its account is deactivated, or its password changes (both also end the stored sessions at once: core.accounts.manage),
- it sits idle longer than the idle limit (STUDIO_SESSION_IDLE_MINUTES, 12 hours by default),
- it reaches the end of its lifetime (STUDIO_SESSION_DAYS, 7 days by default, however active it was),
- its user signs out.
The time a session was last seen is written at most once a minute, so a busy page costs one read per rerun.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from core.front.actor import Actor
from core.store import account_sessions as stored_sessions
from core.store import accounts as stored_accounts
from core.store.accounts import Account
from core.store.database import Store
from core.store.schema import utcnow

DEFAULT_IDLE_MINUTES = 12 * 60
DEFAULT_LIFETIME_DAYS = 7
TOUCH_EVERY = timedelta(minutes=1)

# why a session ended, as the store records it
SIGNED_OUT = "signed out"
IDLE = "idle too long"
EXPIRED = "lifetime over"
DEACTIVATED = "account deactivated"
PASSWORD_CHANGED = "password changed"
UNKNOWN = "unknown session"


@dataclass(frozen=True)
class NewSession:
    """A session just opened. `token` goes to the browser's cookie and nowhere else: the store has only its hash."""

    token: str
    username: str
    expires_at: datetime  # naive UTC, as the store keeps times

    def __repr__(self) -> str:  # the token never shows in a log or a traceback
        return f"NewSession(username={self.username!r}, expires_at={self.expires_at!r})"


@dataclass(frozen=True)
class SessionCheck:
    """Whether a session holds: the account acting in it, or None and why it ended (one of the reasons above)."""

    actor: Actor | None
    ended: str | None = None


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _positive_number(name: str) -> float | None:
    raw = os.environ.get(name, "").strip()
    return float(raw) if raw.replace(".", "", 1).isdigit() and float(raw) > 0 else None


def idle_limit_from_env() -> timedelta:
    return timedelta(minutes=_positive_number("STUDIO_SESSION_IDLE_MINUTES") or DEFAULT_IDLE_MINUTES)


def lifetime_from_env() -> timedelta:
    return timedelta(days=_positive_number("STUDIO_SESSION_DAYS") or DEFAULT_LIFETIME_DAYS)


def start_session(
    store: Store,
    account: Account,
    *,
    method: str = "password",
    user_agent: str | None = None,
    sso_login: str | None = None,
    lifetime: timedelta | None = None,
    now: datetime | None = None,
) -> NewSession:
    """Opens a session for an account that just proved who it is (the caller checked that)."""
    moment = now or utcnow()
    token = secrets.token_urlsafe(32)
    expires_at = moment + (lifetime or lifetime_from_env())
    stored_sessions.insert_session(
        store,
        account_id=account.id,
        token_hash=token_hash(token),
        method=method,
        created_at=moment,
        expires_at=expires_at,
        user_agent=user_agent,
        sso_login=sso_login,
    )
    stored_accounts.record_sign_in(store, account.username)
    return NewSession(token=token, username=account.username, expires_at=expires_at)


def check_session(store: Store, token: str, *, idle_limit: timedelta, now: datetime | None = None) -> SessionCheck:
    """The acting account of the session holding `token`, or why it no longer holds (and then it ends in the store,
    so every other tab with the same cookie sees it ended too)."""
    moment = now or utcnow()
    session = stored_sessions.find_session(store, token_hash(token)) if token else None
    if session is None:
        return SessionCheck(None, UNKNOWN)
    if session.ended_at is not None:
        return SessionCheck(None, session.ended_reason or UNKNOWN)
    reason = None
    if not session.account_active:
        reason = DEACTIVATED
    elif session.password_changed_at is not None and session.password_changed_at > session.created_at:
        reason = PASSWORD_CHANGED
    elif moment >= session.expires_at:
        reason = EXPIRED
    elif moment - session.last_seen_at > idle_limit:
        reason = IDLE
    if reason is not None:
        stored_sessions.end_session(store, session.id, reason)
        return SessionCheck(None, reason)
    if moment - session.last_seen_at >= TOUCH_EVERY:
        stored_sessions.touch_session(store, session.id, moment)
    return SessionCheck(Actor(store=store, user=session.username, role=session.role, team=True))


def end_session(store: Store, token: str, reason: str = SIGNED_OUT) -> bool:
    """Ends the session holding `token` (a sign-out); False when there was no open one."""
    session = stored_sessions.find_session(store, token_hash(token)) if token else None
    return session is not None and stored_sessions.end_session(store, session.id, reason)


def end_account_sessions(store: Store, account: Account, reason: str) -> int:
    """Ends every open session of the account, in every browser; how many there were."""
    return stored_sessions.end_sessions_of(store, account.id, reason)

"""Signing in to the studio in team mode, without a browser: the password check, the growing delay after failed
sign-ins, and whether a signed-in session may go on.

Failed sign-ins slow down per username and per client address: after n failures in a row the next try waits
2^(n-1) seconds, at most 30 s. A delay, never a lockout, so nobody can lock a colleague out by guessing. Every
refusal says the same thing whether or not the username exists.

A session ends at the next rerun when its account is deactivated, its password changes after the sign-in, or it
has been idle longer than the idle limit (STUDIO_SESSION_IDLE_MINUTES, 12 hours by default).
"""

from __future__ import annotations

import math
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from core.accounts.manage import check_password
from core.front.actor import Actor
from core.store import accounts as stored
from core.store.database import Store
from core.store.schema import utcnow

WRONG_CREDENTIALS = "That username and password do not match."
MAX_DELAY_SECONDS = 30.0
DEFAULT_IDLE_MINUTES = 12 * 60


def delay_after(failures: int) -> float:
    """Seconds to wait before the next try after `failures` failed sign-ins in a row."""
    if failures <= 0:
        return 0.0
    return min(MAX_DELAY_SECONDS, 2.0 ** (failures - 1))


@dataclass
class _Failures:
    count: int
    last: float  # clock seconds of the last failure


class SignInThrottle:
    """Failed sign-ins per username and per client address, in this server process (thread-safe)."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._failures: dict[tuple[str, str], _Failures] = {}

    @staticmethod
    def _keys(username: str, address: str | None) -> list[tuple[str, str]]:
        return [("username", username.strip().lower()), ("address", address or "unknown")]

    def wait_seconds(self, username: str, address: str | None) -> float:
        """How long this username or address must still wait before its next try (0: it may try now)."""
        now = self._clock()
        with self._lock:
            waits = [
                entry.last + delay_after(entry.count) - now
                for key in self._keys(username, address)
                if (entry := self._failures.get(key)) is not None
            ]
        return max([0.0, *waits])

    def failed(self, username: str, address: str | None) -> None:
        now = self._clock()
        with self._lock:
            for key in self._keys(username, address):
                entry = self._failures.get(key)
                self._failures[key] = _Failures(count=(entry.count if entry else 0) + 1, last=now)

    def succeeded(self, username: str, address: str | None) -> None:
        with self._lock:
            for key in self._keys(username, address):
                self._failures.pop(key, None)


@dataclass(frozen=True)
class SignedIn:
    """What a browser session keeps of a sign-in (never the password)."""

    username: str
    signed_in_at: datetime  # naive UTC, as the store keeps times
    last_seen: datetime


@dataclass(frozen=True)
class SignInResult:
    signed_in: SignedIn | None  # None: refused, and `message` says why
    message: str = ""


def _wait_message(seconds: float) -> str:
    whole = max(1, math.ceil(seconds))
    return f"Too many failed sign-ins: wait {whole} second{'s' if whole != 1 else ''} and try again."


def sign_in(store: Store, throttle: SignInThrottle, username: str, password: str, address: str | None) -> SignInResult:
    """Checks the password unless this username or address must wait; the same message for an unknown username,
    a wrong password and a deactivated account."""
    name = username.strip()
    waiting = throttle.wait_seconds(name, address)
    if waiting > 0:
        return SignInResult(None, _wait_message(waiting))
    account = check_password(store, name, password) if name and password else None
    if account is None:
        throttle.failed(name, address)
        return SignInResult(None, WRONG_CREDENTIALS)
    throttle.succeeded(name, address)
    stored.record_sign_in(store, account.username)
    now = utcnow()
    return SignInResult(SignedIn(username=account.username, signed_in_at=now, last_seen=now))


def idle_limit_from_env() -> timedelta:
    raw = os.environ.get("STUDIO_SESSION_IDLE_MINUTES", "").strip()
    minutes = float(raw) if raw.replace(".", "", 1).isdigit() and float(raw) > 0 else DEFAULT_IDLE_MINUTES
    return timedelta(minutes=minutes)


def session_actor(
    store: Store, session: SignedIn, *, idle_limit: timedelta, now: datetime | None = None
) -> tuple[Actor, SignedIn] | None:
    """The acting user of a signed-in session and the session seen now, or None when the session has ended: its
    account is gone or deactivated, its password changed after the sign-in, or it was idle too long."""
    moment = now or utcnow()
    if moment - session.last_seen > idle_limit:
        return None
    account = stored.find_account(store, session.username)
    if account is None or not account.active:
        return None
    if account.password_changed_at is not None and account.password_changed_at > session.signed_in_at:
        return None
    actor = Actor(store=store, user=account.username, role=account.role, team=True)
    return actor, replace(session, last_seen=moment)

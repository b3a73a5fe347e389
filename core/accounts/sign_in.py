"""Signing in to the studio in team mode, without a browser: the password check with its growing delay after
failed sign-ins, opening a stored session (core.accounts.sessions says how long it holds).

Failed sign-ins slow down per username and per client address: after n failures in a row the next try waits
2^(n-1) seconds, at most 30 s. A delay, never a lockout, so nobody can lock a colleague out by guessing. Every
refusal says the same thing whether or not the username exists.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from core.accounts.manage import check_password
from core.accounts.sessions import idle_limit_from_env as idle_limit_from_env
from core.accounts.sessions import start_session
from core.store.database import Store

WRONG_CREDENTIALS = "That username and password do not match."
MAX_DELAY_SECONDS = 30.0


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
    """A sign-in that just opened a stored session: the token is for the browser's cookie (never the password)."""

    username: str
    token: str
    expires_at: datetime  # naive UTC, as the store keeps times

    def __repr__(self) -> str:  # the token never shows in a log or a traceback
        return f"SignedIn(username={self.username!r}, expires_at={self.expires_at!r})"


@dataclass(frozen=True)
class SignInResult:
    signed_in: SignedIn | None  # None: refused, and `message` says why
    message: str = ""


def _wait_message(seconds: float) -> str:
    whole = max(1, math.ceil(seconds))
    return f"Too many failed sign-ins: wait {whole} second{'s' if whole != 1 else ''} and try again."


def sign_in(
    store: Store,
    throttle: SignInThrottle,
    username: str,
    password: str,
    address: str | None,
    *,
    user_agent: str | None = None,
) -> SignInResult:
    """Checks the password unless this username or address must wait, and opens a stored session; the same message
    for an unknown username, a wrong password and a deactivated account."""
    name = username.strip()
    waiting = throttle.wait_seconds(name, address)
    if waiting > 0:
        return SignInResult(None, _wait_message(waiting))
    account = check_password(store, name, password) if name and password else None
    if account is None:
        throttle.failed(name, address)
        return SignInResult(None, WRONG_CREDENTIALS)
    throttle.succeeded(name, address)
    opened = start_session(store, account, method="password", user_agent=user_agent)
    return SignInResult(SignedIn(username=opened.username, token=opened.token, expires_at=opened.expires_at))

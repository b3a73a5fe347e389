"""Signing in without a browser: the same refusal whatever was wrong, the growing delay per username and per
address, and a stored session that ends when its account is deactivated, its password changes or it sits idle."""

from __future__ import annotations

from datetime import timedelta

import pytest

from core.accounts.manage import create_account, deactivate, reset_password
from core.accounts.sessions import DEACTIVATED, IDLE, PASSWORD_CHANGED, check_session, token_hash
from core.accounts.sign_in import (
    MAX_DELAY_SECONDS,
    WRONG_CREDENTIALS,
    SignInThrottle,
    delay_after,
    sign_in,
)
from core.store import Store
from core.store.account_sessions import find_session
from core.store.accounts import find_account

PASSWORD = "correct horse battery"


class Clock:
    """A clock the test moves by hand (seconds)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def team(sqlite_store: Store) -> Store:
    create_account(sqlite_store, "olga", "owner", PASSWORD, display_name="Olga Owner")
    create_account(sqlite_store, "anna", "annotator", PASSWORD)
    return sqlite_store


def test_the_delay_doubles_and_stops_growing_at_thirty_seconds() -> None:
    assert [delay_after(n) for n in range(0, 8)] == [0.0, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0]
    assert delay_after(100) == MAX_DELAY_SECONDS


def test_a_right_password_signs_in_and_records_the_time(team: Store) -> None:
    result = sign_in(team, SignInThrottle(Clock()), " anna ", PASSWORD, "10.0.0.5")
    assert result.signed_in is not None and result.signed_in.username == "anna"
    account = find_account(team, "anna")
    assert account is not None and account.last_sign_in_at is not None


def test_unknown_user_wrong_password_and_deactivated_account_get_the_same_message(team: Store) -> None:
    deactivate(team, "anna")
    clock = Clock()
    throttle = SignInThrottle(clock)
    messages = []
    for address, (username, password) in enumerate(
        [("nobody", PASSWORD), ("olga", "wrong password"), ("anna", PASSWORD), ("", "")]
    ):
        result = sign_in(team, throttle, username, password, f"10.0.0.{address}")
        assert result.signed_in is None
        messages.append(result.message)
    assert messages == [WRONG_CREDENTIALS] * 4


def test_failures_slow_down_per_username_and_per_address(team: Store) -> None:
    clock = Clock()
    throttle = SignInThrottle(clock)
    assert sign_in(team, throttle, "olga", "wrong one", "10.0.0.1").message == WRONG_CREDENTIALS
    # the same username from elsewhere waits, even with the right password: nothing is checked while waiting
    waiting = sign_in(team, throttle, "olga", PASSWORD, "10.0.0.2")
    assert waiting.signed_in is None and "wait 1 second " in waiting.message
    # the same address with another name waits too
    assert "wait 1 second " in sign_in(team, throttle, "anna", PASSWORD, "10.0.0.1").message
    clock.now += 1.0
    assert sign_in(team, throttle, "olga", "wrong two", "10.0.0.1").message == WRONG_CREDENTIALS
    assert "wait 2 seconds" in sign_in(team, throttle, "olga", PASSWORD, "10.0.0.3").message
    clock.now += 2.0
    sign_in(team, throttle, "olga", "wrong three", "10.0.0.1")
    assert throttle.wait_seconds("olga", None) == 4.0
    for _ in range(10):  # never a lockout: at most 30 s
        clock.now += MAX_DELAY_SECONDS
        sign_in(team, throttle, "olga", "wrong again", "10.0.0.1")
    assert throttle.wait_seconds("olga", "10.0.0.9") == MAX_DELAY_SECONDS
    clock.now += MAX_DELAY_SECONDS
    assert sign_in(team, throttle, "olga", PASSWORD, "10.0.0.1").signed_in is not None
    assert throttle.wait_seconds("olga", "10.0.0.1") == 0.0  # a success forgets the failures


def test_a_session_ends_on_deactivation_password_change_and_idleness(team: Store) -> None:
    throttle = SignInThrottle(Clock())
    session = sign_in(team, throttle, "anna", PASSWORD, None).signed_in
    assert session is not None
    assert PASSWORD not in repr(session) and session.token not in repr(session)
    idle = timedelta(hours=1)
    found = check_session(team, session.token, idle_limit=idle)
    assert found.actor is not None
    assert (found.actor.user, found.actor.role, found.actor.team) == ("anna", "annotator", True)
    stored = find_session(team, token_hash(session.token))
    assert stored is not None
    later = stored.last_seen_at + timedelta(hours=2)
    assert check_session(team, session.token, idle_limit=idle, now=later).ended == IDLE

    again = sign_in(team, throttle, "anna", PASSWORD, None).signed_in
    assert again is not None
    reset_password(team, "anna", "another long password")
    assert check_session(team, again.token, idle_limit=idle).ended == PASSWORD_CHANGED
    newest = sign_in(team, throttle, "anna", "another long password", None).signed_in
    assert newest is not None and check_session(team, newest.token, idle_limit=idle).actor is not None

    create_account(team, "lena", "lead", PASSWORD)
    lena = sign_in(team, throttle, "lena", PASSWORD, None).signed_in
    assert lena is not None
    deactivate(team, "lena")
    assert check_session(team, lena.token, idle_limit=idle).ended == DEACTIVATED

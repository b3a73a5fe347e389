"""Stored sessions (team mode), on SQLite and PostgreSQL: the token is kept only as its sha256; a session holds until
it sits idle too long, reaches the end of its lifetime, signs out, or its account is deactivated or gets a new
password (then every session of that account ends at once); single sign-on opens the same kind of session for the
account with the provider's e-mail address, once per provider sign-in."""

from __future__ import annotations

import hashlib
import time
from datetime import timedelta
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import create_engine, inspect, select

from core.accounts.manage import create_account, deactivate, reactivate, reset_password, set_role
from core.accounts.sessions import (
    DEACTIVATED,
    EXPIRED,
    IDLE,
    PASSWORD_CHANGED,
    SIGNED_OUT,
    UNKNOWN,
    check_session,
    end_session,
    start_session,
    token_hash,
)
from core.accounts.sso import FRESH_FOR, login_key, sign_in_with_sso
from core.store import Store
from core.store.account_sessions import find_session, sessions_of
from core.store.accounts import Account, find_account
from core.store.database import alembic_config
from core.store.schema import AccountSessionRow, utcnow

IDLE_LIMIT = timedelta(hours=1)


def _account(store: Store, username: str, role: str = "annotator", email: str | None = None) -> Account:
    """A single sign-on account (no password: no slow hashing where the test does not need one)."""
    return create_account(store, username, role, None, email=email or f"{username}@example.org")


def _claims(email: str, *, seconds_ago: float = 5, **more: object) -> dict[str, object]:
    iat = int(time.time() - seconds_ago)
    return {"iss": "http://127.0.0.1:9", "sub": email, "iat": iat, "nonce": "n-" + str(iat), "email": email, **more}


def test_the_store_keeps_only_the_tokens_hash(store: Store) -> None:
    opened = start_session(store, _account(store, "anna"), user_agent="Firefox")
    assert len(opened.token) >= 43  # 32 random bytes
    assert opened.token not in repr(opened)
    with store.engine.connect() as connection:
        rows = [tuple(row) for row in connection.execute(select(AccountSessionRow.__table__))]
    assert len(rows) == 1 and not any(opened.token in str(value) for value in rows[0])
    stored = find_session(store, hashlib.sha256(opened.token.encode()).hexdigest())
    assert stored is not None and stored.username == "anna" and stored.method == "password"
    assert stored.user_agent == "Firefox" and stored.ended_at is None
    assert stored.expires_at - stored.created_at == timedelta(days=7)
    account = find_account(store, "anna")
    assert account is not None and account.last_sign_in_at is not None


def test_a_session_finds_its_account_and_an_unknown_token_nothing(store: Store) -> None:
    opened = start_session(store, _account(store, "lena", role="lead"))
    check = check_session(store, opened.token, idle_limit=IDLE_LIMIT)
    assert check.actor is not None and (check.actor.user, check.actor.role, check.actor.team) == ("lena", "lead", True)
    set_role(store, "lena", "viewer")  # the role is read at every check
    assert check_session(store, opened.token, idle_limit=IDLE_LIMIT).actor.role == "viewer"
    assert check_session(store, opened.token + "x", idle_limit=IDLE_LIMIT).ended == UNKNOWN
    assert check_session(store, "", idle_limit=IDLE_LIMIT).ended == UNKNOWN


def test_last_seen_is_written_at_most_once_a_minute_and_idleness_ends_the_session(store: Store) -> None:
    opened = start_session(store, _account(store, "anna"))
    created = find_session(store, token_hash(opened.token))
    assert created is not None
    start = created.last_seen_at
    assert check_session(store, opened.token, idle_limit=IDLE_LIMIT, now=start + timedelta(seconds=30)).actor
    assert find_session(store, token_hash(opened.token)).last_seen_at == start
    assert check_session(store, opened.token, idle_limit=IDLE_LIMIT, now=start + timedelta(minutes=50)).actor
    seen = start + timedelta(minutes=50)
    assert find_session(store, token_hash(opened.token)).last_seen_at == seen
    # 50 minutes more: still within the hour since it was last seen
    assert check_session(store, opened.token, idle_limit=IDLE_LIMIT, now=seen + timedelta(minutes=50)).actor
    seen += timedelta(minutes=50)
    idle = check_session(store, opened.token, idle_limit=IDLE_LIMIT, now=seen + timedelta(minutes=61))
    assert (idle.actor, idle.ended) == (None, IDLE)
    ended = find_session(store, token_hash(opened.token))
    assert ended is not None and ended.ended_reason == IDLE and ended.ended_at is not None
    assert check_session(store, opened.token, idle_limit=IDLE_LIMIT).ended == IDLE  # ended stays ended


def test_a_session_ends_at_the_end_of_its_lifetime_however_busy(store: Store) -> None:
    anna = _account(store, "anna")
    now = utcnow()
    opened = start_session(store, anna, lifetime=timedelta(hours=3), now=now)
    for minutes in range(0, 180, 30):  # busy all along
        assert check_session(store, opened.token, idle_limit=IDLE_LIMIT, now=now + timedelta(minutes=minutes)).actor
    assert check_session(store, opened.token, idle_limit=IDLE_LIMIT, now=now + timedelta(hours=3)).ended == EXPIRED


def test_sign_out_ends_one_session_only(store: Store) -> None:
    anna = _account(store, "anna")
    laptop, phone = start_session(store, anna), start_session(store, anna)
    assert end_session(store, laptop.token)
    assert not end_session(store, laptop.token)  # once
    assert check_session(store, laptop.token, idle_limit=IDLE_LIMIT).ended == SIGNED_OUT
    assert check_session(store, phone.token, idle_limit=IDLE_LIMIT).actor is not None


def test_deactivation_ends_every_session_of_the_account_and_reactivation_reopens_none(store: Store) -> None:
    anna, olga = _account(store, "anna"), _account(store, "olga", role="owner")
    sessions = [start_session(store, anna) for _ in range(3)]
    owner = start_session(store, olga)
    deactivate(store, "anna")
    assert [s.ended_reason for s in sessions_of(store, anna.id)] == [DEACTIVATED] * 3
    reactivate(store, "anna")
    assert {check_session(store, s.token, idle_limit=IDLE_LIMIT).ended for s in sessions} == {DEACTIVATED}
    assert check_session(store, owner.token, idle_limit=IDLE_LIMIT).actor is not None


def test_a_new_password_ends_every_session_signed_in_before(store: Store) -> None:
    anna = _account(store, "anna")
    before = [start_session(store, anna), start_session(store, anna)]
    reset_password(store, "anna", "a brand new password")
    assert {check_session(store, s.token, idle_limit=IDLE_LIMIT).ended for s in before} == {PASSWORD_CHANGED}
    after = start_session(store, anna)
    assert check_session(store, after.token, idle_limit=IDLE_LIMIT).actor is not None


def test_single_sign_on_opens_a_session_for_the_account_with_that_e_mail_address_once(store: Store) -> None:
    anna = _account(store, "anna", email="Anna.K@Example.org")
    claims = _claims("anna.k@example.org")
    result = sign_in_with_sso(store, claims, user_agent="Chromium")
    assert result.signed_in is not None and result.signed_in.username == "anna"
    check = check_session(store, result.signed_in.token, idle_limit=IDLE_LIMIT)
    assert check.actor is not None and check.actor.user == "anna"
    [stored] = sessions_of(store, anna.id)
    assert (stored.method, stored.user_agent) == ("sso", "Chromium")

    # the same provider sign-in cannot open a second session (a sign-out or an idle end stays final)
    end_session(store, result.signed_in.token)
    assert sign_in_with_sso(store, claims).signed_in is None
    # a new sign-in at the provider opens a new one, and deactivation ends it like any other
    fresh = sign_in_with_sso(store, _claims("anna.k@example.org", seconds_ago=1, nonce="other"))
    assert fresh.signed_in is not None
    deactivate(store, "anna")
    assert check_session(store, fresh.signed_in.token, idle_limit=IDLE_LIMIT).ended == DEACTIVATED


def test_single_sign_on_refuses_with_a_reason_and_ignores_an_old_identity(store: Store) -> None:
    _account(store, "anna", email="anna@example.org")
    _account(store, "olga", role="owner", email="olga@example.org")
    deactivate(store, "anna")
    for claims, words in [
        (_claims("nobody@example.org"), "No active account of this studio has the e-mail address nobody@example.org"),
        (_claims("anna@example.org"), "No active account of this studio has the e-mail address anna@example.org"),
        (_claims("olga@example.org", email_verified=False), "has not verified the e-mail address olga@example.org"),
        ({**_claims("x"), "email": ""}, "did not share your e-mail address"),
        ({k: v for k, v in _claims("olga@example.org").items() if k != "iat"}, "did not say when you signed in"),
    ]:
        result = sign_in_with_sso(store, claims)
        assert result.signed_in is None and words in result.message
    stale = _claims("olga@example.org", seconds_ago=FRESH_FOR.total_seconds() + 60)
    assert sign_in_with_sso(store, stale) == sign_in_with_sso(store, stale)  # nothing, and nothing to say
    assert sign_in_with_sso(store, stale).signed_in is None and sign_in_with_sso(store, stale).message == ""
    assert login_key(stale) != login_key(_claims("olga@example.org"))
    olga = find_account(store, "olga")
    assert olga is not None and sessions_of(store, olga.id) == []


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_the_sessions_migration_adds_its_table_to_an_older_store(
    backend: str, studio_home: Path, request: pytest.FixtureRequest
) -> None:
    studio_home.mkdir(parents=True, exist_ok=True)
    url = f"sqlite:///{studio_home / 'old.db'}" if backend == "sqlite" else request.getfixturevalue("postgres_url")
    engine = create_engine(url)
    with engine.begin() as connection:
        config = alembic_config(url)
        config.attributes["connection"] = connection
        command.upgrade(config, "0009")
    assert "account_sessions" not in inspect(engine).get_table_names()
    engine.dispose()

    store = Store(url, "tester")  # opening the store migrates
    inspector = inspect(store.engine)
    assert {c["name"] for c in inspector.get_columns("account_sessions")} == set(
        AccountSessionRow.__table__.columns.keys()
    )
    opened = start_session(store, _account(store, "anna"))
    assert check_session(store, opened.token, idle_limit=IDLE_LIMIT).actor is not None
    store.dispose()

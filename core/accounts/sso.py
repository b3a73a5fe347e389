"""Single sign-on (optional, team mode): Streamlit's `st.login` signs the visitor in at an OpenID Connect provider
configured under `[auth]` in `.streamlit/secrets.toml`; this turns the identity it hands over (the ID token's claims)
into a stored session of the active account with that e-mail address, so the same lifetime, idle limit, sign-out and
deactivation rules hold as for a password sign-in.

An identity opens one session at most, and only while it is fresh (signed at the provider in the last minutes): the
browser keeps the provider's identity for weeks, and a sign-out, an idle session or a deactivation must not be undone
by it. Signing in with single sign-on again gives a new identity.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.exc import IntegrityError

from core.accounts.sessions import start_session
from core.accounts.sign_in import SignedIn
from core.store import account_sessions as stored_sessions
from core.store import accounts as stored_accounts
from core.store.database import Store
from core.store.schema import utcnow

FRESH_FOR = timedelta(minutes=10)
CLOCK_SKEW = timedelta(minutes=5)


@dataclass(frozen=True)
class SsoResult:
    """What an identity gave: a sign-in, or nothing and why (`message` empty: an identity used or stale already,
    nothing to tell the visitor; the sign-in form shows as usual)."""

    signed_in: SignedIn | None
    message: str = ""


def login_key(claims: Mapping[str, object]) -> str:
    """One provider sign-in: its issuer, subject, time and nonce, hashed."""
    parts = [str(claims.get(name, "")) for name in ("iss", "sub", "iat", "nonce")]
    return hashlib.sha256(json.dumps(parts).encode("utf-8")).hexdigest()


def _signed_at(claims: Mapping[str, object]) -> datetime | None:
    iat = claims.get("iat")
    if isinstance(iat, bool) or not isinstance(iat, int | float):
        return None
    return datetime.fromtimestamp(iat, UTC).replace(tzinfo=None)


def no_account_message(email: str) -> str:
    return (
        f"No active account of this studio has the e-mail address {email}. Ask an owner to add you (or to "
        "reactivate your account), or sign in with a username and password."
    )


def sign_in_with_sso(
    store: Store, claims: Mapping[str, object], *, user_agent: str | None = None, now: datetime | None = None
) -> SsoResult:
    """A stored session for the active account whose e-mail address the provider vouches for, or why not."""
    moment = now or utcnow()
    signed_at = _signed_at(claims)
    if signed_at is None:
        return SsoResult(
            None, "The single sign-on provider did not say when you signed in, so the studio cannot use it."
        )
    if not moment - FRESH_FOR <= signed_at <= moment + CLOCK_SKEW:
        return SsoResult(None)
    key = login_key(claims)
    if stored_sessions.sso_login_used(store, key):
        return SsoResult(None)
    email = claims.get("email")
    if not isinstance(email, str) or not email.strip():
        return SsoResult(
            None, "The single sign-on provider did not share your e-mail address, so no account can be matched."
        )
    if claims.get("email_verified") is False:
        return SsoResult(None, f"The single sign-on provider has not verified the e-mail address {email.strip()}.")
    account = stored_accounts.find_account_by_email(store, email.strip())
    if account is None or not account.active:
        return SsoResult(None, no_account_message(email.strip()))
    try:
        opened = start_session(store, account, method="sso", user_agent=user_agent, sso_login=key, now=moment)
    except IntegrityError:  # the same identity opened a session at this very moment elsewhere
        return SsoResult(None)
    return SsoResult(SignedIn(username=opened.username, token=opened.token, expires_at=opened.expires_at))

"""The sign-in gate of team mode, the one code path for app.py and for a page run on its own (a deep link).

In personal mode (no account) it does nothing. In team mode a browser that holds no open session sees only the
sign-in form. A sign-in opens a session in the store (core.accounts.sessions) whose random token the browser keeps
in a cookie (set and deleted with extra-streamlit-components' CookieManager, read at each run from
`st.context.cookies`), so a reload, a new tab and a deep link find it until it ends. The store is the truth: every
rerun checks the session there, and a sign-out, a deactivation, a password change, the idle limit or the end of its
lifetime ends it for every tab.

`st.context.cookies` are the cookies the browser sent when this tab connected; once this tab signs in or out, the
token it holds in `st.session_state` is the one that counts.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass
from datetime import UTC, datetime

import extra_streamlit_components as stx
import streamlit as st
from streamlit.errors import StreamlitSecretNotFoundError
from streamlit.navigation.page import StreamlitPage

from components.safe_text import md
from core.front.accounts import (
    SignedIn,
    SignInThrottle,
    check_session,
    end_session,
    find_account,
    idle_limit_from_env,
    sign_in,
    sign_in_with_sso,
    team_mode,
)
from core.front.actor import Actor, Store

COOKIE = "studio_session"
TOKEN_KEY = "_studio_session_token"  # this tab's session token
COOKIE_STALE_KEY = "_studio_cookie_stale"  # this tab signed in or out since it connected: its request cookie is old
ENDED_KEY = "_studio_session_ended"
COOKIE_CHANGE_KEY = "_studio_cookie_change"  # what the browser's cookie must become, until the browser says done


@dataclass(frozen=True)
class _CookieChange:
    serial: int
    token: str | None  # None: delete the cookie
    expires_at: datetime | None = None  # naive UTC

    def __repr__(self) -> str:
        return f"_CookieChange(serial={self.serial}, set={self.token is not None})"


@st.cache_resource
def _throttle(database_url: str) -> SignInThrottle:
    """Failed sign-ins of this server process, per store."""
    return SignInThrottle(time.monotonic)


def _change_cookie(token: str | None, expires_at: datetime | None = None) -> None:
    before = st.session_state.get(COOKIE_CHANGE_KEY)
    serial = before.serial + 1 if isinstance(before, _CookieChange) else 1
    st.session_state[COOKIE_CHANGE_KEY] = _CookieChange(serial, token, expires_at)
    st.session_state[COOKIE_STALE_KEY] = True


def sync_cookie() -> None:
    """Sends a waiting change of the session cookie to the browser, once a run until the browser has made it.
    Call once a run (app.py does), before the page: it draws nothing visible."""
    change = st.session_state.get(COOKIE_CHANGE_KEY)
    if not isinstance(change, _CookieChange):
        return
    key = f"_studio_cookie_{change.serial}"
    manager = stx.CookieManager(key="_studio_cookies")
    if change.token is not None and change.expires_at is not None:
        expires = change.expires_at.replace(tzinfo=UTC)
        manager.set(
            COOKIE,
            change.token,
            key=key,
            path="/",
            expires_at=expires,
            max_age=max(0.0, (expires - datetime.now(UTC)).total_seconds()),
            secure=(st.context.url or "").startswith("https://"),
            same_site="strict",
        )
    else:
        with contextlib.suppress(KeyError):  # the manager forgets a cookie it never read: the browser deletes it
            manager.delete(COOKIE, key=key)
    if st.session_state.get(key):  # the browser made the change
        del st.session_state[COOKIE_CHANGE_KEY]


def _session_token() -> str | None:
    token = st.session_state.get(TOKEN_KEY)
    if isinstance(token, str):
        return token
    if st.session_state.get(COOKIE_STALE_KEY):
        return None
    cookie = st.context.cookies.get(COOKIE)
    return cookie if isinstance(cookie, str) and cookie else None


def signed_in_actor(store: Store) -> Actor | None:
    """The signed-in account acting in this browser, or None; a session that ended (deactivated account, changed
    password, idle too long, lifetime over, signed out elsewhere) is forgotten here and its cookie deleted."""
    token = _session_token()
    if token is None:
        return None
    check = check_session(store, token, idle_limit=idle_limit_from_env())
    if check.actor is None:
        st.session_state.pop(TOKEN_KEY, None)
        st.session_state[ENDED_KEY] = True
        _change_cookie(None)
        return None
    st.session_state[TOKEN_KEY] = token
    return check.actor


def _signed_in(signed_in: SignedIn) -> None:
    st.session_state[TOKEN_KEY] = signed_in.token
    st.session_state.pop(ENDED_KEY, None)
    _change_cookie(signed_in.token, signed_in.expires_at)


def sign_out(store: Store) -> None:
    token = st.session_state.pop(TOKEN_KEY, None)
    if isinstance(token, str):
        end_session(store, token)
    _change_cookie(None)


def _client_address() -> str | None:
    """The visitor's address as the server sees it (None on this machine; behind a proxy, the proxy's address)."""
    address = st.context.ip_address
    return address if isinstance(address, str) else None


def _user_agent() -> str | None:
    agent = st.context.headers.get("User-Agent")
    return agent if isinstance(agent, str) else None


def sso_configured() -> bool:
    """Single sign-on is offered when `.streamlit/secrets.toml` has an `[auth]` section (Streamlit's st.login)."""
    try:
        return "auth" in st.secrets
    except StreamlitSecretNotFoundError:
        return False


def _single_sign_on(store: Store) -> None:
    """The single sign-on part of the form: back from the provider, the identity becomes a stored session of the
    account with its e-mail address; otherwise a button that goes to the provider."""
    if st.user.is_logged_in:
        result = sign_in_with_sso(store, st.user.to_dict(), user_agent=_user_agent())
        if result.signed_in is not None:
            _signed_in(result.signed_in)
            st.rerun()
        if result.message:
            st.error(md(result.message), icon=":material/lock:")
            st.button("Sign out of single sign-on", key="_studio_sso_sign_out", on_click=st.logout)
    st.button("Sign in with single sign-on", key="_studio_sso", icon=":material/key:", on_click=st.login)
    st.caption("Or with a username and password:")


def sign_in_form(store: Store) -> None:
    """The form, and what a try gives: the studio itself, or one message that never says whether the name exists."""
    st.title("Sign in to Distill Studio")
    if st.session_state.get(ENDED_KEY):  # kept over the reruns the cookie's deletion brings, until a new try
        st.info("Your session has ended: sign in again.", icon=":material/logout:")
    if sso_configured():
        _single_sign_on(store)
    with st.form("sign_in"):
        username = st.text_input("Username", autocomplete="username")
        password = st.text_input("Password", type="password", autocomplete="current-password")
        submitted = st.form_submit_button("Sign in", type="primary")
    if not submitted:
        return
    st.session_state.pop(ENDED_KEY, None)
    result = sign_in(store, _throttle(store.url), username, password, _client_address(), user_agent=_user_agent())
    if result.signed_in is None:
        st.error(result.message, icon=":material/lock:")
        return
    _signed_in(result.signed_in)
    st.rerun()  # the same page, now through the studio's navigation: a deep link lands where it pointed


def require_sign_in(store: Store) -> None:
    """Personal mode: nothing. Team mode without an open session in this browser: the sign-in form, and the run
    stops."""
    if team_mode(store) and signed_in_actor(store) is None:
        sign_in_form(store)
        st.stop()


def sign_in_page(store: Store, pages: list[StreamlitPage]) -> None:
    """app.py's whole navigation while nobody is signed in: the form at the URL of every page of the studio, so a
    deep link (/curate?project=3) keeps its path and query while the visitor signs in, and the rerun after the
    sign-in runs that page (a page is known by its URL path)."""
    doors = [
        st.Page(
            lambda: sign_in_form(store),
            title="Sign in",
            url_path=page.url_path or "sign-in",
            default=not page.url_path,  # the default page: its URL is the root
        )
        for page in pages
        if not page.is_external
    ]
    st.navigation(doors, position="hidden").run()
    st.stop()


def account_box(store: Store, actor: Actor) -> None:
    """The sidebar's signed-in account (team mode): display name, role and a sign-out button."""
    if not actor.team:
        return
    account = find_account(actor.store, actor.user)
    name = account.display_name if account is not None else actor.user
    st.sidebar.markdown(f"Signed in as **{md(name)}**  \nRole: {actor.role}")
    st.sidebar.button("Sign out", icon=":material/logout:", key="_studio_sign_out", on_click=sign_out, args=(store,))

"""The sign-in gate of team mode, the one code path for app.py and for a page run on its own (a deep link).

In personal mode (no account) it does nothing. In team mode a browser session that has not signed in sees only the
sign-in form; after the sign-in, the session holds the account's name and sign-in time (never the password) in
`st.session_state`, and every rerun checks that the account is still active, its password unchanged since and the
session not idle too long. Streamlit 1.67 has no public way to set a cookie from Python, so a sign-in lasts for the
browser tab's session: reruns and page switches, not a reload or a new tab.
"""

from __future__ import annotations

import time

import streamlit as st

from components.safe_text import md
from core.front.actor import Actor, Store
from core.front.signing_in import (
    SignedIn,
    SignInThrottle,
    find_account,
    idle_limit_from_env,
    session_actor,
    sign_in,
    team_mode,
)

SESSION_KEY = "_studio_signed_in"
ENDED_KEY = "_studio_session_ended"


@st.cache_resource
def _throttle(database_url: str) -> SignInThrottle:
    """Failed sign-ins of this server process, per store."""
    return SignInThrottle(time.monotonic)


def signed_in_actor(store: Store) -> Actor | None:
    """The signed-in account acting in this browser session, or None; a session whose account was deactivated,
    whose password changed since or that sat idle too long ends here."""
    session = st.session_state.get(SESSION_KEY)
    if not isinstance(session, SignedIn):
        return None
    found = session_actor(store, session, idle_limit=idle_limit_from_env())
    if found is None:
        del st.session_state[SESSION_KEY]
        st.session_state[ENDED_KEY] = True
        return None
    actor, seen = found
    st.session_state[SESSION_KEY] = seen
    return actor


def _client_address() -> str | None:
    """The visitor's address as the server sees it (None on this machine; behind a proxy, the proxy's address)."""
    address = st.context.ip_address
    return address if isinstance(address, str) else None


def sign_out() -> None:
    st.session_state.pop(SESSION_KEY, None)


def sign_in_form(store: Store) -> None:
    """The form, and what a try gives: the studio itself, or one message that never says whether the name exists."""
    st.title("Sign in to Distill Studio")
    if st.session_state.pop(ENDED_KEY, False):
        st.info("Your session has ended: sign in again.", icon=":material/logout:")
    with st.form("sign_in"):
        username = st.text_input("Username", autocomplete="username")
        password = st.text_input("Password", type="password", autocomplete="current-password")
        submitted = st.form_submit_button("Sign in", type="primary")
    if not submitted:
        return
    result = sign_in(store, _throttle(store.url), username, password, _client_address())
    if result.signed_in is None:
        st.error(result.message, icon=":material/lock:")
        return
    st.session_state[SESSION_KEY] = result.signed_in
    st.rerun()


def require_sign_in(store: Store) -> None:
    """Personal mode: nothing. Team mode without a sign-in in this session: the sign-in form, and the run stops."""
    if team_mode(store) and signed_in_actor(store) is None:
        sign_in_form(store)
        st.stop()


def sign_in_page(store: Store) -> None:
    """app.py's whole navigation while nobody is signed in: one page, the form (every URL lands on it)."""
    st.navigation([st.Page(lambda: sign_in_form(store), title="Sign in", url_path="sign-in", default=True)]).run()
    st.stop()


def account_box(actor: Actor) -> None:
    """The sidebar's signed-in account (team mode): display name, role and a sign-out button."""
    if not actor.team:
        return
    account = find_account(actor.store, actor.user)
    name = account.display_name if account is not None else actor.user
    st.sidebar.markdown(f"Signed in as **{md(name)}**  \nRole: {actor.role}")
    st.sidebar.button("Sign out", icon=":material/logout:", key="_studio_sign_out", on_click=sign_out)

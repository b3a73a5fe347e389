"""Team mode's sign-in in a real browser against a real studio server: the session lives in a cookie that holds only
a random token (the store has its sha256), so it survives a reload, a new tab and a deep link; a deep link followed
before signing in lands on its page after; signing out or deactivating the account ends it; single sign-on through a
real OpenID Connect provider on 127.0.0.1 (oidc-provider-mock) opens the same kind of session for the account with
the provider's e-mail address."""

from __future__ import annotations

import contextlib
import hashlib
import re
import secrets
import threading
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from core.accounts.manage import create_account, deactivate
from core.front.actor import Actor
from core.front.projects import create_project, parse_spec
from core.store import Store, open_store
from core.store.account_sessions import find_session, sessions_of
from core.store.accounts import find_account
from tests.browser_support import IDLE, free_port, launch_browser, running_studio

pytestmark = [pytest.mark.e2e]

playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect

PASSWORD = "a long enough password"
COOKIE = "studio_session"
FORM_TITLE = "Sign in to Distill Studio"


@pytest.fixture
def browser() -> Iterator[Any]:
    with launch_browser() as browser:
        yield browser


@pytest.fixture
def team(studio_home: Path) -> Iterator[Store]:
    store = open_store()
    create_account(store, "olga", "owner", PASSWORD, display_name="Olga Owner")
    create_account(store, "anna", "annotator", PASSWORD, display_name="Anna Annotator")
    yield store
    store.dispose()


def _idle(page: Any) -> None:
    page.wait_for_selector(IDLE, timeout=60_000)


def _the_form(page: Any) -> None:
    expect(page.get_by_role("heading", name=FORM_TITLE)).to_be_visible(timeout=30_000)
    expect(page.get_by_test_id("stSidebar")).to_have_count(0)


def _signed_in_as(page: Any, name: str) -> None:
    expect(page.get_by_test_id("stSidebar").get_by_text(f"Signed in as {name}")).to_be_visible(timeout=30_000)
    _idle(page)


def _sign_in(page: Any, username: str) -> None:
    _the_form(page)
    _idle(page)
    page.get_by_label("Username", exact=True).fill(username)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign in", exact=True).click()


def _session_cookie(context: Any) -> dict[str, Any] | None:
    return next((cookie for cookie in context.cookies() if cookie["name"] == COOKIE), None)


def _stored_hash(cookie: dict[str, Any]) -> str:
    return hashlib.sha256(cookie["value"].encode()).hexdigest()


def _wait_for_cookie(context: Any, present: bool) -> dict[str, Any] | None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        cookie = _session_cookie(context)
        if (cookie is not None) == present:
            return cookie
        time.sleep(0.1)
    raise AssertionError(f"the session cookie is {'missing' if present else 'still there'}")


def test_a_sign_in_survives_a_reload_a_new_tab_and_a_deep_link(team: Store, browser: Any, studio_home: Path) -> None:
    project = create_project(
        Actor(team, "olga", "owner", team=True),
        parse_spec(name="crops", labels=[{"name": "weather"}, {"name": "pests"}], languages=[{"code": "en"}]),
    )
    with running_studio(studio_home, demo=False) as url:
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        page = context.new_page()
        # a deep link before signing in: the form, at that URL; after the sign-in, that page with its project
        page.goto(f"{url}/data?project={project.id}")
        _sign_in(page, "olga")
        _signed_in_as(page, "Olga Owner")
        expect(page.get_by_role("heading", name="Data", exact=True)).to_be_visible()
        assert re.search(rf"/data\?project={project.id}$", page.url), page.url

        cookie = _wait_for_cookie(context, present=True)
        assert cookie is not None
        assert (cookie["path"], cookie["sameSite"], cookie["secure"]) == ("/", "Strict", False)
        assert PASSWORD not in cookie["value"] and cookie["value"] not in page.url
        lifetime = cookie["expires"] - time.time()
        assert 6.9 * 86400 < lifetime <= 7 * 86400  # the session's lifetime, 7 days by default
        stored = find_session(team, _stored_hash(cookie))
        assert stored is not None and stored.username == "olga" and stored.ended_at is None

        page.reload()  # a reload keeps the sign-in
        _signed_in_as(page, "Olga Owner")
        expect(page.get_by_role("heading", name="Data", exact=True)).to_be_visible()

        tab = context.new_page()  # a new tab of the same browser, at another deep link
        tab.goto(f"{url}/jobs")
        _signed_in_as(tab, "Olga Owner")
        expect(tab.get_by_role("heading", name="Jobs", exact=True)).to_be_visible()

        # signing out ends the stored session and deletes the cookie: a reload shows the form, with nothing ended
        page.get_by_role("button", name="Sign out").click()
        _the_form(page)
        _wait_for_cookie(context, present=False)
        ended = find_session(team, _stored_hash(cookie))
        assert ended is not None and ended.ended_reason == "signed out"
        page.reload()
        _the_form(page)
        _idle(page)
        expect(page.get_by_text("Your session has ended")).to_have_count(0)
        # the other tab's session was the same one: its next interaction shows the form
        tab.get_by_test_id("stSidebarNav").get_by_text("Projects").click()
        _the_form(tab)
        expect(tab.get_by_text("Your session has ended")).to_be_visible()


def test_deactivating_the_account_ends_its_session_at_the_next_interaction(
    team: Store, browser: Any, studio_home: Path
) -> None:
    with running_studio(studio_home, demo=False) as url:
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        page = context.new_page()
        page.goto(url)
        _sign_in(page, "anna")
        _signed_in_as(page, "Anna Annotator")
        _wait_for_cookie(context, present=True)

        deactivate(team, "anna")  # an owner, elsewhere (the Team page, the CLI): core ends every session of anna
        # the next run ends it: a click, or the rerun the cookie component still asks for after setting the cookie
        # (that one can come first and take the sidebar away before the click lands)
        with contextlib.suppress(playwright_api.TimeoutError):
            page.get_by_test_id("stSidebarNav").get_by_text("Jobs").click(timeout=10_000)
        _the_form(page)
        # (.first: while the cookie's deletion reruns the page, the last run's copy may still be on screen)
        expect(page.get_by_text("Your session has ended: sign in again.").first).to_be_visible()
        _wait_for_cookie(context, present=False)
        page.reload()  # no cookie left: the form again
        _the_form(page)


# --- single sign-on against a real OpenID Connect provider on 127.0.0.1 ----------------------------------------------


@pytest.fixture
def provider() -> Iterator[str]:
    """oidc-provider-mock's provider, served by werkzeug on a free port of 127.0.0.1: its authorize page asks for
    the subject, which becomes the `email` claim too."""
    with warnings.catch_warnings(record=True):  # it imports Authlib's deprecated jose module (Authlib forces "always")
        oidc_provider_mock = pytest.importorskip("oidc_provider_mock")
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", free_port(), oidc_provider_mock.app(), threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(5)


def _sso_settings(home: Path, provider: str) -> dict[str, str]:
    """A secrets.toml with [auth] for the studio server (Streamlit fills in its own port)."""
    secrets_file = home / "sso" / "secrets.toml"
    secrets_file.parent.mkdir(parents=True, exist_ok=True)
    secrets_file.write_text(
        "[auth]\n"
        'redirect_uri = "http://127.0.0.1:{port}/oauth2callback"\n'
        f'cookie_secret = "{secrets.token_urlsafe(32)}"\n'
        'client_id = "distill-studio"\n'
        'client_secret = "not-a-real-secret"\n'
        f'server_metadata_url = "{provider}/.well-known/openid-configuration"\n',
        encoding="utf-8",
    )
    return {"STREAMLIT_SECRETS_FILES": str(secrets_file)}


def _through_the_provider(page: Any, email: str) -> None:
    page.get_by_role("button", name="Sign in with single sign-on").click()
    page.wait_for_url(re.compile(r"/oauth2/authorize"), timeout=30_000)
    page.locator('input[name="sub"]').fill(email)
    page.get_by_role("button", name="Authorize").click()


def test_single_sign_on_through_a_real_provider(team: Store, browser: Any, studio_home: Path, provider: str) -> None:
    create_account(team, "sso-lena", "lead", None, display_name="Lena SSO", email="Lena@Example.org")
    with running_studio(studio_home, demo=False, extra_env=_sso_settings(studio_home, provider)) as url:
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        page = context.new_page()
        page.goto(url)
        _the_form(page)
        _through_the_provider(page, "lena@example.org")
        _signed_in_as(page, "Lena SSO")
        cookie = _wait_for_cookie(context, present=True)
        assert cookie is not None
        lena = find_account(team, "sso-lena")
        assert lena is not None
        [stored] = sessions_of(team, lena.id)
        assert stored.method == "sso" and find_session(team, _stored_hash(cookie)) == stored

        page.reload()  # the same stored session as a password sign-in: it survives a reload...
        _signed_in_as(page, "Lena SSO")
        page.get_by_role("button", name="Sign out").click()  # ...and a sign-out is final, though the provider
        _the_form(page)  # still knows the browser: the identity it gave opens no second session
        page.reload()
        _the_form(page)
        _idle(page)
        expect(page.get_by_text("Signed in as")).to_have_count(0)

        # an identity with no active account: a clear message, and a way to sign out of single sign-on
        stranger = browser.new_context().new_page()
        stranger.goto(url)
        _the_form(stranger)
        _through_the_provider(stranger, "nobody@example.org")
        expect(
            stranger.get_by_text(re.compile("No active account of this studio has the e-mail address"))
        ).to_be_visible(timeout=30_000)
        expect(stranger.get_by_role("button", name="Sign out of single sign-on")).to_be_visible()
        expect(stranger.get_by_test_id("stSidebar")).to_have_count(0)

"""Team mode in the pages (AppTest, real SQLite): with one account, every page URL shows only the sign-in form until
the browser session signs in; a failed sign-in says the same thing whatever was wrong and slows the next try down;
the signed-in account's role shows in the sidebar; a deep link followed before signing in lands on its page after."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from streamlit import config as st_config
from streamlit.testing.v1 import AppTest

from components.sign_in import _throttle
from core.accounts.manage import create_account, deactivate
from core.accounts.sign_in import WRONG_CREDENTIALS
from core.settings import get_settings
from core.store import open_store
from core.store.projects import list_projects
from tests.page_text import texts

ROOT = Path(__file__).resolve().parents[2]
PAGES = ["projects", "data", "prompts", "generate", "curate", "train", "evaluate", "jobs", "settings"]
PASSWORD = "a long enough password"
SIGN_IN_TITLE = "Sign in to Distill Studio"
SUBMIT = "FormSubmitter:sign_in-Sign in"


@pytest.fixture
def team(studio_home: Path) -> None:
    store = open_store()
    create_account(store, "olga", "owner", PASSWORD, display_name="Olga Owner")
    create_account(store, "anna", "annotator", PASSWORD, display_name="Anna Annotator")


def _only_the_form(at: AppTest) -> None:
    assert not at.exception, at.exception
    assert [t.value for t in at.title] == [SIGN_IN_TITLE]
    assert [t.label for t in at.text_input] == ["Username", "Password"]
    assert len(at.selectbox) == 0 and len(at.sidebar) == 0
    assert [b.label for b in at.button] == ["Sign in"]


def _sign_in(at: AppTest, username: str, password: str) -> AppTest:
    at.text_input[0].input(username)
    at.text_input[1].input(password)
    at.button(key=SUBMIT).click().run()
    assert not at.exception, at.exception
    return at


def test_every_page_url_shows_only_the_sign_in_form(team: None) -> None:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.run()
    _only_the_form(at)
    for page in PAGES:  # a deep link, as a new browser session gets it
        fresh = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
        fresh.switch_page(f"pages/{page}.py").run()
        _only_the_form(fresh)


@pytest.mark.parametrize("page", ["generate", "settings"])
def test_a_page_run_on_its_own_shows_only_the_sign_in_form(team: None, page: str) -> None:
    at = AppTest.from_file(str(ROOT / "pages" / f"{page}.py"), default_timeout=60)
    at.run()
    _only_the_form(at)


def test_a_wrong_password_gets_the_message_and_a_growing_delay(team: None) -> None:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.run()
    assert texts(_sign_in(at, "olga", "not the password").error) == WRONG_CREDENTIALS
    throttle = _throttle(get_settings().database_url)  # this server process's failed sign-ins
    assert 0 < throttle.wait_seconds("olga", "elsewhere") <= 1
    for _ in range(4):  # more failures, as fast as the delay lets them come: the wait doubles each time
        throttle.failed("olga", None)
    assert throttle.wait_seconds("olga", "elsewhere") > 8

    other = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    other.run()
    waiting = texts(_sign_in(other, "olga", PASSWORD).error)  # the right password, too soon: no entry
    assert "Too many failed sign-ins: wait 1" in waiting and "seconds and try again" in waiting
    _only_the_form(other)
    # the same address asking for a name that does not exist waits just the same
    assert "Too many failed sign-ins" in texts(_sign_in(other, "nobody", PASSWORD).error)


def test_an_unknown_user_gets_the_same_message(team: None) -> None:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.run()
    assert texts(_sign_in(at, "nobody", PASSWORD).error) == WRONG_CREDENTIALS


def test_sign_in_as_an_annotator_shows_the_role_and_only_what_the_role_may_do(team: None) -> None:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.run()
    _sign_in(at, "anna", PASSWORD)
    assert [t.value for t in at.title] == ["Projects"]
    sidebar = texts(at.sidebar.markdown)
    assert "Anna Annotator" in sidebar and "annotator" in sidebar
    assert "Sign out" in [b.label for b in at.sidebar.button]
    # creating a project needs a lead: no form for it, and words saying who creates projects
    assert "A lead or an owner creates projects" in texts(at.info)
    assert "Create project" not in [b.label for b in at.button]
    assert list_projects(open_store()) == []


@pytest.mark.parametrize("page", ["data", "jobs"])
def test_a_deep_link_lands_on_its_page_after_the_sign_in(team: None, page: str) -> None:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.switch_page(f"pages/{page}.py").run()  # a new browser session at /data, say
    _only_the_form(at)
    _sign_in(at, "olga", PASSWORD)
    assert [t.value for t in at.title] == [page.capitalize()]


def test_sign_out_and_deactivation_end_the_session(team: None) -> None:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.run()
    _sign_in(at, "olga", PASSWORD)
    assert [t.value for t in at.title] == ["Projects"]
    at.sidebar.button(key="_studio_sign_out").click().run()
    _only_the_form(at)

    _sign_in(at, "anna", PASSWORD)
    assert [t.value for t in at.title] == ["Projects"]
    deactivate(open_store(), "anna")
    at.run()
    _only_the_form(at)
    assert "Your session has ended" in texts(at.info)


@pytest.fixture
def network_address() -> Iterator[None]:
    """The app served on every network address, as `--server.address 0.0.0.0` would."""
    before = st_config.get_option("server.address")
    st_config.set_option("server.address", "0.0.0.0")
    yield
    st_config.set_option("server.address", before)


def test_served_to_the_network_without_an_account_the_app_shows_only_why(
    network_address: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("STUDIO_ALLOW_OPEN", raising=False)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.run()
    assert not at.exception, at.exception
    assert "python -m core users add NAME --role owner" in texts(at.error)
    assert len(at.title) == 0 and len(at.text_input) == 0 and len(at.button) == 0


def test_served_to_the_network_with_an_account_the_app_asks_to_sign_in(team: None, network_address: None) -> None:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.run()
    _only_the_form(at)

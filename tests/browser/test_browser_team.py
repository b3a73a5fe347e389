"""Team mode in a real browser on a PostgreSQL store: two browser contexts signed in at once, as an annotator and
as a lead, each see only their own projects and the actions their role allows; a context that has not signed in
gets only the sign-in form on every page URL; the annotator's review decision is recorded as the annotator's.
Set STUDIO_SCREENSHOTS to a folder to keep a screenshot of each step."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from core.front.accounts import add_account, add_project_member
from core.front.actor import Actor
from core.front.data import ColumnMapping, execute_import, plan_import
from core.front.projects import create_project, get_project, parse_spec
from core.store import Store
from core.store.action_log import list_actions
from tests.browser_support import IDLE, launch_browser, running_studio, sign_in

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]

playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect

PASSWORD = "a long enough password"
PAGE_PATHS = ["", "data", "prompts", "generate", "curate", "train", "evaluate", "jobs", "team", "settings"]


@pytest.fixture
def browser() -> Iterator[object]:
    with launch_browser() as browser:
        yield browser


def _idle(page) -> None:  # type: ignore[no-untyped-def]
    page.wait_for_selector(IDLE, timeout=60_000)


def _shot(page, name: str) -> None:  # type: ignore[no-untyped-def]
    folder = os.environ.get("STUDIO_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"{name}.png"))


def _project(actor: Actor, name: str) -> int:
    spec = parse_spec(name=name, labels=[{"name": "weather"}, {"name": "pests"}], languages=[{"code": "en"}])
    return create_project(actor, spec).id


def _team(store: Store) -> dict[str, int]:
    add_account(Actor.of(store), "olga", "owner", PASSWORD, display_name="Olga Owner")
    olga = Actor(store, "olga", "owner", team=True)
    add_account(olga, "lena", "lead", PASSWORD, display_name="Lena Lead")
    add_account(olga, "anna", "annotator", PASSWORD, display_name="Anna Annotator")
    lena = Actor(store, "lena", "lead", team=True)
    projects = {"crops": _project(lena, "crops"), "leads only": _project(lena, "leads only")}
    projects["owners only"] = _project(olga, "owners only")
    add_project_member(olga, projects["crops"], "anna")
    project = get_project(lena, projects["crops"])
    texts = ["Will it rain all week?", "Aphids on the beans again"]
    frame = pd.DataFrame({"text": texts, "label": ["weather", "pests"]})
    mapping = ColumnMapping(
        text_column="text", label_column="label", language="en", origin="synthetic", status="pending"
    )
    execute_import(lena, project, plan_import(lena, project, frame, mapping, "rows"))
    return projects


def _sign_in(browser, url: str, username: str):  # type: ignore[no-untyped-def]
    page = sign_in(browser, url, username, PASSWORD)
    return page.context, page


def _project_choices(page) -> list[str]:  # type: ignore[no-untyped-def]
    sidebar = page.get_by_test_id("stSidebar")
    sidebar.get_by_role("combobox").click()
    options = page.get_by_role("option")
    expect(options.first).to_be_visible(timeout=10_000)
    names = [text.strip() for text in options.all_inner_texts()]
    page.keyboard.press("Escape")
    return names


def test_an_annotator_and_a_lead_side_by_side(  # type: ignore[no-untyped-def]
    studio_home: Path, postgres_url: str, browser
) -> None:
    store = Store(postgres_url, "server-login")
    projects = _team(store)
    with running_studio(studio_home, demo=False, extra_env={"STUDIO_DATABASE_URL": postgres_url}) as url:
        stranger = browser.new_context().new_page()
        for path in PAGE_PATHS:  # every page URL, before signing in: the form and nothing else
            stranger.goto(f"{url}/{path}?project={projects['owners only']}")
            _idle(stranger)
            expect(stranger.get_by_role("heading", name="Sign in to Distill Studio")).to_be_visible()
            expect(stranger.get_by_test_id("stSidebar")).to_have_count(0)
            assert "owners only" not in stranger.locator("body").inner_text()

        _, anna = _sign_in(browser, url, "anna")
        _, lena = _sign_in(browser, url, "lena")
        assert _project_choices(anna) == ["crops"]
        assert sorted(_project_choices(lena)) == ["crops", "leads only"]
        expect(anna.get_by_text("Anna Annotator")).to_be_visible()
        _shot(anna, "team-annotator-projects")

        # allowed actions: the lead starts generation, the annotator does not see the button
        lena.goto(f"{url}/generate?project={projects['crops']}")
        _idle(lena)
        expect(lena.get_by_role("button", name="Start generating")).to_be_visible(timeout=30_000)
        anna.goto(f"{url}/generate?project={projects['crops']}")
        _idle(anna)
        expect(
            anna.get_by_text(re.compile("starting or changing a generation run needs the role", re.IGNORECASE))
        ).to_be_visible()
        expect(anna.get_by_role("button", name="Start generating")).to_have_count(0)
        # a project the annotator is not a member of, by its URL: not shown
        anna.goto(f"{url}/data?project={projects['owners only']}")
        _idle(anna)
        assert "owners only" not in anna.locator("body").inner_text()

        # the annotator reviews: the decision is the annotator's
        anna.goto(f"{url}/curate?project={projects['crops']}")
        _idle(anna)
        expect(anna.get_by_text("Sample 1 of 2 in this queue")).to_be_visible(timeout=30_000)
        anna.keyboard.press("x")
        expect(anna.get_by_text(re.compile("rejected"))).to_be_visible(timeout=10_000)
        _idle(anna)
        _shot(anna, "team-annotator-review")
        lena.goto(f"{url}/curate?project={projects['crops']}")
        _idle(lena)
        expect(lena.get_by_role("button", name="Check samples")).to_be_visible(timeout=30_000)
        _shot(lena, "team-lead-curate")

    rejects = [a for a in list_actions(store, projects["crops"]) if a.action == "reject"]
    assert [a.who for a in rejects] == ["anna"]
    store.dispose()

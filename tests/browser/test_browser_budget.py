"""The Evaluate page's "Where the next samples pay most" in a real browser (issue 21): with a synthetic and a human
learning curve, the section shows each language's advice; "Generate 100 more" opens the targeted form asking for 100
samples, and "Review 10 human samples" goes to the Curate page's queue of that language's unlabelled human TRAIN
texts (a real `streamlit run` server, Debian's chromium driven by Playwright).

Set STUDIO_SCREENSHOTS to a folder to keep a screenshot of the section (budget-advice.png)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from components.budget_advice_view import row_sentence
from core.front.actor import Actor
from core.front.training import data_budget
from core.store import Store
from tests.browser_support import IDLE, launch_browser, running_studio
from tests.training_support import single_torch_thread
from tests.ui.test_budget_advice_view import evaluated_project, train

pytestmark = pytest.mark.e2e

playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect


@pytest.fixture
def browser() -> Iterator[object]:
    with launch_browser() as browser:
        yield browser


@pytest.mark.slow
def test_the_advice_shows_and_its_buttons_go_where_the_samples_are_bought(  # type: ignore[no-untyped-def]
    studio_home: Path, sqlite_store: Store, tiny_encoder: Path, browser
) -> None:
    with single_torch_thread():
        project = evaluated_project(sqlite_store, tiny_encoder)
        train(sqlite_store, project, "synthetic-curve", "synthetic", (3, 6, 12))
        train(sqlite_store, project, "human-curve", "human", (3, 6, 12))

    with running_studio(studio_home, demo=False) as url:
        page = browser.new_page(viewport={"width": 1400, "height": 3600})
        page.goto(f"{url}/evaluate?project={project.id}")
        page.wait_for_selector(IDLE, timeout=60_000)
        section = page.locator(".st-key-budget_advice")
        expect(page.get_by_role("heading", name="Where the next samples pay most")).to_be_visible()
        expect(section.locator('[data-testid="stDataFrame"]')).to_be_visible(timeout=60_000)
        advice = {row.language: row for row in data_budget(Actor.of(sqlite_store), project)}
        expect(section).to_contain_text(f"Swahili (sw) · {row_sentence(advice['sw'])}")
        expect(section).to_contain_text(f"English (en) · {row_sentence(advice['en'])}")
        if os.environ.get("STUDIO_SCREENSHOTS"):
            section.screenshot(path=str(Path(os.environ["STUDIO_SCREENSHOTS"]) / "budget-advice.png"))

        section.locator(".st-key-budget_generate_sw button:visible").click()
        page.wait_for_selector(IDLE, timeout=60_000)
        expect(section).to_contain_text("Generate more Swahili samples of '")
        expect(page.get_by_label("How many new samples")).to_have_value("100")

        section.locator(".st-key-budget_review_sw button:visible").click()
        page.wait_for_url(f"**/curate?project={project.id}", timeout=60_000)
        page.wait_for_selector(IDLE, timeout=60_000)
        expect(page.get_by_text("Sample 1 of 8 in this queue")).to_be_visible(timeout=30_000)
        expect(page.get_by_role("combobox", name="Queue")).to_have_value("To label (no label yet)")
        expect(
            page.locator('[data-testid="stMultiSelect"]').filter(has=page.get_by_text("Language", exact=True))
        ).to_contain_text("Swahili")
        expect(page.get_by_text("heard at the market").first).to_be_visible()

"""Real-browser flows: a real `streamlit run` server and Debian's chromium driven by Playwright."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from core.settings import reset_settings
from core.store import open_store
from core.store.projects import list_projects
from core.store.samples import SampleFilter, count_samples
from tests.browser_support import IDLE, launch_browser, running_studio

pytestmark = pytest.mark.e2e

playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect


@pytest.fixture
def browser() -> Iterator[object]:
    with launch_browser() as browser:
        yield browser


def _idle(page) -> None:  # type: ignore[no-untyped-def]
    page.wait_for_selector(IDLE, timeout=60_000)


def test_create_a_project_and_import_a_file(studio_home: Path, tmp_path: Path, browser) -> None:  # type: ignore[no-untyped-def]
    upload = tmp_path / "farm_messages.csv"
    upload.write_text(
        "text,label,language\n"
        "Will it rain tomorrow in Nakuru?,weather,en\n"
        "Mvua itanyesha lini?,weather,sw\n"
        "Bei ya mahindi sokoni ni ngapi leo?,prices,sw\n"
        ",prices,en\n"
        "What do buyers pay for tomatoes?,prices,en\n",
        encoding="utf-8",
    )
    with running_studio(studio_home, demo=False) as url:
        page = browser.new_page(viewport={"width": 1400, "height": 1400})
        page.goto(url)
        _idle(page)
        expect(page.get_by_text("There is no project yet")).to_be_visible()

        page.get_by_label("Project name").fill("Farm SMS")
        page.get_by_role("textbox", name="Task description").fill("What does the farmer need help with?")
        languages = page.get_by_label("Languages", exact=True)
        for name in ("English", "Swahili"):
            languages.click()
            languages.fill(name)
            page.keyboard.press("Enter")
        page.keyboard.press("Escape")
        page.get_by_role("textbox", name="Labels, one per line").fill(
            "weather: rain, drought, forecasts\nprices: market prices"
        )
        page.get_by_role("button", name="Create project").click()
        expect(page.get_by_text("Project 'Farm SMS' created")).to_be_visible(timeout=30_000)
        _idle(page)
        switcher = page.locator('[data-testid="stSidebar"] [data-testid="stSelectbox"]')
        expect(switcher.locator("input")).to_have_value("Farm SMS")

        page.locator('[data-testid="stSidebarNav"] a', has_text="Data").click()
        _idle(page)
        expect(page.get_by_text("No samples yet")).to_be_visible()
        page.get_by_role("tab", name="Import").click()
        page.locator('input[type="file"]').set_input_files(str(upload))
        import_button = page.get_by_role("button", name="Import 4 samples")
        expect(import_button).to_be_visible(timeout=30_000)
        expect(page.get_by_text("empty or missing text")).to_be_visible()
        import_button.click()
        expect(page.get_by_text("Imported 4 samples from farm_messages.csv")).to_be_visible(timeout=30_000)
        _idle(page)
        page.get_by_role("tab", name="Browse").click()
        expect(page.get_by_text("of 4 · page 1 of 1")).to_be_visible()
        page.screenshot(path=str(tmp_path / "after-import.png"))

    reset_settings()
    store = open_store()
    [project] = list_projects(store)
    assert project.name == "Farm SMS" and project.language_codes == ["en", "sw"]
    assert count_samples(store, project.id) == 4
    assert count_samples(store, project.id, SampleFilter(languages=("sw",), labels=("prices",))) == 1


def test_generate_with_the_demo_recording_in_the_browser(studio_home: Path, browser) -> None:  # type: ignore[no-untyped-def]
    from core.store import generation_runs

    with running_studio(studio_home, demo=True) as url:
        page = browser.new_page(viewport={"width": 1400, "height": 1600})
        page.goto(url)
        _idle(page)
        page.locator('[data-testid="stSidebarNav"] a', has_text="Prompts").click()
        _idle(page)
        expect(page.get_by_text("Exactly what will be sent")).to_be_visible()
        page.locator('[data-testid="stSidebarNav"] a', has_text="Generate").click()
        _idle(page)
        expect(page.get_by_text("answers from earlier runs are served again")).to_be_visible()
        per_cell = page.get_by_label("Default per cell")
        per_cell.fill("2")
        per_cell.press("Enter")
        _idle(page)
        expect(page.get_by_text("About 15 requests")).to_be_visible()
        page.get_by_role("button", name="Start generating").click()
        expect(page.get_by_text("30 samples generated").first).to_be_attached(timeout=90_000)  # in the runs table

    reset_settings()
    store = open_store()
    [project] = list_projects(store)
    [run] = generation_runs.list_runs(store, project.id)
    assert run.status == "done" and run.backend == "replay"
    assert sum(generation_runs.run_counts(store, run.id).samples.values()) == 30


def test_review_with_the_keyboard_after_a_deep_link(studio_home: Path, browser) -> None:  # type: ignore[no-untyped-def]
    from core.store.samples import get_sample

    with running_studio(studio_home, demo=True) as url:
        page = browser.new_page(viewport={"width": 1400, "height": 1200})
        page.goto(f"{url}/curate")  # the first request of a fresh server is a deep link
        _idle(page)
        sidebar = page.locator('[data-testid="stSidebar"]')
        # app.py's switcher ran (the rerun through app.py can take seconds on a loaded machine)
        expect(sidebar.get_by_text("Project", exact=True)).to_be_visible(timeout=30_000)
        expect(page.locator('[data-testid="stSidebarNav"] a', has_text="Curate")).to_be_visible()
        expect(page.get_by_text("Sample 1 of 450 in this queue")).to_be_visible()
        first = page.locator("[class*='st-key-studio_large_text_'] [data-testid='stText']").inner_text()
        _idle(page)
        page.keyboard.press("1")  # weather, accepted
        accepted = page.get_by_text("Sample #1: labelled 'weather' and accepted.")
        try:
            expect(accepted).to_be_visible(timeout=10_000)
        except AssertionError:  # the key came before the rerun through app.py had bound the shortcuts: nothing changed
            _idle(page)
            expect(page.get_by_text("Sample 1 of 450 in this queue")).to_be_visible()
            page.keyboard.press("1")
            expect(accepted).to_be_visible(timeout=10_000)
        expect(page.get_by_text("Sample 1 of 449 in this queue")).to_be_visible()
        page.keyboard.press("x")  # reject the second
        expect(page.get_by_text("Sample #2: rejected.")).to_be_visible()
        page.keyboard.press("n")  # leave the third pending
        _idle(page)
        expect(page.get_by_text("Sample 2 of 448 in this queue")).to_be_visible()
        page.keyboard.press("3")  # the fourth is market_prices now
        expect(page.get_by_text("Sample #4: labelled 'market_prices' and accepted.")).to_be_visible()

    reset_settings()
    store = open_store()
    samples = [get_sample(store, i) for i in (1, 2, 3, 4)]
    assert samples[0].text == first
    assert [(s.status, s.label) for s in samples] == [
        ("accepted", "weather"),
        ("rejected", "weather"),
        ("pending", "weather"),
        ("accepted", "market_prices"),
    ]
    assert samples[0].updated_by == "tester"

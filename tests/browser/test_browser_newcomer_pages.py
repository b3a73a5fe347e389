"""Real-browser checks of the newcomer's traps on Data, Generate, Prompts and Settings: a real `streamlit run`
server and Debian's chromium driven by Playwright. Screenshots go to $STUDIO_SCREENSHOTS when it is set."""

from __future__ import annotations

import io
import os
import shutil
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from core.settings import reset_settings
from core.store import open_store
from core.store.projects import list_projects
from core.store.samples import count_samples, iter_samples
from tests.browser_support import IDLE, launch_browser, running_studio

pytestmark = pytest.mark.e2e

playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect

BAD_ROWS_CSV = (
    "text,label,language\n"
    "Will it rain on Friday?,weather,en\n"
    "Is a storm coming tonight?,Weather,en\n"
    "Frost tonight?,wether,en\n"
    "Bei ya nyanya leo?,prices,sw\n"
    "How much for beans?,prices,xx\n"
    "Mvua itanyesha kesho?,weather,sw\n"
)


@pytest.fixture
def browser() -> Iterator[object]:
    with launch_browser() as browser:
        yield browser


def _idle(page) -> None:  # type: ignore[no-untyped-def]
    page.wait_for_selector(IDLE, timeout=60_000)


def _go(page, name: str) -> None:  # type: ignore[no-untyped-def]
    page.locator('[data-testid="stSidebarNav"] a', has_text=name).click()
    _idle(page)


def _shot(page, tmp_path: Path, name: str) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / f"{name}.png"
    page.screenshot(path=str(path))
    if os.environ.get("STUDIO_SCREENSHOTS"):
        folder = Path(os.environ["STUDIO_SCREENSHOTS"])
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, folder / path.name)


def _no_none_shown(page) -> None:  # type: ignore[no-untyped-def]
    shown = page.locator('[data-testid="stMain"]').inner_text()
    for word in ("None", "nan", "NaT"):
        assert f" {word} " not in f" {' '.join(shown.split())} ", word


def test_export_downloads_in_one_click(studio_home: Path, tmp_path: Path, browser) -> None:  # type: ignore[no-untyped-def]
    with running_studio(studio_home, demo=True) as url:
        page = browser.new_page(viewport={"width": 1400, "height": 1200}, accept_downloads=True)
        page.goto(url)
        _idle(page)
        _go(page, "Data")
        page.get_by_role("tab", name="Export").click()
        page.get_by_label("Format").click()
        page.get_by_role("option", name="Hugging Face dataset").click()
        _idle(page)
        button = page.get_by_role("button", name="Download Farmers__help_line__demo-dataset.zip")
        expect(button).to_be_visible()
        _shot(page, tmp_path, "data-export")
        with page.expect_download(timeout=60_000) as caught:
            button.click()  # the only click
        download = caught.value
        assert download.suggested_filename == "Farmers__help_line__demo-dataset.zip"
        data = Path(download.path()).read_bytes()
    reset_settings()
    store = open_store()
    [project] = list_projects(store)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        names = archive.namelist()
    assert any(n.endswith("dataset_dict.json") for n in names)
    assert count_samples(store, project.id) > 0


def test_a_new_project_without_a_key_import_generate_prompts_and_settings(  # type: ignore[no-untyped-def]
    studio_home: Path, tmp_path: Path, browser
) -> None:
    upload = tmp_path / "farm_messages.csv"
    upload.write_text(BAD_ROWS_CSV, encoding="utf-8")
    with running_studio(studio_home, demo=False) as url:
        page = browser.new_page(viewport={"width": 1400, "height": 1500}, accept_downloads=True)
        page.goto(url)
        _idle(page)
        page.get_by_label("Project name").fill("Farm SMS")
        page.get_by_role("textbox", name="Task description").fill("What does the farmer need help with?")
        languages = page.get_by_label("Languages", exact=True)
        for name in ("English", "Swahili"):
            languages.click()
            languages.fill(name)
            page.keyboard.press("Enter")
        page.keyboard.press("Escape")
        page.get_by_role("textbox", name="Labels, one per line").fill("weather: rain, forecasts\nprices: market prices")
        page.get_by_role("button", name="Create project").click()
        expect(page.get_by_text("Project 'Farm SMS' created")).to_be_visible(timeout=30_000)
        _idle(page)

        # import: 2 bad rows of 6, an explicit choice to skip them, their CSV one click away
        _go(page, "Data")
        page.get_by_role("tab", name="Import").click()
        page.locator('input[type="file"]').set_input_files(str(upload))
        expect(page.get_by_text("did you mean 'weather'?")).to_be_visible(timeout=30_000)
        expect(page.get_by_text("tick 'Add labels the project does not have yet'")).to_be_visible()
        import_button = page.get_by_role("button", name="Import 4 samples")
        expect(import_button).to_be_disabled()
        with page.expect_download(timeout=30_000) as caught:
            page.get_by_role("button", name="Download the 2 skipped rows (CSV)").click()
        skipped = pd.read_csv(caught.value.path(), dtype=str, keep_default_na=False)
        assert list(skipped["text"]) == ["Frost tonight?", "How much for beans?"]
        page.get_by_text("Import the 4 valid rows and skip the 2 rows listed above").click()
        _idle(page)
        expect(import_button).to_be_enabled()
        _shot(page, tmp_path, "data-import-skip-invalid")
        import_button.click()
        expect(page.get_by_text("Imported 4 samples from farm_messages.csv, skipped 2")).to_be_visible(timeout=30_000)
        _idle(page)

        # generate: the recorded answers do not cover the label 'prices': nothing starts, and the page says why
        _go(page, "Generate")
        expect(
            page.get_by_text("The recorded answers hold nothing for English × prices, Swahili × prices")
        ).to_be_visible()
        expect(page.get_by_role("button", name="Start generating")).to_be_disabled()
        _no_none_shown(page)
        _shot(page, tmp_path, "generate-no-recording")
        backend = page.get_by_label("Who writes the samples")
        backend.click()
        page.get_by_role("option", name="OpenAI or any OpenAI-compatible server").click()
        _idle(page)
        page.get_by_label("Server address (base URL)").fill("https://llm.example.org/v1")
        page.get_by_label("Server address (base URL)").press("Enter")
        _idle(page)
        expect(page.get_by_text("No API key for https").first).to_be_visible()
        expect(page.get_by_role("button", name="Start generating")).to_be_disabled()
        _shot(page, tmp_path, "generate-no-key")

        # prompts: after saving, the saved version is the current one
        _go(page, "Prompts")
        user = page.get_by_label("User message")
        user.fill(user.input_value() + "\nKeep every text under 20 words.")
        page.get_by_text("Exactly what will be sent").click()  # leave the text area: Streamlit takes the text
        _idle(page)
        page.get_by_role("button", name="Save as a new version").click()
        expect(page.get_by_text("Saved zero-shot@")).to_be_visible(timeout=30_000)
        _idle(page)
        version = page.locator('[data-testid="stSelectbox"]').filter(has_text="Version").locator("input")
        expect(version).to_have_value("v2 (newest)")
        expect(page.get_by_role("button", name="Save as a new version")).to_be_disabled()
        _shot(page, tmp_path, "prompts-after-save")

        # settings: where keys go
        _go(page, "Settings")
        expect(page.get_by_text("The studio never saves a key")).to_be_visible()
        _no_none_shown(page)
        _shot(page, tmp_path, "settings-api-keys")

    reset_settings()
    store = open_store()
    [project] = list_projects(store)
    assert sorted(s.label for s in iter_samples(store, project.id)) == ["prices", "weather", "weather", "weather"]

"""The Train page in a real browser: while a run trains, the runs table follows it (its status and progress come
from its job and are redrawn with the live panel), and the live panel says how long it has run and has left.

A real `streamlit run` server, a real worker fine-tuning the tiny encoder, Debian's chromium driven by Playwright.
The runs table is a canvas grid: the test reads it as a person would export it, through its "Download as CSV".
"""

from __future__ import annotations

import csv
import io
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.store import Store
from core.training.run_store import get_run
from tests.browser_support import IDLE, launch_browser, running_studio
from tests.training_support import make_project

pytestmark = pytest.mark.e2e

playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect
NO_FILE_PICKER = "window.showSaveFilePicker = undefined;"  # Streamlit then saves a CSV as an ordinary download


@pytest.fixture
def browser() -> Iterator[object]:
    with launch_browser() as browser:
        yield browser


def table_rows(page, frame) -> list[dict[str, str]]:  # type: ignore[no-untyped-def]
    frame.hover()
    with page.expect_download() as download:
        frame.get_by_role("button", name="Download as CSV").click()
    text = Path(download.value.path()).read_text(encoding="utf-8-sig")
    return list(csv.DictReader(io.StringIO(text)))


def set_number(page, label: str, value: str) -> None:  # type: ignore[no-untyped-def]
    field = page.get_by_role("spinbutton", name=label, exact=True)
    field.fill(value)
    field.press("Enter")
    page.wait_for_selector(IDLE, timeout=60_000)


def test_the_runs_table_follows_a_run_while_it_trains(  # type: ignore[no-untyped-def]
    studio_home: Path, sqlite_store: Store, tiny_encoder: Path, browser
) -> None:
    project = make_project(sqlite_store, tiny_encoder)
    with running_studio(studio_home, demo=False) as url:
        page = browser.new_page(viewport={"width": 1400, "height": 1800}, accept_downloads=True)
        page.add_init_script(NO_FILE_PICKER)
        page.goto(f"{url}/train?project={project.id}")
        page.wait_for_selector(IDLE, timeout=60_000)
        page.get_by_text("Fine-tune the encoder").click()
        page.wait_for_selector(IDLE, timeout=60_000)
        page.get_by_text("Advanced options").click()
        set_number(page, "Epochs", "150")  # long enough to watch it train
        set_number(page, "Validation share", "0")
        set_number(page, "Batch size", "8")
        name = page.get_by_role("textbox", name="Name of the run")
        name.fill("long")
        name.press("Enter")
        page.wait_for_selector(IDLE, timeout=60_000)
        page.get_by_role("button", name="Start training").click()

        # the live panel shows the steps: the table, drawn when the run was still queued, follows
        panel = page.locator('[data-testid="stProgress"]')
        expect(panel).to_contain_text(re.compile(r"Epoch \d+/150, step \d+/"), timeout=120_000)
        expect(page.get_by_text(re.compile(r"Running for \d+"))).to_be_visible(timeout=10_000)
        time.sleep(2.5)  # one refresh of the table
        runs = page.locator('[data-testid="stDataFrame"]').last
        [row] = table_rows(page, runs)
        assert row["name"] == "long" and row["status"] == "running", row
        assert re.search(r"\d+% · Epoch \d+/150, step \d+/", row["progress"]), row

        page.get_by_role("button", name="Cancel").click()
        deadline = time.monotonic() + 60
        while get_run(sqlite_store, project.id, "long").active and time.monotonic() < deadline:
            time.sleep(0.3)
        assert get_run(sqlite_store, project.id, "long").status == "cancelled"

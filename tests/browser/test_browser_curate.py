"""The Curate page in a real browser: the last check's flags open their queue, actions keep the tab they were taken
in, a review decision is undone with U, and a long text opens in full (a real `streamlit run` server, Debian's
chromium driven by Playwright). Set STUDIO_SCREENSHOTS to a folder to keep a screenshot of each step."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from core.cli import main
from core.curation.sample_actions import bulk_change
from core.io.importer import ColumnMapping, execute_import, plan_import
from core.store import Store
from core.store.projects import create_project, parse_spec
from core.store.samples import get_sample, page_samples
from tests.browser_support import IDLE, launch_browser, running_studio

pytestmark = pytest.mark.e2e

playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect

LONG = "Mvua kubwa " + " ".join(f"neno{i}" for i in range(150)) + " mwisho wa ujumbe."
ROWS = [
    ("Mvua itanyesha kesho?", "weather", "sw"),
    ("Bei ya mahindi ni ngapi leo?", "prices", "sw"),
    ("Will it rain tomorrow?", "weather", "en"),
    ("Will it rain tomorrow ?", "weather", "en"),
    (LONG, "weather", "sw"),
]


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


def _selected_tab(page, name: str):  # type: ignore[no-untyped-def]
    return page.get_by_role("tab", name=re.compile(f"^{re.escape(name)}"))


TAB_TEXTS = {
    "Review": "in this queue",
    "Browse & bulk": "Read a sample in full",
    "Repeats": "of repeats",
    "Threshold": "Compare samples",
    "Overview": "Diversity of the synthetic training samples",
}


def _tab(page, name: str) -> None:  # type: ignore[no-untyped-def]
    """Open a tab and wait for its content (only the open tab runs: it is drawn after the click)."""
    _selected_tab(page, name).click()
    _idle(page)
    expect(page.get_by_text(TAB_TEXTS[name]).first).to_be_visible(timeout=30_000)
    _no_missing_values(page)


def _no_missing_values(page) -> None:  # type: ignore[no-untyped-def]
    body = page.locator("body").inner_text()
    assert not re.search(r"\b(None|nan|NaT)\b", body), body


def test_curate_in_the_browser(studio_home: Path, sqlite_store: Store, tiny_encoder: Path, browser) -> None:  # type: ignore[no-untyped-def]
    spec = parse_spec(
        name="Farm SMS",
        labels=[{"name": "weather"}, {"name": "prices"}],
        languages=[{"code": "sw"}, {"code": "en"}],
        encoder=str(tiny_encoder),
    )
    project = create_project(sqlite_store, spec)
    frame = pd.DataFrame(ROWS, columns=["text", "label", "language"], dtype=object)
    mapping = ColumnMapping("text", "label", language_column="language", origin="synthetic", status="pending")
    execute_import(sqlite_store, project, plan_import(sqlite_store, project, frame, mapping, "sms.csv"))
    assert main(["flag", "--project", "Farm SMS", "--threshold", "0.999"]) == 0
    ids = [s.id for s in page_samples(sqlite_store, project.id).samples]
    bulk_change(sqlite_store, project.id, "accept", ids=[ids[1]])  # a bulk action not undone yet

    with running_studio(studio_home, demo=False) as url:
        page = browser.new_page(viewport={"width": 1400, "height": 1500})
        page.goto(f"{url}/curate?project={project.id}")
        _idle(page)
        expect(page.get_by_text("Last check")).to_be_visible(timeout=30_000)
        expect(page.get_by_text("5 samples checked; flagged: near repeat 1")).to_be_visible()
        _no_missing_values(page)
        _shot(page, "curate-review")

        # the flag's button opens its review queue
        page.get_by_role("button", name="near repeat: review 1").click()
        _idle(page)
        expect(_selected_tab(page, "Review")).to_have_attribute("aria-selected", "true")
        expect(page.get_by_text("Sample 1 of 1 in this queue")).to_be_visible()

        # a review decision, then U undoes it and shows that sample again
        page.keyboard.press("2")  # prices, accepted
        expect(page.get_by_text("labelled 'prices' and accepted")).to_be_visible(timeout=10_000)
        _idle(page)
        page.keyboard.press("u")
        expect(page.get_by_text("Undone: your new label of sample")).to_be_visible(timeout=10_000)
        expect(page.get_by_text("Sample 1 of 1 in this queue")).to_be_visible()
        _shot(page, "curate-review-undone")

        # the Repeats tab after a bulk action: no crash; keep-one stays on the tab, with the count after it
        _tab(page, "Repeats")
        expect(page.get_by_text("1 group of repeats")).to_be_visible()
        page.get_by_role("button", name="Keep one per group").click()
        expect(page.get_by_text("1 sample rejected")).to_be_visible(timeout=10_000)
        _idle(page)
        expect(_selected_tab(page, "Repeats")).to_have_attribute("aria-selected", "true")
        expect(page.get_by_text("No group of repeats left to resolve")).to_be_visible()
        _shot(page, "curate-repeats-after-keep-one")
        page.get_by_role("button", name="Undo it").click()
        expect(page.get_by_text("1 sample restored")).to_be_visible(timeout=10_000)
        _idle(page)
        expect(_selected_tab(page, "Repeats")).to_have_attribute("aria-selected", "true")
        expect(page.get_by_text("1 group of repeats")).to_be_visible()

        # a bulk action in the Browse tab stays there; a long text opens in full under the table
        _tab(page, "Browse & bulk")
        page.get_by_role("button", name="Apply").click()
        expect(page.get_by_text("samples accepted")).to_be_visible(timeout=10_000)
        _idle(page)
        expect(_selected_tab(page, "Browse & bulk")).to_have_attribute("aria-selected", "true")
        page.get_by_label("Read a sample in full").click()
        page.get_by_role("option", name=re.compile(f"^#{ids[4]} ")).click()
        _idle(page)
        expect(page.get_by_test_id("stText").filter(has_text="mwisho wa ujumbe.")).to_be_visible()
        _shot(page, "curate-browse-full-text")
        for name in ("Threshold", "Overview"):
            _tab(page, name)
            _shot(page, f"curate-{name.lower()}")

        page.goto(f"{url}/data?project={project.id}")
        _idle(page)
        page.get_by_label("Read a sample in full").click()
        page.get_by_role("option", name=re.compile(f"^#{ids[4]} ")).click()
        _idle(page)
        expect(page.get_by_test_id("stText").filter(has_text="mwisho wa ujumbe.")).to_be_visible()
        _shot(page, "data-full-text")
        _no_missing_values(page)

    assert get_sample(sqlite_store, ids[3]).status == "accepted"  # restored to pending, then accepted in bulk

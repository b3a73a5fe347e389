"""The Evaluate page in a real browser: open a language's confusion matrix, click cells, read the samples behind
them (a real `streamlit run` server, Debian's chromium driven by Playwright)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from components.evaluation_views import language_title
from core.evaluation.choices import weakest_language
from core.evaluation.error_cells import weak_cells
from core.evaluation.evaluations import latest_evaluation, load_predictions
from core.store import Store
from core.store.samples import get_sample
from tests.browser_support import IDLE, launch_browser, running_studio
from tests.training_support import single_torch_thread
from tests.ui.test_evaluate_page import trained_project

pytestmark = pytest.mark.e2e

playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect


@pytest.fixture
def browser() -> Iterator[object]:
    with launch_browser() as browser:
        yield browser


def click_cell(page, index: int) -> None:  # type: ignore[no-untyped-def]
    """Click the index-th marker of the matrix (row by row) where a person would: at its centre."""
    marker = page.locator('[data-testid="stPlotlyChart"]').first.locator(".scatterlayer path.point").nth(index)
    box = marker.bounding_box()
    assert box is not None
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)


def test_pick_a_cell_of_a_matrix_and_read_its_samples(  # type: ignore[no-untyped-def]
    studio_home: Path, sqlite_store: Store, tiny_encoder: Path, browser
) -> None:
    with single_torch_thread():
        project = trained_project(sqlite_store, tiny_encoder)
    evaluation = latest_evaluation(sqlite_store, project.id, "probe")
    labels = evaluation.metrics["sw"]["labels"]
    [weak] = weak_cells(evaluation, top=1, language="sw")  # the mislabelled market texts make at least one
    predictions = [p for p in load_predictions(sqlite_store, evaluation.id) if p.language == "sw"]

    def texts_of(true: str, predicted: str) -> list[str]:
        cell = [p for p in predictions if (p.true_label, p.predicted) == (true, predicted)]
        return [get_sample(sqlite_store, p.sample_id).text for p in cell]

    with running_studio(studio_home, demo=False) as url:
        page = browser.new_page(viewport={"width": 1400, "height": 1600})
        page.goto(f"{url}/evaluate?project={project.id}")
        page.wait_for_selector(IDLE, timeout=60_000)
        opening = language_title(weakest_language(evaluation))  # the page opens where the model is weakest
        expect(page.get_by_text(f"Confusion matrix · {opening}")).to_be_visible()
        language = page.get_by_label("Language", exact=True)
        language.click()
        language.fill("Swahili")
        page.keyboard.press("Enter")
        expect(page.get_by_text("Confusion matrix · Swahili (sw)")).to_be_visible(timeout=30_000)
        page.wait_for_selector(IDLE, timeout=60_000)
        matrix = page.locator('[data-testid="stPlotlyChart"]').first
        expect(matrix.locator(".scatterlayer path.point")).to_have_count(len(labels) ** 2)

        samples = page.locator('[data-testid="stTable"]')
        diagonal = labels.index("disease") * len(labels) + labels.index("disease")
        click_cell(page, diagonal)
        expect(page.get_by_text("rightly predicted as disease")).to_be_visible(timeout=30_000)
        for text in texts_of("disease", "disease"):
            expect(samples).to_contain_text(text)

        confused = labels.index(weak.true) * len(labels) + labels.index(weak.predicted)
        click_cell(page, confused)
        expect(page.get_by_text(f"of {weak.true} taken for {weak.predicted}.")).to_be_visible(timeout=30_000)
        page.wait_for_selector(IDLE, timeout=60_000)
        wanted = texts_of(weak.true, weak.predicted)
        assert len(wanted) == weak.count
        for text in wanted:
            expect(samples).to_contain_text(text)
        expect(samples).not_to_contain_text(texts_of("disease", "disease")[0])
        # the keyboard picker beside the matrix follows the click; after picking there, a click on the same cell
        # as before picks it again
        expect(page.get_by_label("True label", exact=True)).to_have_value(weak.true)
        expect(page.get_by_label("Predicted as", exact=True)).to_have_value(weak.predicted)
        picker = page.get_by_label("Predicted as", exact=True)
        picker.click()
        picker.fill(weak.true)
        page.keyboard.press("Enter")
        expect(page.get_by_text(f"rightly predicted as {weak.true}")).to_be_visible(timeout=30_000)
        page.wait_for_selector(IDLE, timeout=60_000)
        click_cell(page, confused)
        expect(page.get_by_text(f"of {weak.true} taken for {weak.predicted}.")).to_be_visible(timeout=30_000)
        page.screenshot(path=str(studio_home / "evaluate-picked.png"))

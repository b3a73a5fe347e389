"""The quick check in a real browser (a real `streamlit run` server, Debian's chromium driven by Playwright): on a
fresh studio with no project, upload a predictions file on the Evaluate page, read the per-language table, open a
confusion cell and read the samples behind it."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from core.evaluation.evaluations import latest_evaluation, load_predictions
from core.store import Store
from core.store.projects import get_project
from core.store.samples import get_sample
from tests.browser.test_browser_evaluate import click_cell
from tests.browser_support import IDLE, launch_browser, running_studio
from tests.evaluation.test_quickcheck import prediction_rows

pytestmark = pytest.mark.e2e

playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect
MISSING = re.compile(r"(?<![\w-])(None|nan|NaN|NaT)(?![\w-])")


@pytest.fixture
def browser() -> Iterator[object]:
    with launch_browser() as browser:
        yield browser


def shot(page, studio_home: Path, name: str) -> None:  # type: ignore[no-untyped-def]
    path = studio_home / f"{name}.png"
    page.wait_for_timeout(1000)  # charts and grids draw after the script has finished
    page.screenshot(path=str(path))
    if os.environ.get("STUDIO_SCREENSHOTS"):
        folder = Path(os.environ["STUDIO_SCREENSHOTS"])
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, folder / path.name)


def grid_rows(frame) -> list[dict[str, str]]:  # type: ignore[no-untyped-def]
    """A dataframe's rows as a screen reader reads them (the grid is drawn on a canvas; its cells are in the DOM)."""
    header = frame.locator("thead th").all_text_contents()
    return [
        dict(zip(header, row.locator("td").all_text_contents(), strict=True)) for row in frame.locator("tbody tr").all()
    ]


def no_missing_values(page) -> None:  # type: ignore[no-untyped-def]
    shown = page.locator('[data-testid="stMain"]').inner_text()
    shown += "\n" + "\n".join(page.locator('[data-testid="stDataFrame"] td').all_text_contents())
    assert not MISSING.findall(shown), shown[:3000]
    assert page.locator('[data-testid="stException"]').count() == 0


def test_upload_predictions_read_the_scores_and_open_a_cell(  # type: ignore[no-untyped-def]
    studio_home: Path, sqlite_store: Store, tmp_path: Path, browser
) -> None:
    rows = prediction_rows()
    upload = tmp_path / "farm-preds.csv"
    pd.DataFrame(rows).to_csv(upload, index=False)
    with running_studio(studio_home, demo=False) as url:
        page = browser.new_page(viewport={"width": 1400, "height": 1800}, accept_downloads=True)
        page.goto(f"{url}/evaluate")
        page.wait_for_selector(IDLE, timeout=60_000)
        expect(page.get_by_text("Check a model", exact=True)).to_be_visible()
        shot(page, studio_home, "quickcheck-empty")
        page.locator('input[type="file"]').set_input_files(str(upload))
        expect(page.get_by_text("72 rows; columns sentence, gold, predicted, lang, score")).to_be_visible(
            timeout=30_000
        )
        page.wait_for_selector(IDLE, timeout=60_000)
        shot(page, studio_home, "quickcheck-columns")
        page.get_by_role("button", name="Check these predictions").click()
        expect(page.get_by_text("Scores per language", exact=True)).to_be_visible(timeout=60_000)
        page.wait_for_selector(IDLE, timeout=60_000)

        project = get_project(sqlite_store, "farm-preds")
        evaluation = latest_evaluation(sqlite_store, project.id, "farm-preds.csv")
        expect(page.get_by_text("72 of the file's 72 rows scored as human test samples")).to_be_visible()
        table = page.locator('[data-testid="stDataFrame"]').first
        expect(table.locator("tbody tr")).to_have_count(3)  # the grid's cells come after the script has finished
        shown = grid_rows(table)
        assert [r["language"] for r in shown] == ["English (en)", "Swahili (sw)", "all languages (pooled)"]
        for row, code in zip(shown, ("en", "sw", "overall"), strict=True):
            assert float(row["macro-F1"]) == pytest.approx(evaluation.metrics[code]["macro_f1"])
            assert float(row["accuracy"]) == pytest.approx(evaluation.metrics[code]["accuracy"])
            assert int(row["test samples"]) == 36 if code != "overall" else int(row["test samples"]) == 72
            assert re.fullmatch(r"0\.\d{3} – [01]\.\d{3}", row["95% interval"]), row
        no_missing_values(page)

        # the page opens on the weakest language (Swahili: price taken for weather); open a cell there
        expect(page.get_by_text("Confusion matrix · Swahili (sw)")).to_be_visible()
        labels = evaluation.metrics["sw"]["labels"]
        matrix = page.locator('[data-testid="stPlotlyChart"]').first
        expect(matrix.locator(".scatterlayer path.point")).to_have_count(len(labels) ** 2)
        predictions = [p for p in load_predictions(sqlite_store, evaluation.id) if p.language == "sw"]

        def texts_of(true: str, predicted: str) -> list[str]:
            cell = [p for p in predictions if (p.true_label, p.predicted) == (true, predicted)]
            return [get_sample(sqlite_store, p.sample_id).text for p in cell]

        samples = page.locator('[data-testid="stTable"]')
        click_cell(page, labels.index("disease") * len(labels) + labels.index("disease"))
        expect(page.get_by_text("rightly predicted as disease")).to_be_visible(timeout=30_000)
        page.wait_for_selector(IDLE, timeout=60_000)
        click_cell(page, labels.index("price") * len(labels) + labels.index("weather"))
        expect(page.get_by_text("of price taken for weather.")).to_be_visible(timeout=30_000)
        page.wait_for_selector(IDLE, timeout=60_000)
        wanted = texts_of("price", "weather")
        assert len(wanted) == evaluation.metrics["sw"]["confusion"][labels.index("price")][labels.index("weather")] > 0
        for text in wanted:
            expect(samples).to_contain_text(text)
        expect(samples).not_to_contain_text(texts_of("disease", "disease")[0])
        no_missing_values(page)
        shot(page, studio_home, "quickcheck-cell")

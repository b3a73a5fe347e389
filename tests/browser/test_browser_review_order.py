"""Active learning in a real browser (a real `streamlit run` server, Debian's chromium driven by Playwright): a lead
picks a finished run on the Review tab, ranks the texts without a label by its doubt (a background job), and the
queue "least sure first" opens when it is done; N walks it in the order of the model's doubt. Set
STUDIO_SCREENSHOTS to a folder to keep a screenshot of the ordered queue."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.front.actor import Actor
from core.front.queues import UNCERTAIN_KIND, ranked_step
from core.jobs.queue import list_jobs
from core.jobs.runner import run_job
from core.store import Store
from core.store.samples import SampleFilter
from core.training.launch import TrainingRequest, start_training
from tests.browser_support import IDLE, launch_browser, running_studio
from tests.training.test_uncertainty_job import add_unlabeled_human_texts
from tests.training_support import make_project, single_torch_thread

pytestmark = pytest.mark.e2e

playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect


@pytest.fixture
def browser() -> Iterator[object]:
    with launch_browser() as browser:
        yield browser


def _start_the_ranking(page, store: Store, project_id: int) -> None:  # type: ignore[no-untyped-def]
    """Click *Rank by the model's doubt* until its job exists: a click that lands while a script run is being
    replaced can be dropped by the browser's Streamlit client (seen 1 in 6 under load); the button is disabled
    while a ranking runs, so a second click never starts a second job."""
    button = page.get_by_role("button", name="Rank by the model's doubt")
    for _ in range(3):
        page.wait_for_selector(IDLE, timeout=60_000)
        button.click()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if list_jobs(store, project_id, kind="rank_uncertain"):
                return
            time.sleep(0.2)
    pytest.fail("no ranking job was started after three clicks")


@pytest.mark.slow
def test_rank_by_the_models_doubt_then_label_least_sure_first(  # type: ignore[no-untyped-def]
    studio_home: Path, sqlite_store: Store, tiny_encoder: Path, browser
) -> None:
    project = make_project(sqlite_store, tiny_encoder)
    added = add_unlabeled_human_texts(sqlite_store, project.id)
    with single_torch_thread():
        _, job = start_training(sqlite_store, project.id, TrainingRequest(name="probe", trainer="linear"))
        assert run_job(sqlite_store, job.id) == "done"

    with running_studio(studio_home, demo=False) as url:
        page = browser.new_page(viewport={"width": 1400, "height": 1500})
        page.goto(f"{url}/curate?project={project.id}")
        page.wait_for_selector(IDLE, timeout=60_000)
        page.get_by_text("Label where it pays most").click()
        expect(page.get_by_text("Model (a finished training run)")).to_be_visible(timeout=30_000)
        _start_the_ranking(page, sqlite_store, project.id)
        # the job runs in the background; when it is done the queue opens, least sure first
        expect(page.get_by_text(f"Sample 1 of {added} in this queue, least sure first")).to_be_visible(timeout=180_000)
        page.wait_for_selector(IDLE, timeout=60_000)
        flt = SampleFilter(statuses=("unlabeled",), flags=(UNCERTAIN_KIND,))
        first = ranked_step(Actor.of(sqlite_store), project, flt, None)
        assert first.sample is not None and first.key is not None
        expect(page.get_by_test_id("stText").get_by_text(first.sample.text, exact=True)).to_be_visible()
        expect(page.get_by_text("Why it is here:")).to_be_visible()
        expect(page.get_by_text("Least sure first", exact=True)).to_be_visible()  # the Order choice
        folder = os.environ.get("STUDIO_SCREENSHOTS")
        if folder:
            Path(folder).mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(Path(folder) / "review-least-sure-first.png"), full_page=True)

        page.keyboard.press("n")
        expect(page.get_by_text(f"Sample 2 of {added} in this queue, least sure first")).to_be_visible(timeout=10_000)
        second = ranked_step(Actor.of(sqlite_store), project, flt, first.key.after())
        assert second.sample is not None
        expect(page.get_by_test_id("stText").get_by_text(second.sample.text, exact=True)).to_be_visible()

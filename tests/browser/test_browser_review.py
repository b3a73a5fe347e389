"""Review work in a real browser on a PostgreSQL store (issue 18): a lead hands out 30 samples to three annotators with
an overlap of 2 on the Assign tab; three browser contexts, signed in as the annotators, judge their queues with the
keyboard (one undoes a judgement with U), planting disagreements; the lead's Adjudicate tab holds exactly the samples
whose two judgements differ; and the kappa of each pair and the alpha shown on the Team page equal those that
sklearn.metrics.cohen_kappa_score and krippendorff.alpha compute from the export's `judgements` column.

Set STUDIO_SCREENSHOTS to a folder to keep screenshots of the annotator's queue, the adjudication tab and the
agreement section (docs/screenshots/review-queue.png, review-adjudicate.png, team-agreement.png)."""

from __future__ import annotations

import io
import json
import os
import re
from collections.abc import Iterator
from itertools import combinations
from pathlib import Path

import krippendorff
import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import cohen_kappa_score

from core.front.accounts import add_account, add_project_member
from core.front.actor import Actor
from core.front.data import ColumnMapping, execute_import, export_download, iter_samples, plan_import
from core.front.projects import Project, create_project, get_project, parse_spec
from core.front.review import adjudication_queue, set_account_languages
from core.store import Store
from tests.browser_support import IDLE, launch_browser, running_studio, sign_in

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]

playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect

PASSWORD = "a long enough password"
ANNOTATORS = ("anna", "ben", "carl")
LABELS = ("weather", "pests")
SAMPLES = 30
SHOWN = re.compile(r"Sample #(\d+) ·")
# planted disagreements, by the sample's place in the project (0..29): who answers what, against the sample's label
PLANTED = {
    "anna": {number: "x" for number in (0, 5, 10, 15, 20, 25)},  # rejects what the others accept
    "ben": {number: "other" for number in (3, 8, 13, 18, 23, 28)},  # gives the other label
    "carl": {number: "x" for number in (7, 17, 27)},
}


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


def _team(store: Store) -> Project:
    """olga (owner), lena (lead), three annotators judging English, and 30 pending samples, labels in turn."""
    add_account(Actor.of(store), "olga", "owner", PASSWORD, display_name="Olga Owner")
    olga = Actor(store, "olga", "owner", team=True)
    add_account(olga, "lena", "lead", PASSWORD, display_name="Lena Lead")
    for name in ANNOTATORS:
        add_account(olga, name, "annotator", PASSWORD, display_name=name.title())
        set_account_languages(olga, name, ["en"])
    lena = Actor(store, "lena", "lead", team=True)
    spec = parse_spec(name="crops", labels=[{"name": label} for label in LABELS], languages=[{"code": "en"}])
    project = create_project(lena, spec)
    for name in ("lena", *ANNOTATORS):
        add_project_member(olga, project.id, name)
    frame = pd.DataFrame(
        {
            "text": [
                f"Field report {n}: {'rain and wind' if n % 2 == 0 else 'aphids on the leaves'}" for n in range(SAMPLES)
            ],
            "label": [LABELS[n % 2] for n in range(SAMPLES)],
        }
    )
    mapping = ColumnMapping("text", "label", language="en", origin="synthetic", status="pending")
    execute_import(lena, project, plan_import(lena, project, frame, mapping, "rows"))
    return get_project(lena, project.id)


def _sign_in(browser, url: str, username: str, height: int = 1200):  # type: ignore[no-untyped-def]
    return sign_in(browser, url, username, PASSWORD, height=height)


def _tab(page, name: str) -> None:  # type: ignore[no-untyped-def]
    page.get_by_role("tab", name=name).click()
    _idle(page)


def _hand_out(page) -> None:  # type: ignore[no-untyped-def]
    """On the Assign tab: the three annotators, two per sample, the default filter (pending samples)."""
    _tab(page, "Assign")
    picker = page.get_by_role("combobox", name=re.compile("Annotators"))
    for name in ANNOTATORS:
        picker.click()
        page.get_by_role("option", name=re.compile(f"^{name.title()} \\({name}\\)")).click()
        page.keyboard.press("Escape")
    page.get_by_role("spinbutton", name="Annotators per sample").fill("2")
    page.get_by_role("button", name="Hand out").click()
    expect(page.get_by_text("Handed out 30 samples to be judged 2 times each")).to_be_visible(timeout=30_000)
    _idle(page)


def _progress(page, done: int) -> None:  # type: ignore[no-untyped-def]
    expect(page.locator(".st-key-myqueue_progress")).to_contain_text(f"{done} of 20 judged", timeout=30_000)
    _idle(page)


def _shown_sample(page) -> int:  # type: ignore[no-untyped-def]
    found = SHOWN.search(page.locator(".st-key-myqueue_card").inner_text())
    assert found, "no sample on the annotator's card"
    return int(found.group(1))


def _key(name: str, number: int) -> str:
    """The key the annotator presses for the sample at this place: its label's number key, A (accept as it is), or
    what PLANTED says."""
    planted = PLANTED[name].get(number)
    label_key = str(number % 2 + 1)
    if planted == "x":
        return "x"
    if planted == "other":
        return str((number + 1) % 2 + 1)
    return "a" if name == "carl" or number % 3 == 0 else label_key


def _judge_queue(page, name: str, place: dict[int, int]) -> None:  # type: ignore[no-untyped-def]
    expect(page.locator(".st-key-myqueue_progress")).to_contain_text("0 of 20 judged", timeout=30_000)
    if name == "anna":  # a wrong key first, taken back with U
        first = _shown_sample(page)
        page.keyboard.press("x" if _key(name, place[first]) != "x" else "2")
        _progress(page, 1)
        page.keyboard.press("u")
        _progress(page, 0)
        assert _shown_sample(page) == first
    for done in range(20):
        if name == "anna" and done == 10:
            _shot(page, "review-queue")
        sample_id = _shown_sample(page)
        page.keyboard.press(_key(name, place[sample_id]))
        _progress(page, done + 1)
    expect(page.get_by_text("You have judged every sample handed to you")).to_be_visible()


def _value(judgement: dict[str, object]) -> str:
    """What a judgement says of the sample (core.review.agreement): rejected, or the label it gives."""
    return "rejected" if judgement["decision"] == "reject" else str(judgement["label"])


def _exported(lead: Actor, project: Project) -> dict[int, dict[str, str]]:
    """sample id -> {annotator: value} from the JSONL export's `judgements` column."""
    _, data = export_download(lead, project, "jsonl")
    frame = pd.read_json(io.BytesIO(data), lines=True)
    return {
        int(row["id"]): {str(j["annotator"]): _value(j) for j in json.loads(row["judgements"])}
        for _, row in frame.iterrows()
    }


def _heatmap(page) -> dict[str, object]:  # type: ignore[no-untyped-def]
    """The kappa heatmap as plotly holds it in the page (labels and the text written in each cell)."""
    chart = page.locator(".st-key-agreement_kappa_heatmap .js-plotly-plot")
    expect(chart).to_be_visible(timeout=30_000)
    return chart.evaluate("(plot) => ({x: plot.data[0].x, y: plot.data[0].y, text: plot.data[0].text})")


def test_three_annotators_judge_with_the_keyboard_and_the_figures_match_sklearn(  # type: ignore[no-untyped-def]
    studio_home: Path, postgres_url: str, browser
) -> None:
    store = Store(postgres_url, "server-login")
    project = _team(store)
    lead = Actor(store, "lena", "lead", team=True)
    place = {sample.id: number for number, sample in enumerate(sorted(iter_samples(lead, project), key=lambda s: s.id))}
    with running_studio(studio_home, demo=False, extra_env={"STUDIO_DATABASE_URL": postgres_url}) as url:
        lena = _sign_in(browser, url, "lena", height=1600)
        lena.goto(f"{url}/curate?project={project.id}")
        _idle(lena)
        _hand_out(lena)

        for name in ANNOTATORS:
            page = _sign_in(browser, url, name)
            page.goto(f"{url}/curate?project={project.id}")
            _idle(page)
            _judge_queue(page, name, place)
            page.context.close()

        judged = _exported(lead, project)
        assert all(len(given) == 2 for given in judged.values()) and len(judged) == SAMPLES
        disagreements = {sample_id for sample_id, given in judged.items() if len(set(given.values())) > 1}
        planted = {
            sample_id for sample_id, given in judged.items() if any(place[sample_id] in PLANTED[name] for name in given)
        }
        assert disagreements == planted and disagreements

        _tab(lena, "Adjudicate")
        expect(lena.get_by_text(f"{len(disagreements)} samples")).to_be_visible(timeout=30_000)
        disputed = (
            "() => [...document.querySelectorAll('[class*=\"st-key-adjudicate_\"]')]"
            ".flatMap(e => [...e.classList]).filter(c => /^st-key-adjudicate_\\d+$/.test(c))"
            ".map(c => Number(c.split('_').pop()))"
        )
        lena.wait_for_function(f"() => ({disputed})().length === {len(disagreements)}", timeout=30_000)
        _idle(lena)
        listed = lena.evaluate(disputed)
        assert set(listed) == disagreements
        assert {d.sample_id for d in adjudication_queue(lead, project)} == disagreements
        _shot(lena, "review-adjudicate")

        lena.goto(f"{url}/team?project={project.id}")
        _idle(lena)
        alpha_metric = lena.get_by_test_id("stMetric").filter(has_text="Krippendorff's alpha")
        shown_alpha = float(alpha_metric.get_by_test_id("stMetricValue").inner_text())
        heatmap = _heatmap(lena)
        heading = lena.get_by_role("heading", name="Agreement between the annotators")
        heading.evaluate("(element) => element.scrollIntoView()")
        _shot(lena, "team-agreement")

    # the same figures from the export, with sklearn and krippendorff
    values = sorted({value for given in judged.values() for value in given.values()})
    code = {value: number for number, value in enumerate(values)}
    ids = sorted(judged)
    reliability = np.full((len(ANNOTATORS), len(ids)), np.nan)
    for column, sample_id in enumerate(ids):
        for row, name in enumerate(ANNOTATORS):
            if name in judged[sample_id]:
                reliability[row, column] = code[judged[sample_id][name]]
    alpha = krippendorff.alpha(reliability_data=reliability, level_of_measurement="nominal")
    assert shown_alpha == pytest.approx(alpha, abs=0.0005)

    names = [f"{name.title()} ({name})" for name in ANNOTATORS]
    assert heatmap["x"] == names and heatmap["y"] == names
    for a, b in combinations(range(len(ANNOTATORS)), 2):
        both = [given for given in judged.values() if ANNOTATORS[a] in given and ANNOTATORS[b] in given]
        kappa = cohen_kappa_score([g[ANNOTATORS[a]] for g in both], [g[ANNOTATORS[b]] for g in both])
        cells = heatmap["text"]
        assert cells[a][b] == cells[b][a]  # type: ignore[index]
        assert float(cells[a][b]) == pytest.approx(kappa, abs=0.0005)  # type: ignore[index]
    store.dispose()

"""The Evaluate page's "Where the next samples pay most" with AppTest (issue 21): the real app script and SQLite store,
real runs of the linear probe on a tiny random encoder, real job workers. Without a learning curve it says what to
run and its button trains one; with curves it shows each language's likely gain of 100 synthetic and 10 human
samples, and its buttons open the targeted generation (100 samples) and the Curate queue of the language's
unlabelled human TRAIN texts."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from components.budget_advice_view import HUMAN_GAIN, SYNTHETIC_GAIN, advice_rows, buy_words, curve_sizes, row_sentence
from components.evaluation_views import language_title
from core.evaluation.budget_advice import budget_advice
from core.evaluation.error_cells import weak_cells
from core.front.accounts import add_account
from core.front.actor import Actor
from core.front.training import Gain, data_budget
from core.jobs.queue import list_jobs
from core.jobs.runner import run_job
from core.store import Store, open_store
from core.store.evaluations import get_evaluation
from core.store.projects import Project
from core.training.launch import TrainingRequest, start_training
from core.training.run_store import list_runs
from core.training.snapshot import SnapshotOptions
from tests.page_text import texts
from tests.training.test_uncertainty_job import add_unlabeled_human_texts
from tests.training_support import LANGUAGES, make_project, single_torch_thread
from tests.ui.test_evaluate_page import open_page, wait_for_job, widget

SECTION = "Where the next samples pay most"
ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "a long enough password"


@pytest.fixture(autouse=True)
def one_thread() -> Iterator[None]:
    with single_torch_thread():
        yield


def train(store: Store, project: Project, name: str, origin: str | None = None, curve: tuple[int, ...] = ()) -> None:
    options = SnapshotOptions(origins=(origin,)) if origin else SnapshotOptions()
    request = TrainingRequest(name=name, trainer="linear", options=options, curve=curve)
    _, job = start_training(store, project.id, request)
    assert run_job(store, job.id) == "done"


def evaluated_project(store: Store, encoder: Path) -> Project:
    """Two languages, 12 accepted synthetic and 12 accepted human TRAIN samples each, 12 unlabelled human texts
    each, and a probe trained on all of them (its evaluation is the one the page shows)."""
    project = make_project(store, encoder)
    add_unlabeled_human_texts(store, project.id)
    train(store, project, "probe")
    return project


def shown_gain(text: str) -> tuple[float, float, float]:
    """ "+0.012 (+0.004 to +0.020)" -> (0.012, 0.004, 0.020)."""
    found = re.fullmatch(r"\+(\d\.\d{3}) \(([+-]\d\.\d{3}) to ([+-]\d\.\d{3})\)", text)
    assert found, text
    expected, low, high = (float(g) for g in found.groups())
    return expected, low, high


def figures(gain: Gain | None) -> tuple[float, float, float]:
    assert gain is not None
    return gain.expected, gain.low, gain.high


def section_table(at: AppTest) -> pd.DataFrame:
    [table] = [t.value for t in at.dataframe if "macro-F1 now" in t.value.columns]
    return table


@pytest.mark.slow
def test_without_a_curve_it_says_what_to_run_and_its_button_trains_the_curve(
    sqlite_store: Store, tiny_encoder: Path
) -> None:
    project = evaluated_project(sqlite_store, tiny_encoder)
    at = open_page()
    assert SECTION in texts(at.subheader)
    sizes = curve_sizes(12, 3)
    assert sizes == (6, 12)  # 12 accepted synthetic samples per language: halves of it, down to 2 per label
    said = texts(at.info)
    assert "No learning curve on synthetic samples yet" in said
    assert f'python -m core train --project "{project.name}" --trainer linear --origin synthetic --curve 6,12' in said
    assert not [t for t in at.dataframe if "macro-F1 now" in t.value.columns]  # no figure without a curve

    at.button(key="budget_curve_synthetic").click().run()
    assert not at.exception, at.exception
    [curve] = [r for r in list_runs(open_store(), project.id) if r.mode == "curve"]
    assert curve.trainer == "linear" and curve.options["origins"] == ["synthetic"]
    assert curve.options["curve"] == list(sizes) and not curve.options["include_pending"]
    [job] = [j for j in list_jobs(open_store(), project.id, kind="train") if j.params == {"run_id": curve.id}]
    assert "The advice appears when it ends" in texts(at.info)
    wait_for_job(at, job.id, seconds=180)

    table = section_table(at)
    advice = data_budget(Actor.of(open_store()), project)
    assert list(table["language"]) == ["English (en)", "Swahili (sw)"]
    for shown, row in zip(table[SYNTHETIC_GAIN], advice, strict=True):
        assert shown_gain(shown) == pytest.approx(figures(row.synthetic), abs=5e-4)
    assert HUMAN_GAIN not in table.columns  # no human curve yet: what to run for one instead
    assert "No learning curve on labelled human samples yet" in texts(at.caption)
    assert any(b.key == "budget_curve_human" for b in at.button)
    assert not any(b.key == "budget_curve_synthetic" for b in at.button)


@pytest.mark.slow
def test_with_both_curves_it_compares_them_and_its_buttons_go_where_the_samples_are_bought(
    sqlite_store: Store, tiny_encoder: Path
) -> None:
    project = evaluated_project(sqlite_store, tiny_encoder)
    train(sqlite_store, project, "synthetic-curve", "synthetic", (3, 6, 12))
    train(sqlite_store, project, "human-curve", "human", (3, 6, 12))
    at = open_page()
    evaluation = get_evaluation(sqlite_store, widget(at.selectbox, "Evaluation").value)  # the one the page shows

    counts = {(code, origin): 12 for code in LANGUAGES for origin in ("synthetic", "human")}
    advice = budget_advice(sqlite_store, project, counts)
    table = section_table(at)
    assert table.to_dict("records") == advice_rows(advice, evaluation)
    assert list(table["macro-F1 now"]) == [f"{evaluation.metrics[code]['macro_f1']:.3f}" for code in LANGUAGES]
    for shown, row in zip(table[HUMAN_GAIN], advice, strict=True):
        assert shown_gain(shown) == pytest.approx(figures(row.human), abs=5e-4)
    for row in advice:
        assert f"**{language_title(row.language)}** · {row_sentence(row)}" in texts(at.markdown)
    assert list(table["buys more"]) == [buy_words(a) for a in advice]
    assert set(table["buys more"]) <= {"100 synthetic", "10 human", "too close to call"}
    assert "synthetic-curve" in texts(at.caption) and "human-curve" in texts(at.caption)

    # Generate 100 more: the weak-cell form, for the language's most frequent confusion, asking for 100
    at.button(key="budget_generate_sw").click().run()
    assert not at.exception, at.exception
    [worst] = weak_cells(evaluation, top=1, language="sw")
    assert f"**Generate more Swahili samples of '{worst.true}' that are clearly not '{worst.predicted}'**" in texts(
        at.markdown
    )
    assert widget(at.number_input, "How many new samples").value == 100

    # Review 10 human samples: the Curate page's queue of Swahili texts without a label
    at.button(key="budget_review_sw").click().run()
    assert not at.exception, at.exception
    assert widget(at.selectbox, "Queue").value == "To label (no label yet)"
    assert widget(at.multiselect, "Language").value == ["sw"]
    assert "heard at the market" in " ".join(str(t.value) for t in at.text)  # an unlabelled Swahili text to label
    assert "Sample 1 of 8 in this queue" in texts(at.caption)


def test_a_first_curve_halves_what_the_largest_language_has_down_to_two_per_label() -> None:
    assert curve_sizes(280, 7) == (35, 70, 140, 280)
    assert curve_sizes(40, 7) == (14, 20, 40)  # never under two per label
    assert curve_sizes(27, 7) == ()  # under four per label: too few for a curve
    assert curve_sizes(0, 3) == ()


@pytest.mark.slow
def test_a_viewer_reads_the_advice_but_trains_generates_and_reviews_nothing(
    sqlite_store: Store, tiny_encoder: Path
) -> None:
    project = evaluated_project(sqlite_store, tiny_encoder)
    train(sqlite_store, project, "synthetic-curve", "synthetic", (3, 6, 12))
    owner = Actor.of(sqlite_store)
    add_account(owner, "olga", "owner", PASSWORD)
    add_account(Actor(sqlite_store, "olga", "owner", team=True), "victor", "viewer", PASSWORD)

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.run()
    at.text_input[0].input("victor")
    at.text_input[1].input(PASSWORD)
    at.button(key="FormSubmitter:sign_in-Sign in").click().run()
    at.switch_page("pages/evaluate.py").run()
    assert not at.exception, at.exception

    assert list(section_table(at)["language"]) == ["English (en)", "Swahili (sw)"]
    said = texts(at.caption)
    assert "No learning curve on labelled human samples yet" in said and "with the button below" not in said
    assert "--origin human --curve 6,12" in said  # what to ask someone who may train
    keys = {b.key: b for b in at.button}
    assert "budget_curve_human" not in keys
    assert all(keys[f"budget_{kind}_{code}"].disabled for kind in ("generate", "review") for code in LANGUAGES)

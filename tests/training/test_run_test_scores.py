"""A training run's test scores are stored once, in its evaluation: reading the run gives the scores of its newest
evaluation (a re-evaluation changes what the run, its table and the CLI report), and a run trained before
evaluations existed (test scores in its own row, no evaluation) still reports its own."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from core.cli import main
from core.evaluation.evaluations import list_evaluations, run_evaluation_of
from core.jobs.queue import get_job
from core.jobs.runner import run_job
from core.store import Store
from core.store.schema import SampleRow, TrainingRunRow
from core.store.training_runs import finish_run, insert_run
from core.training.launch import TrainingRequest, start_training
from core.training.run_store import get_run, get_run_by_id, list_runs
from core.training.run_views import language_scores, runs_table
from tests.training_support import make_project, single_torch_thread

RUN_FIGURES = {"test", "validation", "validation_languages", "fit", "train_samples", "validation_samples", "notes"}


@pytest.fixture(autouse=True)
def one_thread() -> Iterator[None]:
    with single_torch_thread():
        yield


def listed_runs(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    assert main(["runs", "--project", "crops", "--json"]) == 0
    listed: list[dict[str, Any]] = json.loads(capsys.readouterr().out)
    return listed


def test_a_new_evaluation_of_a_run_changes_what_the_run_reports(
    store: Store, tiny_encoder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = make_project(store, tiny_encoder)
    run, job = start_training(store, project.id, TrainingRequest(name="probe", trainer="linear"))
    assert run_job(store, job.id) == "done"
    first = run_evaluation_of(store, project.id, run.id)
    assert first is not None and first.test_size == 24
    trained = get_run_by_id(store, run.id)
    assert trained.test_macro_f1 == first.mean_macro_f1 and trained.metrics is not None
    assert set(trained.metrics) == RUN_FIGURES and trained.metrics["test"]["samples"] == 24
    assert get_job(store, job.id).result["mean_macro_f1"] == first.mean_macro_f1
    assert f"mean macro-F1 on the test split {first.mean_macro_f1:.3f}" in trained.message
    with store.session() as session:  # the run's own row keeps its training figures, not the test scores
        stored = session.scalar(select(TrainingRunRow.metrics).where(TrainingRunRow.id == run.id))
        assert stored is not None and set(stored) == RUN_FIGURES - {"test"}

    # the test split changes (a test sample is rejected) and the run is evaluated again: a new evaluation
    with store.session() as session:
        session.execute(update(SampleRow).where(SampleRow.text == "cloud rain test 0 en").values(status="rejected"))
    assert main(["evaluate", "--project", "crops", "--run", "probe", "--json"]) == 0
    capsys.readouterr()
    second = run_evaluation_of(store, project.id, run.id)
    assert second is not None and second.id != first.id and second.test_size == 23
    assert [e.id for e in list_evaluations(store, project.id)] == [second.id, first.id]

    for reported in (get_run_by_id(store, run.id), get_run(store, project.id, "probe"), *list_runs(store, project.id)):
        assert reported.metrics is not None and set(reported.metrics) == RUN_FIGURES
        test = reported.metrics["test"]
        assert test["samples"] == 23 and reported.test_macro_f1 == second.mean_macro_f1
        assert test["overall"]["accuracy"] == second.overall["accuracy"]
        assert {s["language"]: s["macro_f1"] for s in language_scores(reported)} == {
            code: second.metrics[code]["macro_f1"] for code in second.languages
        }
        assert {s["language"]: s["samples"] for s in language_scores(reported)} == {"en": 11, "sw": 12}
        assert reported.metrics["fit"] == trained.metrics["fit"]  # the training figures are the run's own
    [row] = runs_table(list_runs(store, project.id))
    assert row["test macro-F1"] == round(second.mean_macro_f1, 4)
    [shown] = listed_runs(capsys)  # the CLI's JSON keeps its fields
    assert set(shown["metrics"]) == RUN_FIGURES and shown["metrics"]["test"]["samples"] == 23
    assert shown["metrics"]["test"]["mean_macro_f1"] == second.mean_macro_f1


def test_a_run_trained_before_evaluations_reports_its_own_test_scores(
    store: Store, tiny_encoder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = make_project(store, tiny_encoder)
    scores = {"samples": 8, "accuracy": 0.75, "macro_f1": 0.7, "per_label": [], "labels": [], "confusion": []}
    legacy_test = {
        "samples": 16,
        "mean_macro_f1": 0.65,
        "languages": {"en": scores, "sw": {**scores, "macro_f1": 0.6}},
        "overall": {**scores, "samples": 16},
    }
    figures = {"test": legacy_test, "validation": None, "fit": {"seconds": 1.0}, "train_samples": 40, "notes": []}
    run = insert_run(
        store, project.id, "old", trainer="linear", mode="single", base_model=str(tiny_encoder),
        params={}, options={}, snapshot={"total": 40}, folder_name=lambda run_id: f"old-{run_id}",
    )  # fmt: skip
    finish_run(store, run.id, "done", "Trained on 40 samples", metrics=figures)
    assert run_evaluation_of(store, project.id, run.id) is None

    reported = get_run_by_id(store, run.id)
    assert reported.metrics == figures and reported.test_macro_f1 == 0.65
    assert language_scores(reported) == [
        {"language": "en", "samples": 8, "accuracy": 0.75, "macro_f1": 0.7},
        {"language": "sw", "samples": 8, "accuracy": 0.75, "macro_f1": 0.6},
    ]
    [listed] = list_runs(store, project.id)
    assert listed == reported and runs_table([listed])[0]["test macro-F1"] == 0.65
    [shown] = listed_runs(capsys)
    assert shown["metrics"] == figures

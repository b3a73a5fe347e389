"""A real trained run (the linear probe on a tiny random encoder) evaluated on the test split through the CLI: the
figures equal scikit-learn's on the model's own predictions, are stored with the run and the test hash, compare with
a baseline on the same test set, and go when the run is deleted."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sklearn import metrics as sk

from core.cli import main
from core.evaluation.choices import evaluation_choices
from core.evaluation.comparison import compare
from core.evaluation.evaluations import latest_evaluation, list_evaluations, load_predictions, save_evaluation
from core.evaluation.metrics import OVERALL, Prediction, hash_test_ids
from core.evaluation.model_scores import load_test_set
from core.evaluation.run_evaluation import submit_evaluation
from core.jobs.queue import get_job
from core.jobs.runner import run_job
from core.store import Store
from core.store.schema import TrainingRunRow
from core.training.artifacts import read_run_file
from core.training.launch import TrainingRequest, start_training
from core.training.predict import open_model, predict_texts
from core.training.run_store import delete_run, get_run_by_id
from tests.training_support import make_project, single_torch_thread


@pytest.fixture(autouse=True)
def one_thread() -> Iterator[None]:
    with single_torch_thread():
        yield


def test_evaluate_a_trained_run(sqlite_store: Store, tiny_encoder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store = sqlite_store
    project = make_project(store, tiny_encoder)
    run, job = start_training(store, project.id, TrainingRequest(name="probe", trainer="linear"))
    assert run_job(store, job.id) == "done"
    # the training job stored the run's evaluation on the test split: nothing more to click
    [choice] = evaluation_choices(store, project.id)
    automatic = choice.evaluation
    assert (choice.name, choice.kind) == ("probe", "run") and automatic is not None
    assert "not evaluated" not in choice.label and f"{automatic.mean_macro_f1:.3f}" in choice.label
    assert get_job(store, job.id).result["evaluation_id"] == automatic.id and automatic.training_run_id == run.id
    automatic_predictions = load_predictions(store, automatic.id)

    assert main(["evaluate", "--project", "crops", "--run", "probe", "--json"]) == 0
    metrics = json.loads(capsys.readouterr().out)
    test = load_test_set(store, project)
    predicted = predict_texts(open_model(store, project.id, "probe"), test.texts)
    for language in ("en", "sw", OVERALL):
        at = [i for i, code in enumerate(test.languages) if language == OVERALL or code == language]
        truth, guess = [test.labels[i] for i in at], [predicted.labels[i] for i in at]
        assert metrics[language]["macro_f1"] == pytest.approx(sk.f1_score(truth, guess, average="macro"))
        assert metrics[language]["accuracy"] == pytest.approx(sk.accuracy_score(truth, guess))
        labels = metrics[language]["labels"]
        assert metrics[language]["confusion"] == sk.confusion_matrix(truth, guess, labels=labels).tolist()
    assert metrics[OVERALL]["test_hash"] == hash_test_ids(test.sample_ids)
    # the training core's own test figures (kept in the model's run.json) agree with the evaluation's
    trained = read_run_file(run.folder)["outcome"]["test"]
    assert trained["mean_macro_f1"] == pytest.approx(metrics[OVERALL]["mean_macro_f1"])
    # the run's test scores are its newest evaluation's, stored once: not in the run's own row
    reported = get_run_by_id(store, run.id).metrics["test"]
    assert reported["mean_macro_f1"] == metrics[OVERALL]["mean_macro_f1"] and reported["samples"] == len(test.texts)
    for language in ("en", "sw"):
        assert reported["languages"][language]["macro_f1"] == metrics[language]["macro_f1"]
        assert reported["languages"][language]["confusion"] == metrics[language]["confusion"]
    assert reported["overall"]["accuracy"] == metrics[OVERALL]["accuracy"]
    with store.session() as session:
        assert "test" not in session.get(TrainingRunRow, run.id).metrics

    evaluation = latest_evaluation(store, project.id, "probe")
    assert evaluation.training_run_id == run.id and evaluation.source == "run" and evaluation.point is None
    stored = load_predictions(store, evaluation.id)
    assert [p.confidence for p in stored] == pytest.approx(predicted.confidences)
    # evaluating again from the saved model gives what the training job stored (and replaces it: same test set)
    assert evaluation.metrics == automatic.metrics and evaluation.created_at > automatic.created_at
    assert [(p.sample_id, p.predicted) for p in stored] == [(p.sample_id, p.predicted) for p in automatic_predictions]
    assert [p.confidence for p in automatic_predictions] == pytest.approx(predicted.confidences)
    assert [e.created_at for e in list_evaluations(store, project.id)] == [evaluation.created_at]

    again = submit_evaluation(store, project.id, "probe")  # what a page queues: the same run, same test set
    assert run_job(store, again.id) == "done"
    [replaced] = list_evaluations(store, project.id)
    assert replaced.created_at > evaluation.created_at and replaced.metrics == evaluation.metrics
    [choice] = evaluation_choices(store, project.id)
    assert choice.evaluation == replaced and f"{replaced.mean_macro_f1:.3f}" in choice.label

    coin = [Prediction(p.sample_id, p.language, p.true_label, "price") for p in stored]
    baseline = save_evaluation(store, project, name="always price", source="baseline", predictions=coin)
    comparison = compare(store, [replaced, baseline], seed=0, resamples=200)
    assert comparison.result.scores["always price"]["mean"].estimate == pytest.approx(baseline.mean_macro_f1)

    delete_run(store, get_run_by_id(store, run.id))
    assert [e.name for e in list_evaluations(store, project.id)] == ["always price"]  # the run's went with it

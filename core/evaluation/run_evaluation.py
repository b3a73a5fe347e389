"""Evaluating a trained run on the project's human test split (the training core loads the model and predicts).

A training job stores the evaluation of the model it has just trained itself (`save_run_evaluation`, with the
predictions it made on the test split anyway), so a finished run is on the Evaluate page without another step.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from core.errors import InvalidInput
from core.evaluation.evaluations import Evaluation, save_evaluation
from core.evaluation.metrics import Prediction
from core.evaluation.model_scores import TestPredictions, TestSet, load_test_set
from core.store.database import Store
from core.store.projects import Project, get_project
from core.store.training_runs import TrainingRun
from core.training.predict import open_model, predict_texts

if TYPE_CHECKING:
    from core.jobs.lifecycle import Launched
    from core.jobs.queue import Job

Progress = Callable[[float, str], None]


def evaluate_run(
    store: Store,
    project_ref: int | str,
    run_name: str,
    *,
    point: int | None = None,
    progress: Progress | None = None,
) -> Evaluation:
    """Label every human test sample with the run's model, score per language and pooled, store it all."""
    project = get_project(store, project_ref)
    model = open_model(store, project.id, run_name, point)
    test = load_test_set(store, project)
    if not test.sample_ids:
        raise InvalidInput(
            f"The project '{project.name}' has no labelled human test samples to evaluate on: import some with "
            "--split test --origin human."
        )
    predictions = predict_texts(model, test.texts, progress, languages=test.languages)
    return save_run_evaluation(
        store, project, model.run, TestPredictions(test, predictions.labels, predictions.confidences), model.point
    )


def save_run_evaluation(
    store: Store, project: Project, run: TrainingRun, predictions: TestPredictions, point: int | None = None
) -> Evaluation:
    """Store a run's predictions on the test split as its evaluation (scored per language and pooled)."""
    test: TestSet = predictions.test
    rows = [
        Prediction(sample_id, language, truth, label, confidence)
        for sample_id, language, truth, label, confidence in zip(
            test.sample_ids, test.languages, test.labels, predictions.labels, predictions.confidences, strict=True
        )
    ]
    return save_evaluation(
        store, project, name=run.name, source="run", predictions=rows, training_run_id=run.id, point=point
    )


def submit_evaluation(store: Store, project_ref: int | str, run_name: str, *, point: int | None = None) -> Job:
    """Queue the `evaluate` job of a finished run, to run here (core.jobs.lifecycle.run_here)."""
    return launch_evaluation(store, project_ref, run_name, point=point, background=False).job


def launch_evaluation(
    store: Store, project_ref: int | str, run_name: str, *, point: int | None = None, background: bool = True
) -> Launched[TrainingRun]:
    """Launch the `evaluate` job of a finished run (heavy: it loads the run's model)."""
    from core.jobs.lifecycle import Launched, launch
    from core.training.run_store import get_run

    project = get_project(store, project_ref)
    run = get_run(store, project.id, run_name)
    if run.status != "done":
        raise InvalidInput(f"The run '{run.name}' is {run.status}: only a finished run can be evaluated.")
    params = {"run": run.name, "point": point}
    return Launched(run, launch(store, "evaluate", params, project_id=project.id, heavy=True, background=background))

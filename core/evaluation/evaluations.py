"""Evaluations: the figures of a run, a baseline, or a quick check (a predictions file, a Hugging Face model) on
the test split, scored from its predictions, with the hash of the test-sample ids they were computed on. Evaluating
the same thing again on the same test set replaces the old evaluation; on a changed test set it adds a new one (the
newest is the one shown). The rows are read and written by `core.store.evaluations`."""

from __future__ import annotations

from collections.abc import Sequence

from core.errors import InvalidInput, NotFound
from core.evaluation.intervals import score_intervals
from core.evaluation.metrics import OVERALL, evaluation_metrics, hash_test_ids
from core.store import evaluations as stored
from core.store.database import Store
from core.store.evaluations import (
    ANSWER_CHARS,
    SOURCE_TITLES,
    SOURCES,
    Evaluation,
    Prediction,
    get_evaluation,
    list_evaluations,
    load_predictions,
)
from core.store.projects import Project

__all__ = [
    "ANSWER_CHARS",
    "SOURCES",
    "SOURCE_TITLES",
    "Evaluation",
    "get_evaluation",
    "latest_evaluation",
    "latest_evaluations",
    "list_evaluations",
    "load_predictions",
    "run_evaluation_of",
    "save_evaluation",
]


def save_evaluation(
    store: Store,
    project: Project,
    *,
    name: str,
    source: str,
    predictions: Sequence[Prediction],
    training_run_id: int | None = None,
    baseline_id: int | None = None,
    point: int | None = None,
) -> Evaluation:
    """Score the predictions and store them with the figures and the test hash (one transaction)."""
    if source not in SOURCES:
        raise InvalidInput(f"Unknown kind of evaluation '{source}'.")
    if not predictions:
        raise InvalidInput("There is nothing to evaluate: the project has no labelled human test samples.")
    ids = [p.sample_id for p in predictions]
    if len(set(ids)) != len(ids):
        raise InvalidInput("A test sample appears twice among the predictions.")
    metrics = evaluation_metrics(predictions, project.label_names, project.language_codes)
    digest = hash_test_ids(ids)
    metrics[OVERALL]["test_hash"] = digest
    evaluation = stored.replace_evaluation(
        store,
        project.id,
        name=name,
        source=source,
        test_hash=digest,
        metrics=metrics,
        predictions=predictions,
        training_run_id=training_run_id,
        baseline_id=baseline_id,
        point=point,
    )
    # the bootstrap intervals, once: a page showing them must not resample tens of thousands of test samples
    found = score_intervals(evaluation, list(predictions))
    return stored.keep_intervals(store, evaluation.id, {g: [i.estimate, i.low, i.high] for g, i in found.items()})


def latest_evaluations(store: Store, project_id: int) -> list[Evaluation]:
    """The newest evaluation of each name (a run, a curve point or a baseline), newest first."""
    seen: set[tuple[str, int | None]] = set()
    latest = []
    for evaluation in list_evaluations(store, project_id):
        key = (evaluation.name, evaluation.point)
        if key not in seen:
            seen.add(key)
            latest.append(evaluation)
    return latest


def latest_evaluation(store: Store, project_id: int, name: str) -> Evaluation:
    for evaluation in list_evaluations(store, project_id):
        if evaluation.name == name.strip():
            return evaluation
    raise NotFound(
        f"Nothing called '{name}' has been evaluated in this project yet. "
        f'Evaluate it first: python -m core evaluate --project P --run "{name}"'
    )


def run_evaluation_of(store: Store, project_id: int, run_id: int) -> Evaluation | None:
    """The newest evaluation of a training run (of any curve point), None when it has none."""
    return next((e for e in list_evaluations(store, project_id) if e.training_run_id == run_id), None)

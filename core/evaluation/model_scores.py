"""Scoring a trained model on the project's human TEST split: the test set, the model's predictions on it,
per-language macro-F1 and their mean."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from core.store import evaluation_samples
from core.store.database import Store
from core.store.evaluation_samples import TEST_STATUSES, TestSet
from core.store.projects import Project
from core.training.metrics import mean_macro_f1, score, score_by_language
from core.training.trainers.base import Trainer

__all__ = [
    "TEST_STATUSES",
    "TestPredictions",
    "TestSet",
    "count_test_samples",
    "evaluate",
    "load_test_set",
    "macro_f1_by_language",
    "predict_test",
    "scores_of",
]


def count_test_samples(store: Store, project: Project) -> int:
    """How many samples `load_test_set` would load (without reading their texts)."""
    return evaluation_samples.count_test_samples(store, project.id, project.label_names)


def load_test_set(store: Store, project: Project, languages: list[str] | None = None) -> TestSet:
    """The project's human test samples with a project label (not rejected), of these languages when given."""
    return evaluation_samples.load_test_set(store, project.id, project.label_names, languages)


@dataclass(frozen=True)
class TestPredictions:
    """A model's label and confidence for each sample of a test set (in its order): what an evaluation stores."""

    __test__ = False  # not a pytest class

    test: TestSet
    labels: list[str]
    confidences: list[float]


def predict_test(
    trainer: Trainer, test: TestSet, progress: Callable[[float, str], None] | None = None
) -> TestPredictions | None:
    """The model's predictions on the test split; None when the project has no labelled human test samples."""
    if not test.texts:
        return None
    proba = trainer.predict_proba(test.texts, progress, languages=test.languages)
    best = proba.argmax(axis=1)
    return TestPredictions(
        test, [trainer.classes[i] for i in best], [float(proba[row, i]) for row, i in enumerate(best)]
    )


def scores_of(predictions: TestPredictions | None) -> dict[str, Any] | None:
    """Scores per language (macro-F1 over the labels in that language's truth or predictions), their mean, and
    the scores over all test samples together. None without test predictions."""
    if predictions is None:
        return None
    test, predicted = predictions.test, predictions.labels
    by_language = score_by_language(test.labels, predicted, test.languages)
    return {
        "samples": len(test.texts),
        "mean_macro_f1": mean_macro_f1(by_language),
        "languages": {language: scores.to_dict() for language, scores in by_language.items()},
        "overall": score(test.labels, predicted).to_dict(),
    }


def evaluate(
    trainer: Trainer, test: TestSet, progress: Callable[[float, str], None] | None = None
) -> dict[str, Any] | None:
    """`scores_of` the trainer's predictions on the test split (None without test samples)."""
    return scores_of(predict_test(trainer, test, progress))


def macro_f1_by_language(test_metrics: dict[str, Any] | None) -> dict[str, float]:
    """{language: macro-F1} from `evaluate`'s result (empty when there was no test set)."""
    if not test_metrics:
        return {}
    return {language: float(s["macro_f1"]) for language, s in test_metrics.get("languages", {}).items()}

"""Scoring a trained model on the project's human TEST split: per-language macro-F1 and their mean."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from core.store.database import Store
from core.store.projects import Project
from core.store.schema import SampleRow
from core.training.metrics import mean_macro_f1, score, score_by_language
from core.training.trainers.base import Trainer

TEST_STATUSES = ("accepted", "pending")  # a test sample someone rejected does not count


@dataclass(frozen=True)
class TestSet:
    __test__ = False  # not a pytest class

    sample_ids: list[int]
    texts: list[str]
    labels: list[str]
    languages: list[str]


def count_test_samples(store: Store, project: Project) -> int:
    """How many samples `load_test_set` would load (without reading their texts)."""
    from sqlalchemy import func

    query = select(func.count()).where(
        SampleRow.project_id == project.id,
        SampleRow.split == "test",
        SampleRow.origin == "human",
        SampleRow.status.in_(TEST_STATUSES),
        SampleRow.label.in_(project.label_names),
    )
    with store.session() as session:
        return int(session.scalar(query) or 0)


def load_test_set(store: Store, project: Project, languages: list[str] | None = None) -> TestSet:
    query = (
        select(SampleRow.id, SampleRow.text, SampleRow.label, SampleRow.language)
        .where(
            SampleRow.project_id == project.id,
            SampleRow.split == "test",
            SampleRow.origin == "human",
            SampleRow.status.in_(TEST_STATUSES),
            SampleRow.label.in_(project.label_names),
        )
        .order_by(SampleRow.id)
    )
    if languages:
        query = query.where(SampleRow.language.in_(languages))
    with store.session() as session:
        rows = session.execute(query).all()
    return TestSet([r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows], [r[3] for r in rows])


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

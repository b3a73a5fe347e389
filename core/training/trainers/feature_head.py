"""Fitting the logistic-regression head of the linear and hybrid trainers, with its loss and validation points."""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from core.training.trainers.base import FitReport, LossPoint, Monitor, Validation, validation_scores
from core.training.trainers.linear_model import Features, LinearClassifier


def fit_head(
    features: Features,
    labels: list[str],
    classes: list[str],
    *,
    c: float,
    max_iter: int,
    monitor: Monitor,
    validation: Validation | None,
    validation_features: Callable[[], Features] | None,
    started: float,
) -> tuple[LinearClassifier, FitReport]:
    """Fit, then report the training loss (one point) and, with a validation part, its scores."""
    monitor.progress(0.8, f"Fitting the logistic regression on {len(labels):,} samples")
    head = LinearClassifier.fit(features, labels, classes, c=c, max_iter=max_iter)
    monitor.check_cancel()
    train = validation_scores(classes, head.predict_proba(features), labels)
    monitor.loss(LossPoint(step=1, epoch=1.0, loss=train["loss"]))
    report = FitReport(train_samples=len(labels), seconds=0.0, steps=1, epochs=1.0)
    if not head.converged:
        report.notes.append("The solver stopped at its iteration limit before converging (raise max_iter).")
    if validation is not None and validation.texts and validation_features is not None:
        monitor.progress(0.95, f"Scoring {len(validation.texts):,} validation samples")
        proba = head.predict_proba(validation_features())
        scores = validation_scores(classes, proba, validation.labels)
        report.validation = scores
        report.validation_languages = validation_by_language(classes, proba, validation)
        monitor.loss(LossPoint(step=1, epoch=1.0, loss=scores["loss"], split="validation", macro_f1=scores["macro_f1"]))
    report.seconds = time.monotonic() - started
    return head, report


def validation_by_language(
    classes: list[str], proba: np.ndarray, validation: Validation
) -> dict[str, dict[str, float]]:
    """{language: {samples, accuracy, macro_f1}} of the validation part (empty when its languages are unknown);
    each language's macro-F1 over the labels in its truth or predictions, as on the test split."""
    from core.training.metrics import score_by_language

    if not validation.languages or len(validation.languages) != len(validation.labels):
        return {}
    predicted = [classes[i] for i in proba.argmax(axis=1)]
    by_language = score_by_language(validation.labels, predicted, validation.languages)
    return {
        language: {"samples": s.samples, "accuracy": s.accuracy, "macro_f1": s.macro_f1}
        for language, s in by_language.items()
    }


def as_dense(vectors: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(vectors, dtype=np.float64)

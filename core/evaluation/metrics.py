"""The figures of an evaluation, from a list of predictions (a trained run's or a baseline's, the same shape).

Per group (one language, or `overall` = every test sample pooled): macro-F1, accuracy, n, the labels in the order
used, the confusion matrix (rows = true, columns = predicted, counts) and its row-normalised rates, and per-label
precision / recall / F1 / support. The per-label maths is the training core's (`core.training.metrics`, equal to
scikit-learn's): the labels scored are the project's labels that occur in the group's truth or predictions.

A prediction without a usable label (a baseline answer that was ambiguous or unparseable, or a request that
failed) counts as wrong for accuracy and for its true label's recall, never as a prediction of any label; it is
counted separately (`unparsed`, `unparsed_by_label`, `outcomes`) and is not a column of the matrix, so a row of
the matrix plus the row's unparsed count is the label's support.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

from core.store.evaluations import OVERALL, Prediction
from core.training.metrics import score

OUTCOMES = ("label", "ambiguous", "unparseable", "failed")
UNPARSED_OUTCOMES = OUTCOMES[1:]
_NO_LABEL = "\x00"  # stands for "no label" inside the maths; no label name can contain a NUL character


def hash_test_ids(sample_ids: Iterable[int]) -> str:
    """The sha256 of the sorted test-sample ids: two evaluations with the same hash scored the same test samples."""
    joined = ",".join(str(i) for i in sorted(set(int(i) for i in sample_ids)))
    return hashlib.sha256(joined.encode()).hexdigest()


def ordered_labels(present: Iterable[str], label_order: Sequence[str]) -> list[str]:
    """The labels present, in the project's order (labels the project no longer has come last, sorted)."""
    found = set(present)
    return [label for label in label_order if label in found] + sorted(found - set(label_order))


def group_scores(predictions: Sequence[Prediction], label_order: Sequence[str]) -> dict[str, Any]:
    truth = [p.true_label for p in predictions]
    predicted = [p.predicted if p.predicted is not None else _NO_LABEL for p in predictions]
    labels = ordered_labels({*truth, *(p for p in predicted if p != _NO_LABEL)}, label_order)
    scores = score(truth, predicted, labels)
    unparsed_by_label = Counter(p.true_label for p in predictions if p.predicted is None)
    support = {s.label: s.support for s in scores.per_label}
    rates = [
        [count / support[label] if support[label] else 0.0 for count in row]
        for label, row in zip(labels, scores.confusion, strict=True)
    ]
    outcomes = Counter(p.outcome for p in predictions if p.predicted is None)
    return {
        "macro_f1": scores.macro_f1,
        "accuracy": scores.accuracy,
        "n": len(predictions),
        "labels": labels,
        "confusion": scores.confusion,
        "confusion_normalized": rates,
        "per_label": {
            s.label: {"precision": s.precision, "recall": s.recall, "f1": s.f1, "support": s.support}
            for s in scores.per_label
        },
        "unparsed": sum(unparsed_by_label.values()),
        "unparsed_by_label": {label: unparsed_by_label[label] for label in labels if unparsed_by_label[label]},
        "outcomes": {kind: outcomes.get(kind, 0) for kind in UNPARSED_OUTCOMES},
    }


def evaluation_metrics(
    predictions: Sequence[Prediction], label_order: Sequence[str], language_order: Sequence[str] = ()
) -> dict[str, dict[str, Any]]:
    """{language code: scores, ..., "overall": pooled scores + mean_macro_f1 (the mean of the languages')}."""
    groups: dict[str, list[Prediction]] = {}
    for prediction in predictions:
        groups.setdefault(prediction.language, []).append(prediction)
    order = [code for code in language_order if code in groups] + sorted(set(groups) - set(language_order))
    result = {language: group_scores(groups[language], label_order) for language in order}
    overall = group_scores(list(predictions), label_order)
    overall["mean_macro_f1"] = sum(r["macro_f1"] for r in result.values()) / len(result) if result else 0.0
    overall["languages"] = order
    result[OVERALL] = overall
    return result

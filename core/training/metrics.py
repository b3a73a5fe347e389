"""Classification metrics, computed here (no sklearn) so every figure the studio shows has one definition.

Conventions follow scikit-learn's defaults: the labels scored are those in the truth or the predictions (or the
ones given), a precision / recall / F1 with a zero denominator counts as 0, and macro-F1 is the unweighted mean
of the per-label F1 scores.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True)
class LabelScore:
    label: str
    precision: float
    recall: float
    f1: float
    support: int  # samples of this label in the truth


@dataclass(frozen=True)
class Scores:
    """The scores of one group of predictions (one language, or all of them)."""

    samples: int
    accuracy: float
    macro_f1: float
    per_label: list[LabelScore] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)  # the order of the confusion matrix's rows and columns
    confusion: list[list[int]] = field(default_factory=list)  # rows: truth, columns: prediction

    def to_dict(self) -> dict[str, object]:
        return {
            "samples": self.samples,
            "accuracy": self.accuracy,
            "macro_f1": self.macro_f1,
            "per_label": [vars(s) for s in self.per_label],
            "labels": list(self.labels),
            "confusion": [list(row) for row in self.confusion],
        }


def scored_labels(truth: Sequence[str], predicted: Sequence[str], labels: Sequence[str] | None = None) -> list[str]:
    if labels is not None:
        return list(dict.fromkeys(labels))
    return sorted(set(truth) | set(predicted))


def confusion_matrix(truth: Sequence[str], predicted: Sequence[str], labels: Sequence[str]) -> list[list[int]]:
    index = {label: i for i, label in enumerate(labels)}
    matrix = [[0] * len(labels) for _ in labels]
    for t, p in zip(truth, predicted, strict=True):
        if t in index and p in index:
            matrix[index[t]][index[p]] += 1
    return matrix


def _ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator else 0.0


def label_scores(truth: Sequence[str], predicted: Sequence[str], labels: Sequence[str]) -> list[LabelScore]:
    if len(truth) != len(predicted):
        raise ValueError("truth and predictions differ in length")
    hits = Counter(t for t, p in zip(truth, predicted, strict=True) if t == p)
    predicted_n, support = Counter(predicted), Counter(truth)
    scores = []
    for label in labels:
        tp = hits[label]
        precision, recall = _ratio(tp, predicted_n[label]), _ratio(tp, support[label])
        f1 = _ratio(2 * tp, predicted_n[label] + support[label])  # = 2PR / (P + R), 0 when both are 0
        scores.append(LabelScore(label, precision, recall, f1, support[label]))
    return scores


def macro_f1(truth: Sequence[str], predicted: Sequence[str], labels: Sequence[str] | None = None) -> float:
    chosen = scored_labels(truth, predicted, labels)
    if not chosen:
        return 0.0
    return sum(s.f1 for s in label_scores(truth, predicted, chosen)) / len(chosen)


def accuracy(truth: Sequence[str], predicted: Sequence[str]) -> float:
    if len(truth) != len(predicted):
        raise ValueError("truth and predictions differ in length")
    return _ratio(sum(1 for t, p in zip(truth, predicted, strict=True) if t == p), len(truth))


def score(truth: Sequence[str], predicted: Sequence[str], labels: Sequence[str] | None = None) -> Scores:
    chosen = scored_labels(truth, predicted, labels)
    per_label = label_scores(truth, predicted, chosen)
    return Scores(
        samples=len(truth),
        accuracy=accuracy(truth, predicted),
        macro_f1=sum(s.f1 for s in per_label) / len(per_label) if per_label else 0.0,
        per_label=per_label,
        labels=chosen,
        confusion=confusion_matrix(truth, predicted, chosen),
    )


def score_by_language(
    truth: Sequence[str], predicted: Sequence[str], languages: Sequence[str], labels: Sequence[str] | None = None
) -> dict[str, Scores]:
    """Scores per language (each over the labels present in that language's truth or predictions, unless given)."""
    groups: dict[str, tuple[list[str], list[str]]] = {}
    for t, p, language in zip(truth, predicted, languages, strict=True):
        group = groups.setdefault(language, ([], []))
        group[0].append(t)
        group[1].append(p)
    return {language: score(t, p, labels) for language, (t, p) in sorted(groups.items())}


def mean_macro_f1(by_language: dict[str, Scores]) -> float:
    """The unweighted mean of the languages' macro-F1 (each language counts once, whatever its test size)."""
    if not by_language:
        return 0.0
    return sum(s.macro_f1 for s in by_language.values()) / len(by_language)

"""An evaluation's figures as typed scores: per language (and pooled) macro-F1, accuracy, the confusion matrix and
per-label precision / recall / F1, read from the stored metrics (whose JSON shape `core.evaluation.metrics` writes
and this module only reads); and which label is the weakest of a group."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from core.errors import InvalidInput
from core.store.evaluations import OVERALL, Evaluation


@dataclass(frozen=True)
class LabelScores:
    precision: float
    recall: float
    f1: float
    support: int  # test samples of this label


@dataclass(frozen=True)
class WeakLabel:
    label: str
    f1: float

    @property
    def text(self) -> str:
        return f"{self.label} (F1 {self.f1:.2f})"


@dataclass(frozen=True)
class LanguageScores:
    """One language's scores, or every test sample's pooled (`code` == OVERALL)."""

    code: str
    macro_f1: float
    accuracy: float
    n: int  # test samples
    labels: tuple[str, ...]  # the rows (and columns) of the confusion matrix, in the project's order
    confusion: tuple[tuple[int, ...], ...]  # rows = true, columns = predicted: counts
    per_label: Mapping[str, LabelScores]
    unparsed: int  # answers without a usable label (baselines, quick checks)
    unparsed_by_label: Mapping[str, int]  # of them, per true label (only labels that have some)
    outcomes: Mapping[str, int]  # of them, per kind (ambiguous, unparseable, failed)

    @property
    def pooled(self) -> bool:
        return self.code == OVERALL

    @classmethod
    def of(cls, code: str, group: Mapping[str, Any]) -> LanguageScores:
        """From one group of the stored metrics (`evaluation.metrics[code]`)."""
        per_label = group.get("per_label") or {}
        return cls(
            code=code,
            macro_f1=float(group.get("macro_f1", 0.0)),
            accuracy=float(group.get("accuracy", 0.0)),
            n=int(group.get("n", 0)),
            labels=tuple(str(label) for label in group.get("labels", [])),
            confusion=tuple(tuple(int(count) for count in row) for row in group.get("confusion", [])),
            per_label={
                str(label): LabelScores(
                    precision=float(s["precision"]),
                    recall=float(s["recall"]),
                    f1=float(s["f1"]),
                    support=int(s["support"]),
                )
                for label, s in per_label.items()
            },
            unparsed=int(group.get("unparsed", 0) or 0),
            unparsed_by_label={str(k): int(v) for k, v in (group.get("unparsed_by_label") or {}).items()},
            outcomes={str(k): int(v) for k, v in (group.get("outcomes") or {}).items()},
        )


@dataclass(frozen=True)
class EvaluationScores:
    languages: tuple[LanguageScores, ...]  # in the evaluation's order, without the pooled group
    overall: LanguageScores  # every test sample pooled
    mean_macro_f1: float  # the mean of the languages' macro-F1

    @property
    def groups(self) -> tuple[LanguageScores, ...]:
        """Every language, then the pooled group: the rows of a table of scores."""
        return (*self.languages, self.overall)

    def of(self, code: str) -> LanguageScores:
        """One language's scores (OVERALL: the pooled ones)."""
        for group in self.groups:
            if group.code == code:
                return group
        raise InvalidInput(f"This evaluation has no test samples in '{code}'.")


def evaluation_scores(evaluation: Evaluation) -> EvaluationScores:
    """The typed scores of an evaluation, from its stored metrics."""
    languages = tuple(LanguageScores.of(code, evaluation.metrics[code]) for code in evaluation.languages)
    return EvaluationScores(
        languages=languages,
        overall=LanguageScores.of(OVERALL, evaluation.overall),
        mean_macro_f1=evaluation.mean_macro_f1,
    )


def weakest_label(scores: LanguageScores) -> WeakLabel | None:
    """The label with the lowest F1 (the first by name on a tie); None when there is no label or every one is
    perfect (none is weak)."""
    if not scores.per_label:
        return None
    label = min(scores.per_label, key=lambda name: (scores.per_label[name].f1, name))
    f1 = scores.per_label[label].f1
    return None if f1 >= 1.0 else WeakLabel(label, f1)

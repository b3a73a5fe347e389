"""Confusion-matrix cells for drawing and picking, the weakest cells, and the test samples behind a cell."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from core.errors import InvalidInput
from core.evaluation.metrics import OVERALL
from core.evaluation.scores import LanguageScores
from core.store.database import Store
from core.store.evaluation_samples import sample_texts
from core.store.evaluations import Evaluation, cell_predictions

NO_ANSWER = "(no usable answer)"  # the column of an LLM's ambiguous, unparseable or missing answers


@dataclass(frozen=True)
class MatrixCell:
    row: int
    column: int
    true: str
    predicted: str
    count: int
    support: int  # test samples of the true label
    rate: float  # count / support: the row-normalised rate

    @property
    def text(self) -> str:
        return str(self.count)

    @property
    def hover(self) -> str:
        return f"true {self.true} → predicted {self.predicted}: {self.count} of {self.support} ({self.rate:.0%})"

    @property
    def correct(self) -> bool:
        return self.true == self.predicted


def matrix_cells(group: dict[str, Any], *, include_unparsed: bool = True) -> list[MatrixCell]:
    """`scores_cells` of one group of an evaluation's stored metrics."""
    return scores_cells(LanguageScores.of("", group), include_unparsed=include_unparsed)


def scores_cells(scores: LanguageScores, *, include_unparsed: bool = True) -> list[MatrixCell]:
    """Every cell of one language's (or the pooled) matrix, row by row; a last column for answers without a label
    when there were any. Counts are what the cells show; rates are for hover text (colour alone is not enough)."""
    labels = list(scores.labels)
    unparsed = scores.unparsed_by_label
    with_column = include_unparsed and bool(scores.unparsed)
    cells = []
    for i, (true, row) in enumerate(zip(labels, scores.confusion, strict=True)):
        support = scores.per_label[true].support
        counts = [*row, unparsed.get(true, 0)] if with_column else list(row)
        columns = [*labels, NO_ANSWER] if with_column else labels
        for j, (predicted, count) in enumerate(zip(columns, counts, strict=True)):
            cells.append(MatrixCell(i, j, true, predicted, int(count), support, count / support if support else 0.0))
    return cells


@dataclass(frozen=True)
class WeakCell:
    language: str
    true: str
    predicted: str
    count: int
    rate: float

    @property
    def title(self) -> str:
        return f"{self.language}: {self.true} taken for {self.predicted} ({self.count}, {self.rate:.0%})"


def weak_cells(evaluation: Evaluation, *, top: int = 5, language: str | None = None) -> list[WeakCell]:
    """The off-diagonal cells with the most test samples (then the highest rates), per language: where targeted
    generation should start."""
    found = []
    for code in evaluation.languages if language is None else [language]:
        group = evaluation.metrics.get(code)
        if group is None:
            raise InvalidInput(f"The evaluation '{evaluation.name}' has no test samples in '{code}'.")
        for cell in matrix_cells(group, include_unparsed=False):
            if not cell.correct and cell.count > 0:
                found.append(WeakCell(code, cell.true, cell.predicted, cell.count, cell.rate))
    found.sort(key=lambda c: (-c.count, -c.rate, c.language, c.true, c.predicted))
    return found[:top]


@dataclass(frozen=True)
class ErrorSample:
    sample_id: int
    language: str
    text: str
    true: str
    predicted: str | None
    confidence: float | None
    outcome: str
    answer: str | None  # an LLM's raw answer

    def to_row(self) -> dict[str, Any]:
        return {
            "sample": self.sample_id,
            "language": self.language,
            "text": self.text,
            "true": self.true,
            "predicted": self.predicted if self.predicted is not None else NO_ANSWER,
            "confidence": round(self.confidence, 4) if self.confidence is not None else None,
            "answer": self.answer,
        }


def cell_samples(
    store: Store,
    evaluation: Evaluation,
    true_label: str,
    predicted_label: str | None,
    *,
    language: str | None = None,
    limit: int = 500,
) -> list[ErrorSample]:
    """The test samples behind one cell (language None or "overall": every language), the most confident first.
    `predicted_label` None or NO_ANSWER: the samples whose answer gave no usable label."""
    wanted = None if predicted_label in (None, NO_ANSWER) else predicted_label
    # the cell's predictions alone, sorted and cut in the database (a big test split has tens of thousands)
    chosen = cell_predictions(
        store, evaluation.id, true_label, wanted, None if language in (None, OVERALL) else language, limit
    )
    texts = sample_texts(store, [p.sample_id for p in chosen])
    return [
        ErrorSample(
            p.sample_id,
            p.language,
            texts.get(p.sample_id, "(this test sample was deleted)"),
            p.true_label,
            p.predicted,
            p.confidence,
            p.outcome,
            p.answer,
        )
        for p in chosen
    ]

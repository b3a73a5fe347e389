"""Evaluations in the store: the figures of a run, a baseline, or a quick check (a predictions file, a Hugging Face
model) on the test split, its predictions, and the hash of the test-sample ids they were computed on. Storing the
same thing again on the same test set replaces the old evaluation; on a changed test set it adds a new one."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import ColumnElement, Table, delete, select

from core.errors import NotFound
from core.store.bulk import bulk_insert
from core.store.database import Store
from core.store.schema import EvaluationPredictionRow, EvaluationRow, utcnow

SOURCES = ("run", "baseline", "file", "model")
# what each source is, for people (titles, the report, the table of evaluations)
SOURCE_TITLES = {
    "run": "trained run",
    "baseline": "LLM baseline",
    "file": "predictions file",
    "model": "Hugging Face model",
}
OVERALL = "overall"  # the key of the figures over every test sample pooled (the other keys are languages)
ANSWER_CHARS = 2000  # an LLM's raw answer is kept up to this length with the prediction


@dataclass(frozen=True)
class Prediction:
    sample_id: int
    language: str
    true_label: str
    predicted: str | None  # None: no usable label (see `outcome`)
    confidence: float | None = None  # a trained model's probability of its label; None for an LLM's answer
    outcome: str = "label"  # label | ambiguous | unparseable | failed
    answer: str | None = None  # an LLM's raw answer

    @property
    def correct(self) -> bool:
        return self.predicted == self.true_label


@dataclass(frozen=True)
class Evaluation:
    id: int
    project_id: int
    name: str
    source: str  # run | baseline | file (a quick check of a predictions file) | model (a Hugging Face model)
    training_run_id: int | None
    baseline_id: int | None
    point: int | None
    test_hash: str
    test_size: int
    metrics: dict[str, dict[str, Any]]
    created_at: datetime
    created_by: str
    # the 95% bootstrap intervals of each group's macro-F1, [estimate, low, high], resampled once when it was made
    # (kept beside the figures, not among them); None for an evaluation made before they were kept
    intervals: dict[str, list[float]] | None = None

    @property
    def languages(self) -> list[str]:
        """The language codes of the figures, in their order (without `overall`)."""
        return [key for key in self.metrics if key != OVERALL]

    @property
    def overall(self) -> dict[str, Any]:
        return self.metrics.get(OVERALL, {})

    @property
    def mean_macro_f1(self) -> float:
        return float(self.overall.get("mean_macro_f1", 0.0))

    @property
    def title(self) -> str:
        """How people see it: the name, what it is, and the curve point when one was chosen."""
        kind = SOURCE_TITLES.get(self.source, self.source)
        point = f", curve point {self.point}" if self.point is not None else ""
        return f"{self.name} ({kind}{point})"

    def summary(self) -> dict[str, Any]:
        """One row for a table of evaluations."""
        return {
            "id": self.id,
            "name": self.name,
            "source": self.source,
            "point": self.point,
            "test samples": self.test_size,
            "test set": self.test_hash[:12],
            "mean macro-F1": round(self.mean_macro_f1, 4),
            "pooled macro-F1": round(float(self.overall.get("macro_f1", 0.0)), 4),
            "accuracy": round(float(self.overall.get("accuracy", 0.0)), 4),
            "unparsed": int(self.overall.get("unparsed", 0)),
            "created": f"{self.created_at:%Y-%m-%d %H:%M}",
            "by": self.created_by,
        }


KEPT_INTERVALS = "intervals"  # the key of the kept intervals in the row's figures, under OVERALL


def figures(metrics: dict[str, Any] | None) -> dict[str, dict[str, Any]]:
    """An evaluation row's figures as they were computed, without the intervals kept beside them."""
    found = dict(metrics or {})
    overall = found.get(OVERALL)
    if isinstance(overall, dict) and KEPT_INTERVALS in overall:
        found[OVERALL] = {key: value for key, value in overall.items() if key != KEPT_INTERVALS}
    return found


def _to_evaluation(row: EvaluationRow) -> Evaluation:
    return Evaluation(
        id=row.id,
        project_id=row.project_id,
        name=row.name,
        source=row.source,
        training_run_id=row.training_run_id,
        baseline_id=row.baseline_id,
        point=row.point,
        test_hash=row.test_hash,
        test_size=row.test_size,
        metrics=figures(row.metrics),
        created_at=row.created_at,
        created_by=row.created_by,
        intervals=(row.metrics or {}).get(OVERALL, {}).get(KEPT_INTERVALS),
    )


def _same(column: Any, value: int | None) -> ColumnElement[bool]:
    same: ColumnElement[bool] = column.is_(None) if value is None else column == value
    return same


def replace_evaluation(
    store: Store,
    project_id: int,
    *,
    name: str,
    source: str,
    test_hash: str,
    metrics: dict[str, dict[str, Any]],
    predictions: Sequence[Prediction],
    training_run_id: int | None = None,
    baseline_id: int | None = None,
    point: int | None = None,
) -> Evaluation:
    """Store the figures and the predictions, in place of an evaluation of the same thing on the same test set
    (one transaction)."""
    with store.session() as session:
        session.execute(
            delete(EvaluationRow).where(
                EvaluationRow.project_id == project_id,
                EvaluationRow.source == source,
                EvaluationRow.name == name,
                _same(EvaluationRow.training_run_id, training_run_id),
                _same(EvaluationRow.baseline_id, baseline_id),
                _same(EvaluationRow.point, point),
                EvaluationRow.test_hash == test_hash,
            )
        )
        row = EvaluationRow(
            project_id=project_id,
            name=name,
            source=source,
            training_run_id=training_run_id,
            baseline_id=baseline_id,
            point=point,
            test_hash=test_hash,
            test_size=len(predictions),
            metrics=metrics,
            created_at=utcnow(),
            created_by=store.user,
        )
        session.add(row)
        session.flush()
        bulk_insert(
            session,
            cast(Table, EvaluationPredictionRow.__table__),
            [
                {
                    "evaluation_id": row.id,
                    "sample_id": p.sample_id,
                    "language": p.language,
                    "true_label": p.true_label,
                    "predicted": p.predicted,
                    "confidence": p.confidence,
                    "outcome": p.outcome,
                    "answer": p.answer[:ANSWER_CHARS] if p.answer is not None else None,
                }
                for p in sorted(predictions, key=lambda p: p.sample_id)
            ],
        )
        return _to_evaluation(row)


def get_evaluation(store: Store, evaluation_id: int) -> Evaluation:
    with store.session() as session:
        row = session.get(EvaluationRow, evaluation_id)
        if row is None:
            raise NotFound(f"There is no evaluation #{evaluation_id}.")
        return _to_evaluation(row)


def list_evaluations(store: Store, project_id: int) -> list[Evaluation]:
    """The project's evaluations, newest first."""
    with store.session() as session:
        rows = session.scalars(
            select(EvaluationRow).where(EvaluationRow.project_id == project_id).order_by(EvaluationRow.id.desc())
        )
        return [_to_evaluation(r) for r in rows]


def keep_intervals(store: Store, evaluation_id: int, intervals: dict[str, list[float]]) -> Evaluation:
    """Keep the evaluation's score intervals ({group: [estimate, low, high]}) in its row (`Evaluation.intervals`)."""
    with store.session() as session:
        row = session.get(EvaluationRow, evaluation_id)
        if row is None:
            raise NotFound(f"There is no evaluation #{evaluation_id}.")
        row.metrics = {**row.metrics, OVERALL: {**row.metrics.get(OVERALL, {}), KEPT_INTERVALS: intervals}}
        session.flush()
        return _to_evaluation(row)


def cell_predictions(
    store: Store, evaluation_id: int, true_label: str, predicted: str | None, language: str | None, limit: int
) -> list[Prediction]:
    """The predictions of one cell of the evaluation's confusion matrix (`predicted` None: no usable label; language
    None: every language), the most confident first (those without a confidence last), then by sample id."""
    row = EvaluationPredictionRow
    conditions = [
        row.evaluation_id == evaluation_id,
        row.true_label == true_label,
        row.predicted.is_(None) if predicted is None else row.predicted == predicted,
    ]
    if language is not None:
        conditions.append(row.language == language)
    query = (
        select(row.sample_id, row.language, row.true_label, row.predicted, row.confidence, row.outcome, row.answer)
        .where(*conditions)
        .order_by(row.confidence.is_(None), row.confidence.desc(), row.sample_id)
        .limit(limit)
    )
    with store.session() as session:
        return [Prediction(*values) for values in session.execute(query).tuples()]


def load_predictions(store: Store, evaluation_id: int) -> list[Prediction]:
    """The evaluation's predictions, by sample id."""
    with store.session() as session:
        rows = session.scalars(
            select(EvaluationPredictionRow)
            .where(EvaluationPredictionRow.evaluation_id == evaluation_id)
            .order_by(EvaluationPredictionRow.sample_id)
        )
        return [
            Prediction(r.sample_id, r.language, r.true_label, r.predicted, r.confidence, r.outcome, r.answer)
            for r in rows
        ]

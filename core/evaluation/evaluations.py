"""Evaluations in the store: the figures of a run, a baseline, or a quick check (a predictions file, a Hugging Face
model) on the test split, its predictions, and the hash of the test-sample ids they were computed on. Evaluating the
same thing again on the same test set replaces the old evaluation; on a changed test set it adds a new one (the
newest is the one shown)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select

from core.errors import InvalidInput, NotFound
from core.evaluation.metrics import OVERALL, Prediction, evaluation_metrics, hash_test_ids, languages_of
from core.store.bulk import bulk_insert
from core.store.database import Store
from core.store.projects import Project
from core.store.schema import EvaluationPredictionRow, EvaluationRow, utcnow

SOURCES = ("run", "baseline", "file", "model")
# what each source is, for people (titles, the report, the table of evaluations)
SOURCE_TITLES = {
    "run": "trained run",
    "baseline": "LLM baseline",
    "file": "predictions file",
    "model": "Hugging Face model",
}
ANSWER_CHARS = 2000  # an LLM's raw answer is kept up to this length with the prediction


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

    @property
    def languages(self) -> list[str]:
        return languages_of(self.metrics)

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
        metrics=dict(row.metrics or {}),
        created_at=row.created_at,
        created_by=row.created_by,
    )


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
    with store.session() as session:
        session.execute(
            delete(EvaluationRow).where(
                EvaluationRow.project_id == project.id,
                EvaluationRow.source == source,
                EvaluationRow.name == name,
                _same(EvaluationRow.training_run_id, training_run_id),
                _same(EvaluationRow.baseline_id, baseline_id),
                _same(EvaluationRow.point, point),
                EvaluationRow.test_hash == digest,
            )
        )
        row = EvaluationRow(
            project_id=project.id,
            name=name,
            source=source,
            training_run_id=training_run_id,
            baseline_id=baseline_id,
            point=point,
            test_hash=digest,
            test_size=len(predictions),
            metrics=metrics,
            created_at=utcnow(),
            created_by=store.user,
        )
        session.add(row)
        session.flush()
        bulk_insert(
            session,
            EvaluationPredictionRow.__table__,
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


def _same(column: Any, value: int | None) -> Any:
    return column.is_(None) if value is None else column == value


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


def delete_evaluation(store: Store, evaluation_id: int) -> None:
    with store.session() as session:
        session.execute(delete(EvaluationRow).where(EvaluationRow.id == evaluation_id))

"""Training runs in the store: the row of a trained model (or a learning curve of them) with its settings,
snapshot summary, loss history, metrics and the path of its folder under the runs folder.

A run's test scores are those of its newest evaluation (`core.store.evaluations`), read with the run into
`metrics["test"]`; only runs trained before evaluations existed keep theirs in the run's own row."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from core.errors import NotFound
from core.settings import get_settings
from core.store.database import Store
from core.store.evaluations import OVERALL, figures
from core.store.schema import JOB_ACTIVE_STATUSES, EvaluationRow, JobRow, TrainingRunRow, utcnow

RUN_ACTIVE = ("queued", "running")


@dataclass(frozen=True)
class TrainingRun:
    id: int
    project_id: int
    name: str
    job_id: int | None
    trainer: str
    mode: str  # single | curve
    base_model: str
    params: dict[str, Any]
    options: dict[str, Any]
    snapshot: dict[str, Any]
    status: str
    message: str
    history: list[dict[str, Any]]
    metrics: dict[str, Any] | None  # "test": the scores of the run's newest evaluation (see `with_test_scores`)
    curve: list[dict[str, Any]]
    artifact_path: str
    created_at: datetime
    created_by: str
    started_at: datetime | None
    finished_at: datetime | None

    @property
    def active(self) -> bool:
        return self.status in RUN_ACTIVE

    @property
    def folder(self) -> Path:
        """The run's folder (its path is stored relative to the runs folder)."""
        return get_settings().runs_dir / self.artifact_path

    @property
    def seconds(self) -> float | None:
        if self.started_at is None or self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()

    @property
    def test_macro_f1(self) -> float | None:
        test = (self.metrics or {}).get("test") or {}
        value: float | None = test.get("mean_macro_f1")
        return value

    def to_public(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "project_id": self.project_id,
            "name": self.name,
            "job_id": self.job_id,
            "trainer": self.trainer,
            "mode": self.mode,
            "base_model": self.base_model,
            "params": self.params,
            "options": self.options,
            "snapshot": self.snapshot,
            "status": self.status,
            "message": self.message,
            "metrics": self.metrics,
            "curve": self.curve,
            "history_points": len(self.history),
            "folder": str(self.folder) if self.status == "done" else None,
            "created_by": self.created_by,
            "created_at": self.created_at.isoformat(),
            "started_at": self.started_at.isoformat() if self.started_at else None,
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
            "seconds": self.seconds,
        }


def to_run(row: TrainingRunRow, evaluated: dict[str, Any] | None = None) -> TrainingRun:
    """The run of a row; `evaluated`: the metrics of the run's newest evaluation, whose scores are its test scores."""
    return TrainingRun(
        id=row.id,
        project_id=row.project_id,
        name=row.name,
        job_id=row.job_id,
        trainer=row.trainer,
        mode=row.mode,
        base_model=row.base_model,
        params=dict(row.params or {}),
        options=dict(row.options or {}),
        snapshot=dict(row.snapshot or {}),
        status=row.status,
        message=row.message,
        history=list(row.history or []),
        metrics=with_test_scores(row.metrics, evaluated),
        curve=list(row.curve or []),
        artifact_path=row.artifact_path,
        created_at=row.created_at,
        created_by=row.created_by,
        started_at=row.started_at,
        finished_at=row.finished_at,
    )


def with_test_scores(stored: dict[str, Any] | None, evaluated: dict[str, Any] | None) -> dict[str, Any] | None:
    """The run's metrics with `test` taken from its newest evaluation's metrics (`evaluated`), in the shape the run
    has always shown: {samples, mean_macro_f1, languages: {code: scores}, overall: scores}, each scores {samples,
    accuracy, macro_f1, per_label: [{label, precision, recall, f1, support}], labels, confusion}. Without an
    evaluation the run keeps the test scores stored with it (runs trained before evaluations existed), or none."""
    if evaluated is None:
        return stored if stored is None else {**stored, "test": stored.get("test")}
    overall = evaluated[OVERALL]
    test = {
        "samples": overall["n"],
        "mean_macro_f1": overall["mean_macro_f1"],
        "languages": {code: _run_scores(scores) for code, scores in evaluated.items() if code != OVERALL},
        "overall": _run_scores(overall),
    }
    return {**(stored or {}), "test": test}


def _run_scores(group: dict[str, Any]) -> dict[str, Any]:
    """One group of an evaluation's figures (a language, or all test samples) as a run's test scores."""
    return {
        "samples": group["n"],
        "accuracy": group["accuracy"],
        "macro_f1": group["macro_f1"],
        "per_label": [{"label": label, **group["per_label"][label]} for label in group["labels"]],
        "labels": list(group["labels"]),
        "confusion": [list(row) for row in group["confusion"]],
    }


def _model_point(row: TrainingRunRow) -> int | None:
    """The curve point of the run's model: the largest of a learning curve, None for a single run."""
    sizes = [int(point["size"]) for point in row.curve or []]
    return max(sizes) if row.mode == "curve" and sizes else None


def _with_evaluations(session: Session, rows: list[TrainingRunRow]) -> list[TrainingRun]:
    """The runs of these rows, each with the test scores of the newest evaluation of its model (for a learning
    curve, of its largest point: the other points' scores are the curve's)."""
    if not rows:
        return []
    newest = (
        select(func.max(EvaluationRow.id))
        .where(EvaluationRow.training_run_id.in_([row.id for row in rows]))
        .group_by(EvaluationRow.training_run_id, EvaluationRow.point)
    )
    found = session.execute(
        select(EvaluationRow.training_run_id, EvaluationRow.point, EvaluationRow.metrics).where(
            EvaluationRow.id.in_(newest)
        )
    ).tuples()
    evaluated = {(run_id, point): figures(metrics) for run_id, point, metrics in found}
    return [to_run(row, evaluated.get((row.id, _model_point(row)))) for row in rows]


def insert_run(
    store: Store,
    project_id: int,
    name: str,
    *,
    trainer: str,
    mode: str,
    base_model: str,
    params: dict[str, Any],
    options: dict[str, Any],
    snapshot: dict[str, Any],
    folder_name: Callable[[int], str],
) -> TrainingRun:
    """A queued run; `folder_name(run id)` gives its folder's path relative to the runs folder."""
    with store.session() as session:
        row = TrainingRunRow(
            project_id=project_id,
            name=name,
            trainer=trainer,
            mode=mode,
            base_model=base_model,
            params=params,
            options=options,
            snapshot=snapshot,
            status="queued",
            message="Waiting to start",
            created_by=store.user,
        )
        session.add(row)
        session.flush()
        row.artifact_path = folder_name(row.id)
        session.flush()
        return to_run(row)


def run_id_named(store: Store, project_id: int, name: str) -> int | None:
    """The id of the project's run called `name` (exactly), None when there is none."""
    with store.session() as session:
        found: int | None = session.scalar(
            select(TrainingRunRow.id).where(TrainingRunRow.project_id == project_id, TrainingRunRow.name == name)
        )
        return found


def get_run_by_id(store: Store, run_id: int) -> TrainingRun:
    with store.session() as session:
        row = session.get(TrainingRunRow, run_id)
        if row is None:
            raise NotFound(f"There is no training run #{run_id}.")
        [run] = _with_evaluations(session, [row])
        return run


def find_run(store: Store, project_id: int, name: str) -> TrainingRun | None:
    with store.session() as session:
        row = session.scalar(
            select(TrainingRunRow).where(TrainingRunRow.project_id == project_id, TrainingRunRow.name == name.strip())
        )
        return _with_evaluations(session, [row])[0] if row is not None else None


def runs_named(store: Store, name: str) -> list[TrainingRun]:
    with store.session() as session:
        rows = session.scalars(select(TrainingRunRow).where(TrainingRunRow.name == name.strip()))
        return _with_evaluations(session, list(rows))


def project_runs(store: Store, project_id: int) -> list[TrainingRun]:
    """The project's runs as stored (with their evaluations' test scores), newest first."""
    with store.session() as session:
        query = select(TrainingRunRow).where(TrainingRunRow.project_id == project_id).order_by(TrainingRunRow.id.desc())
        return _with_evaluations(session, list(session.scalars(query)))


def update_run(store: Store, run_id: int, **values: Any) -> None:
    with store.session() as session:
        session.execute(update(TrainingRunRow).where(TrainingRunRow.id == run_id).values(**values))


def finish_run(store: Store, run_id: int, status: str, message: str, **values: Any) -> None:
    """Set a final status, but only on a run still active (a run already finished keeps its status)."""
    with store.session() as session:
        session.execute(
            update(TrainingRunRow)
            .where(TrainingRunRow.id == run_id, TrainingRunRow.status.in_(RUN_ACTIVE))
            .values(status=status, message=message, finished_at=utcnow(), **values)
        )


def delete_run_row(store: Store, run_id: int) -> None:
    with store.session() as session:
        session.execute(delete(TrainingRunRow).where(TrainingRunRow.id == run_id))


def end_runs_of_ended_jobs(store: Store, project_id: int | None = None) -> list[TrainingRun]:
    """Runs left active by a job that is no longer active become cancelled (the job was) or failed (with the
    job's message). Returns those runs as they are now."""
    ended = []
    with store.session() as session:
        query = (
            select(TrainingRunRow, JobRow)
            .join(JobRow, JobRow.id == TrainingRunRow.job_id, isouter=True)
            .where(TrainingRunRow.status.in_(RUN_ACTIVE))
        )
        if project_id is not None:
            query = query.where(TrainingRunRow.project_id == project_id)
        for run, job in session.execute(query).tuples().all():
            if job is None or job.status in JOB_ACTIVE_STATUSES:
                continue
            status = "cancelled" if job.status == "cancelled" else "failed"
            message = job.message if job.status != "done" else "The job ended without finishing the run."
            run.status, run.message, run.finished_at = status, message, run.finished_at or utcnow()
            ended.append(to_run(run))
    return ended

"""Training runs in the store: create, read, list, update, delete; and keeping their status true when the
worker behind them died (its job is then failed, and so is the run, whose folder cannot be complete)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import delete, select, update

from core.errors import InvalidInput, NotFound, StudioError
from core.store.database import Store
from core.store.schema import JOB_ACTIVE_STATUSES, JobRow, TrainingRunRow, utcnow
from core.training import artifacts

RUN_ACTIVE = ("queued", "running")
MAX_NAME = 100


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
    metrics: dict[str, Any] | None
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
        return artifacts.absolute(self.artifact_path)

    @property
    def seconds(self) -> float | None:
        if self.started_at is None or self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()

    @property
    def test_macro_f1(self) -> float | None:
        test = (self.metrics or {}).get("test") or {}
        return test.get("mean_macro_f1")

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


def to_run(row: TrainingRunRow) -> TrainingRun:
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
        metrics=row.metrics,
        curve=list(row.curve or []),
        artifact_path=row.artifact_path,
        created_at=row.created_at,
        created_by=row.created_by,
        started_at=row.started_at,
        finished_at=row.finished_at,
    )


def clean_name(name: str) -> str:
    cleaned = " ".join((name or "").split())
    if not cleaned:
        raise InvalidInput("A training run needs a name.")
    if len(cleaned) > MAX_NAME:
        raise InvalidInput(f"A run name may have at most {MAX_NAME} characters.")
    return cleaned


def create_run(
    store: Store,
    project_id: int,
    name: str,
    *,
    trainer: str,
    mode: str,
    base_model: str,
    params: dict[str, Any],
    options: dict[str, Any],
    snapshot: dict[str, Any] | None = None,
) -> TrainingRun:
    name = clean_name(name)
    with store.session() as session:
        taken = session.scalar(
            select(TrainingRunRow.id).where(TrainingRunRow.project_id == project_id, TrainingRunRow.name == name)
        )
        if taken is not None:
            raise InvalidInput(
                f"This project already has a run called '{name}': pick another name, or delete that run first "
                f'(python -m core runs delete "{name}").'
            )
        row = TrainingRunRow(
            project_id=project_id,
            name=name,
            trainer=trainer,
            mode=mode,
            base_model=base_model,
            params=params,
            options=options,
            snapshot=snapshot or {},
            status="queued",
            message="Waiting to start",
            created_by=store.user,
        )
        session.add(row)
        session.flush()
        row.artifact_path = artifacts.new_folder_name(project_id, row.id)
        session.flush()
        return to_run(row)


def get_run_by_id(store: Store, run_id: int) -> TrainingRun:
    with store.session() as session:
        row = session.get(TrainingRunRow, run_id)
        if row is None:
            raise NotFound(f"There is no training run #{run_id}.")
        return to_run(row)


def get_run(store: Store, project_id: int, name: str) -> TrainingRun:
    sync_runs(store, project_id)
    with store.session() as session:
        row = session.scalar(
            select(TrainingRunRow).where(TrainingRunRow.project_id == project_id, TrainingRunRow.name == name.strip())
        )
        if row is None:
            raise NotFound(f"This project has no training run called '{name}'. List them with: python -m core runs")
        return to_run(row)


def runs_named(store: Store, name: str) -> list[TrainingRun]:
    with store.session() as session:
        rows = session.scalars(select(TrainingRunRow).where(TrainingRunRow.name == name.strip()))
        return [to_run(r) for r in rows]


def list_runs(store: Store, project_id: int) -> list[TrainingRun]:
    """The project's runs, newest first (runs whose worker died are marked failed first)."""
    sync_runs(store, project_id)
    with store.session() as session:
        query = select(TrainingRunRow).where(TrainingRunRow.project_id == project_id).order_by(TrainingRunRow.id.desc())
        return [to_run(r) for r in session.scalars(query)]


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


def delete_run(store: Store, run: TrainingRun) -> None:
    """Delete the run's row and its folder. An active run must be cancelled first."""
    sync_runs(store, run.project_id)
    current = get_run_by_id(store, run.id)
    if current.active:
        raise StudioError(
            f"The run '{run.name}' is still {current.status}: cancel its job first "
            f"(python -m core jobs cancel {current.job_id})."
        )
    artifacts.remove_folder(current.folder)
    with store.session() as session:
        session.execute(delete(TrainingRunRow).where(TrainingRunRow.id == run.id))


def sync_runs(store: Store, project_id: int | None = None) -> list[int]:
    """Runs left active by a job that is no longer active (its worker was killed) become failed or cancelled;
    their folders (which cannot be complete) and abandoned build folders are removed. Returns those run ids."""
    from core.jobs.queue import reap_dead_workers

    reap_dead_workers(store)
    fixed = []
    with store.session() as session:
        query = (
            select(TrainingRunRow, JobRow)
            .join(JobRow, JobRow.id == TrainingRunRow.job_id, isouter=True)
            .where(TrainingRunRow.status.in_(RUN_ACTIVE))
        )
        if project_id is not None:
            query = query.where(TrainingRunRow.project_id == project_id)
        for run, job in session.execute(query).all():
            if job is None or job.status in JOB_ACTIVE_STATUSES:
                continue
            status = "cancelled" if job.status == "cancelled" else "failed"
            message = job.message if job.status != "done" else "The job ended without finishing the run."
            run.status, run.message, run.finished_at = status, message, run.finished_at or utcnow()
            fixed.append(run.id)
            artifacts.remove_folder(artifacts.absolute(run.artifact_path))
    parents = {artifacts.project_folder(project_id)} if project_id is not None else set()
    if project_id is None and artifacts.runs_root().is_dir():
        parents = {p for p in artifacts.runs_root().iterdir() if p.is_dir()}
    for parent in parents:
        artifacts.remove_stale_partials(parent)
    return fixed

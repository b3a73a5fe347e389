"""Job rows: every read and write of the `jobs` table (core.jobs holds the lifecycle around them)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.engine import CursorResult, Result

from core.store.database import Store
from core.store.schema import JOB_ACTIVE_STATUSES, JobRow, utcnow


@dataclass(frozen=True)
class Job:
    id: int
    project_id: int | None
    kind: str
    params: dict[str, Any]
    heavy: bool
    status: str
    progress: float
    message: str
    result: dict[str, Any] | None
    log_path: str
    cancel_requested: bool
    worker_pid: int | None
    worker_host: str | None
    created_by: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    run_key: str | None = None
    heartbeat_at: datetime | None = None  # the worker's last sign of life
    executor: str = "local"  # local | ray
    node: str | None = None  # the Ray node id of a Ray job's worker
    resources: dict[str, float] | None = None  # what a Ray job asked for

    @property
    def active(self) -> bool:
        return self.status in JOB_ACTIVE_STATUSES

    @property
    def title(self) -> str:
        """What the job does, for people ("Generating samples"); the kind's name for a kind this program lacks."""
        from core.errors import StudioError
        from core.jobs.registry import get_kind

        try:
            return get_kind(self.kind).title
        except StudioError:
            return self.kind

    def to_public(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "project_id": self.project_id,
            "kind": self.kind,
            "status": self.status,
            "progress": round(self.progress, 4),
            "message": self.message,
            "params": self.params,
            "result": self.result,
            "heavy": self.heavy,
            "cancel_requested": self.cancel_requested,
            "log_path": self.log_path,
            "created_by": self.created_by,
            "created_at": self.created_at.isoformat(),
            "started_at": self.started_at.isoformat() if self.started_at else None,
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
            "run_key": self.run_key,
            "executor": self.executor,
            "node": self.node if self.executor == "ray" else self.worker_host,
            "host": self.worker_host,
            "resources": self.resources,
        }


def _changed(result: Result[Any]) -> bool:
    """Whether an UPDATE changed a row."""
    return isinstance(result, CursorResult) and result.rowcount > 0


def to_job(row: JobRow) -> Job:
    return Job(
        id=row.id,
        project_id=row.project_id,
        kind=row.kind,
        params=dict(row.params or {}),
        heavy=row.heavy,
        status=row.status,
        progress=row.progress,
        message=row.message,
        result=row.result,
        log_path=row.log_path,
        cancel_requested=row.cancel_requested,
        worker_pid=row.worker_pid,
        worker_host=row.worker_host,
        created_by=row.created_by,
        created_at=row.created_at,
        started_at=row.started_at,
        finished_at=row.finished_at,
        run_key=row.run_key,
        heartbeat_at=row.heartbeat_at,
        executor=row.executor or "local",
        node=row.node,
        resources=dict(row.resources) if row.resources else None,
    )


def insert_job(
    store: Store,
    kind: str,
    params: dict[str, Any],
    *,
    project_id: int | None,
    heavy: bool,
    run_key: str | None,
    logs_dir: Path,
    executor: str = "local",
    resources: dict[str, float] | None = None,
) -> Job:
    """A queued job row, its log file named after its id (raises IntegrityError when its run has an active job)."""
    with store.session() as session:
        row = JobRow(
            kind=kind,
            params=params,
            project_id=project_id,
            heavy=heavy,
            status="queued",
            progress=0.0,
            message="Waiting to start",
            created_by=store.user,
            run_key=run_key,
            executor=executor,
            resources=resources,
        )
        session.add(row)
        session.flush()
        row.log_path = str(logs_dir / f"job-{row.id}.log")
        session.flush()
        return to_job(row)


def find_job(store: Store, job_id: int) -> Job | None:
    with store.session() as session:
        row = session.get(JobRow, job_id)
        return to_job(row) if row is not None else None


def active_job_with_key(store: Store, run_key: str) -> Job | None:
    """The queued or running job working on the run `run_key` ('generate:12'), if any."""
    with store.session() as session:
        row = session.scalar(select(JobRow).where(JobRow.run_key == run_key, JobRow.status.in_(JOB_ACTIVE_STATUSES)))
        return to_job(row) if row is not None else None


def select_jobs(
    store: Store,
    *,
    project_id: int | None = None,
    active_only: bool = False,
    limit: int = 200,
    kind: str | None = None,
) -> list[Job]:
    """Newest first."""
    with store.session() as session:
        query = select(JobRow).order_by(JobRow.id.desc()).limit(limit)
        if project_id is not None:
            query = query.where(JobRow.project_id == project_id)
        if active_only:
            query = query.where(JobRow.status.in_(JOB_ACTIVE_STATUSES))
        if kind is not None:
            query = query.where(JobRow.kind == kind)
        return [to_job(r) for r in session.scalars(query)]


def active_jobs(store: Store) -> list[Job]:
    """Every queued or running job, of every project."""
    with store.session() as session:
        return [to_job(r) for r in session.scalars(select(JobRow).where(JobRow.status.in_(JOB_ACTIVE_STATUSES)))]


def record_worker(
    store: Store, job_id: int, pid: int, host: str, *, node: str | None = None, only_if_unclaimed: bool = False
) -> bool:
    """The worker process working on the job, and the Ray node it runs on (`only_if_unclaimed`: unless a worker has
    already claimed it)."""
    with store.session() as session:
        query = update(JobRow).where(JobRow.id == job_id)
        if only_if_unclaimed:
            query = query.where(JobRow.worker_pid.is_(None))
        values: dict[str, Any] = {"worker_pid": pid, "worker_host": host, "heartbeat_at": utcnow()}
        if node is not None:
            values["node"] = node
        result = session.execute(query.values(**values))
        return _changed(result)


def fail_active_job(store: Store, job_id: int, message: str) -> bool:
    """Mark failed a job still queued or running, whoever holds it (its machine is gone); whether it was marked."""
    with store.session() as session:
        result = session.execute(
            update(JobRow)
            .where(JobRow.id == job_id, JobRow.status.in_(JOB_ACTIVE_STATUSES))
            .values(status="failed", message=message, finished_at=utcnow())
        )
        return _changed(result)


def mark_running(store: Store, job_id: int) -> bool:
    """Queued -> running; False when the job is no longer queued (cancelled meanwhile)."""
    with store.session() as session:
        result = session.execute(
            update(JobRow)
            .where(JobRow.id == job_id, JobRow.status == "queued")
            .values(status="running", started_at=utcnow(), message="Running")
        )
        return _changed(result)


def end_job(
    store: Store,
    job_id: int,
    status: str,
    message: str,
    *,
    result: dict[str, Any] | None = None,
    progress: float | None = None,
) -> bool:
    """The job's final status (done, failed, cancelled) and when it ended. A job that has already ended keeps its
    end (a worker that outlived its machine's failure must not overwrite it); returns whether it was written."""
    values: dict[str, Any] = {"status": status, "message": message, "finished_at": utcnow()}
    if result is not None:
        values["result"] = result
    if progress is not None:
        values["progress"] = progress
    with store.session() as session:
        return _changed(
            session.execute(
                update(JobRow).where(JobRow.id == job_id, JobRow.status.in_(JOB_ACTIVE_STATUSES)).values(**values)
            )
        )


def write_progress(store: Store, job_id: int, progress: float, message: str | None) -> None:
    """The share done (0..1) and, when given, a new message; also a sign of life."""
    values: dict[str, Any] = {"progress": progress, "heartbeat_at": utcnow()}
    if message is not None:
        values["message"] = message
    with store.session() as session:
        session.execute(update(JobRow).where(JobRow.id == job_id).values(**values))


def write_heartbeat(store: Store, job_id: int) -> None:
    with store.session() as session:
        session.execute(update(JobRow).where(JobRow.id == job_id).values(heartbeat_at=utcnow()))


def cancel_was_requested(store: Store, job_id: int) -> bool:
    """The job should stop: its cancel flag is raised, or it has already been ended (failed by the reaper, or by
    the executor when its machine stopped), or it is gone."""
    with store.session() as session:
        row = session.execute(select(JobRow.cancel_requested, JobRow.status).where(JobRow.id == job_id)).first()
        return row is None or bool(row.cancel_requested) or row.status not in JOB_ACTIVE_STATUSES


def request_cancel(store: Store, job_id: int, *, end_if_queued: bool) -> bool:
    """Raise the job's cancel flag; `end_if_queued` (no worker will see the flag): a queued job is cancelled at
    once. Returns whether the job was ended here."""
    with store.session() as session:
        session.execute(update(JobRow).where(JobRow.id == job_id).values(cancel_requested=True))
        if not end_if_queued:
            return False
        ended = session.execute(
            update(JobRow)
            .where(JobRow.id == job_id, JobRow.status == "queued")
            .values(status="cancelled", message="Cancelled before it started", finished_at=utcnow())
        )
        return _changed(ended)


def fail_abandoned_job(store: Store, job_id: int, worker_pid: int | None, message: str) -> bool:
    """Mark failed a job still active and still held by the worker `worker_pid` (None: no worker yet),
    so that a worker that claimed it meanwhile keeps it. Returns whether it was marked."""
    same_worker = JobRow.worker_pid.is_(None) if worker_pid is None else JobRow.worker_pid == worker_pid
    with store.session() as session:
        result = session.execute(
            update(JobRow)
            .where(JobRow.id == job_id, JobRow.status.in_(JOB_ACTIVE_STATUSES), same_worker)
            .values(status="failed", message=message, finished_at=utcnow())
        )
        return _changed(result)

"""Submitting, listing, cancelling and supervising jobs (the rows; `runner` does the running)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select, update

from core.errors import NotFound, StudioError
from core.jobs.registry import get_kind
from core.processes import process_exists
from core.secrets import secret_param_names
from core.settings import get_settings
from core.store.database import Store
from core.store.schema import JOB_ACTIVE_STATUSES, JobRow, utcnow

STALE_HEARTBEAT = timedelta(seconds=120)


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

    @property
    def active(self) -> bool:
        return self.status in JOB_ACTIVE_STATUSES

    @property
    def title(self) -> str:
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
        }


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
    )


def hostname() -> str:
    return socket.gethostname()


def submit_job(
    store: Store,
    kind: str,
    params: dict[str, Any] | None = None,
    *,
    project_id: int | None = None,
    heavy: bool | None = None,
) -> Job:
    """Create a queued job row. Secrets are refused here: they reach workers by environment only."""
    params = dict(params or {})
    job_kind = get_kind(kind)
    leaked = secret_param_names(params)
    if leaked:
        raise StudioError(
            f"Job parameters may not hold secrets ({', '.join(leaked)}): pass them through the environment."
        )
    with store.session() as session:
        row = JobRow(
            kind=kind,
            params=params,
            project_id=project_id,
            heavy=job_kind.heavy if heavy is None else heavy,
            status="queued",
            progress=0.0,
            message="Waiting to start",
            created_by=store.user,
        )
        session.add(row)
        session.flush()
        row.log_path = str(get_settings().logs_dir / f"job-{row.id}.log")
        session.flush()
        return to_job(row)


def start_worker(store: Store, job_id: int, extra_env: dict[str, str] | None = None) -> int:
    """Run the job in a new worker process, in its own session so it outlives the page and the server.

    `extra_env` carries secrets typed into a page: they live only in the worker's environment.
    """
    job = get_job(store, job_id)
    settings = get_settings()
    env = {**os.environ, **(extra_env or {})}
    env["STUDIO_HOME"] = str(settings.home)
    env["STUDIO_DATABASE_URL"] = store.url
    env["STUDIO_USER"] = store.user
    project_root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (project_root, env.get("PYTHONPATH", "")) if p)
    Path(job.log_path).parent.mkdir(parents=True, exist_ok=True)
    with open(job.log_path, "ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "core.jobs.worker", str(job_id)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=project_root,
            start_new_session=True,
        )
    with store.session() as session:
        session.execute(
            update(JobRow)
            .where(JobRow.id == job_id, JobRow.worker_pid.is_(None))
            .values(worker_pid=process.pid, worker_host=hostname(), heartbeat_at=utcnow())
        )
    return process.pid


def get_job(store: Store, job_id: int) -> Job:
    with store.session() as session:
        row = session.get(JobRow, job_id)
        if row is None:
            raise NotFound(f"There is no job #{job_id}.")
        return to_job(row)


def list_jobs(
    store: Store, project_id: int | None = None, *, active_only: bool = False, limit: int = 200, kind: str | None = None
) -> list[Job]:
    reap_dead_workers(store)
    with store.session() as session:
        query = select(JobRow).order_by(JobRow.id.desc()).limit(limit)
        if project_id is not None:
            query = query.where(JobRow.project_id == project_id)
        if active_only:
            query = query.where(JobRow.status.in_(JOB_ACTIVE_STATUSES))
        if kind is not None:
            query = query.where(JobRow.kind == kind)
        return [to_job(r) for r in session.scalars(query)]


def cancel_job(store: Store, job_id: int) -> Job:
    """Ask a job to stop. A queued job with no live worker is cancelled at once."""
    job = get_job(store, job_id)
    if not job.active:
        return job
    with store.session() as session:
        session.execute(update(JobRow).where(JobRow.id == job_id).values(cancel_requested=True))
        if job.status == "queued" and not _worker_alive(job):
            session.execute(
                update(JobRow)
                .where(JobRow.id == job_id, JobRow.status == "queued")
                .values(status="cancelled", message="Cancelled before it started", finished_at=utcnow())
            )
    return get_job(store, job_id)


def reap_dead_workers(store: Store) -> list[int]:
    """Mark failed every active job whose worker has disappeared; returns their ids."""
    with store.session() as session:
        rows = list(session.scalars(select(JobRow).where(JobRow.status.in_(JOB_ACTIVE_STATUSES))))
        dead = []
        for row in rows:
            job = to_job(row)
            if job.worker_pid is None:
                continue
            if job.worker_host == hostname():
                if _worker_alive(job):
                    continue
                reason = "Its worker process stopped unexpectedly (killed, or the machine restarted)."
            else:
                beat = row.heartbeat_at or row.created_at
                if utcnow() - beat < STALE_HEARTBEAT:
                    continue
                reason = f"Its worker on {job.worker_host} has not reported since {beat:%Y-%m-%d %H:%M} UTC."
            dead.append(row.id)
            session.execute(
                update(JobRow)
                .where(JobRow.id == row.id, JobRow.status.in_(JOB_ACTIVE_STATUSES))
                .values(status="failed", message=f"{reason} See the job's log.", finished_at=utcnow())
            )
    return dead


def _worker_alive(job: Job) -> bool:
    pid = job.worker_pid
    if pid is None or job.worker_host != hostname():
        return pid is not None
    return pid_alive(pid)


def pid_alive(pid: int) -> bool:
    """The worker `pid` still runs: it exists, is no zombie, and (on Linux) is still one of ours."""
    if pid == os.getpid():
        return True
    if not process_exists(pid):
        return False
    proc = Path(f"/proc/{pid}")
    if proc.exists():
        try:
            state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
            if state in ("Z", "X"):
                return False
            cmdline = (proc / "cmdline").read_bytes()
            # empty while the process is still being set up by exec: it cannot be judged yet, so it is alive;
            # otherwise a reused pid shows another program's command line
            return not cmdline or b"core" in cmdline
        except (OSError, IndexError):
            return False
    return True

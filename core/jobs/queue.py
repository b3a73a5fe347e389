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
from sqlalchemy.exc import IntegrityError

from core.errors import NotFound, RunAlreadyRunning, StudioError
from core.jobs.registry import get_kind
from core.processes import process_exists
from core.secrets import secret_param_names
from core.settings import get_settings
from core.store.database import Store
from core.store.schema import JOB_ACTIVE_STATUSES, JobRow, utcnow

STALE_HEARTBEAT = timedelta(seconds=120)
# a queued job that no worker has claimed after this long never will be (whatever queued it stopped first)
WORKER_START_GRACE = timedelta(seconds=120)
# job kinds that work on an existing run: the parameter naming the run, and what the run is called for people
RUN_BOUND_KINDS: dict[str, tuple[str, str]] = {
    "generate": ("run_id", "Run"),  # as the Generate page and the CLI call it
    "baseline": ("baseline_id", "Baseline"),
    "train": ("run_id", "Training run"),
}


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
            "run_key": self.run_key,
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
        run_key=row.run_key,
    )


def hostname() -> str:
    return socket.gethostname()


def run_key(kind: str, params: dict[str, Any]) -> str | None:
    """'generate:12' for a job working on generation run 12 (None for kinds not bound to a run)."""
    bound = RUN_BOUND_KINDS.get(kind)
    if bound is None or params.get(bound[0]) is None:
        return None
    return f"{kind}:{int(params[bound[0]])}"


def submit_job(
    store: Store,
    kind: str,
    params: dict[str, Any] | None = None,
    *,
    project_id: int | None = None,
    heavy: bool | None = None,
) -> Job:
    """Create a queued job row. Secrets are refused here: they reach workers by environment only.

    A job for a run that already has a queued or running job is refused by the database itself (a unique index),
    whichever process or machine asks: `RunAlreadyRunning` says which job has it, and nothing is queued.
    """
    params = dict(params or {})
    job_kind = get_kind(kind)
    leaked = secret_param_names(params)
    if leaked:
        raise StudioError(
            f"Job parameters may not hold secrets ({', '.join(leaked)}): pass them through the environment."
        )
    key = run_key(kind, params)
    for attempt in range(3):
        try:
            return _insert_job(store, kind, params, project_id, job_kind.heavy if heavy is None else heavy, key)
        except IntegrityError:
            holder = _active_job_for(store, key) if key else None
            if holder is None:  # not our index, or the holder ended meanwhile: insert again
                if key is None or attempt == 2:
                    raise
                continue
            if attempt < 2 and holder.id in reap_dead_workers(store):
                continue  # its worker had died: the run is free again
            noun = RUN_BOUND_KINDS[kind][1]
            raise RunAlreadyRunning(
                f"{noun} #{params[RUN_BOUND_KINDS[kind][0]]} is already running as job #{holder.id}: wait for it to "
                "finish, or cancel that job, before starting the run again.",
                run_key=key or "",
                job_id=holder.id,
            ) from None
    raise AssertionError("unreachable")


def _insert_job(
    store: Store, kind: str, params: dict[str, Any], project_id: int | None, heavy: bool, key: str | None
) -> Job:
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
            run_key=key,
        )
        session.add(row)
        session.flush()
        row.log_path = str(get_settings().logs_dir / f"job-{row.id}.log")
        session.flush()
        return to_job(row)


def _active_job_for(store: Store, key: str) -> Job | None:
    with store.session() as session:
        row = session.scalar(select(JobRow).where(JobRow.run_key == key, JobRow.status.in_(JOB_ACTIVE_STATUSES)))
        return to_job(row) if row is not None else None


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
                if row.status != "queued" or utcnow() - row.created_at < WORKER_START_GRACE:
                    continue  # its worker is being started
                message = "No worker ever started it (what queued it stopped first): start it again."
            elif job.worker_host == hostname():
                if _worker_alive(job):
                    continue
                message = (
                    "Its worker process stopped unexpectedly (killed, or the machine restarted). See the job's log."
                )
            else:
                beat = row.heartbeat_at or row.created_at
                if utcnow() - beat < STALE_HEARTBEAT:
                    continue
                message = (
                    f"Its worker on {job.worker_host} has not reported since {beat:%Y-%m-%d %H:%M} UTC. "
                    "See the job's log."
                )
            # the same worker as read above: a worker that claimed a queued job meanwhile keeps it
            same_worker = JobRow.worker_pid.is_(None) if job.worker_pid is None else JobRow.worker_pid == job.worker_pid
            reaped = session.execute(
                update(JobRow)
                .where(JobRow.id == row.id, JobRow.status.in_(JOB_ACTIVE_STATUSES), same_worker)
                .values(status="failed", message=message, finished_at=utcnow())
            )
            if reaped.rowcount:
                dead.append(row.id)
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

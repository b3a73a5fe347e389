"""Submitting, reading and cancelling jobs, and starting their worker processes (`lifecycle.launch` is the door
to these; `runner` does the running, `reaper` finds dead workers; the rows live in core.store.jobs)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.exc import IntegrityError

from core.errors import NotFound, RunAlreadyRunning, StudioError
from core.jobs.registry import get_kind, settle_run
from core.processes import process_exists, process_started_at
from core.secrets import secret_param_names
from core.settings import get_settings
from core.store import jobs as job_rows
from core.store.database import Store
from core.store.jobs import Job as Job  # the job as callers see it; its rows live in core.store.jobs

# job kinds that work on an existing run: the parameter naming the run, and what the run is called for people
RUN_BOUND_KINDS: dict[str, tuple[str, str]] = {
    "generate": ("run_id", "Run"),  # as the Generate page and the CLI call it
    "baseline": ("baseline_id", "Baseline"),
    "train": ("run_id", "Training run"),
}


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
    executor: str = "local",
    resources: dict[str, float] | None = None,
) -> Job:
    """Create a queued job row (`executor`: where its worker will run; `resources`: what a Ray task asks for).
    Secrets are refused here: they reach workers by environment only.

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
            return job_rows.insert_job(
                store,
                kind,
                params,
                project_id=project_id,
                heavy=job_kind.heavy if heavy is None else heavy,
                run_key=key,
                logs_dir=get_settings().logs_dir,
                executor=executor,
                resources=resources,
            )
        except IntegrityError:
            holder = job_rows.active_job_with_key(store, key) if key else None
            if holder is None:  # not our index, or the holder ended meanwhile: insert again
                if key is None or attempt == 2:
                    raise
                continue
            from core.jobs.reaper import reap_dead_workers  # the reaper settles runs through the registry

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
    job_rows.record_worker(store, job_id, process.pid, hostname(), only_if_unclaimed=True)
    return process.pid


def get_job(store: Store, job_id: int) -> Job:
    job = job_rows.find_job(store, job_id)
    if job is None:
        raise NotFound(f"There is no job #{job_id}.")
    return job


def list_jobs(
    store: Store, project_id: int | None = None, *, active_only: bool = False, limit: int = 200, kind: str | None = None
) -> list[Job]:
    """Newest first. A read only: a job whose worker died shows as it was until the reaper marks it."""
    return job_rows.select_jobs(store, project_id=project_id, active_only=active_only, limit=limit, kind=kind)


def cancel_job(store: Store, job_id: int) -> Job:
    """Ask a job to stop. A queued job with no live worker is cancelled at once (and its run settled)."""
    job = get_job(store, job_id)
    if not job.active:
        return job
    if job_rows.request_cancel(store, job_id, end_if_queued=job.status == "queued" and not worker_alive(job)):
        settle_run(store, get_job(store, job_id))
    if job.executor != "local":
        from core.jobs.executors import executor_named

        executor_named(job.executor).stop(job)  # Ray: ray.cancel (a task still waiting for resources never starts)
    return get_job(store, job_id)


def worker_alive(job: Job) -> bool:
    """The job's worker still runs (one on another machine is judged by its heartbeat, in the reaper)."""
    pid = job.worker_pid
    if pid is None or job.worker_host != hostname():
        return pid is not None
    return pid_alive(pid, seen_at=job.heartbeat_at or job.started_at)


REUSE_SLACK = timedelta(seconds=1)  # the boot time /proc gives is rounded down to the second


def pid_alive(pid: int, seen_at: datetime | None = None) -> bool:
    """The worker `pid` still runs: it exists and is no zombie, and (on Linux, given when the worker was last seen
    alive) it started before then: a process that started later got the pid of a worker that died."""
    if pid == os.getpid():
        return True
    if not process_exists(pid):
        return False
    proc = Path(f"/proc/{pid}")
    if not proc.exists():
        return True
    try:
        state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    if state in ("Z", "X"):
        return False
    started = process_started_at(pid)
    return seen_at is None or started is None or started <= seen_at + REUSE_SLACK
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

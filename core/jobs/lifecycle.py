"""One lifecycle for long work: every job is launched here, and only here is a worker process started.

launch -> queued job (+ a worker in the background) -> runner: running -> done | failed | cancelled -> the kind's
settle hook gives the job's run its outcome (core.jobs.registry). A worker that dies is found by the reaper
(core.jobs.reaper), which fails its job and settles its run the same way.

The worker is started by the executor the settings name (core.jobs.executors): a process here, or a Ray task.

Each run type has its own launch function beside its feature (`launch_generation`, `launch_training`, ...): it
creates or checks the run, decides from the run whether the job is heavy, and calls `launch`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from core.jobs.executors import current_executor, executor_named, resources_for
from core.jobs.queue import Job, cancel_job, get_job, submit_job
from core.jobs.runner import run_job
from core.store.database import Store

RunT = TypeVar("RunT")
FOLLOW_POLL_SECONDS = 0.5


@dataclass(frozen=True)
class Launched(Generic[RunT]):
    """What a run type's launch function returns: the run it created or resumed, and the job working on it."""

    run: RunT
    job: Job


def launch(
    store: Store,
    kind: str,
    params: dict[str, Any],
    *,
    project_id: int | None,
    heavy: bool,
    extra_env: dict[str, str] | None = None,
    background: bool = True,
    on_queued: Callable[[Job], None] | None = None,
    resource_kind: str | None = None,
    gpu: bool = False,
) -> Job:
    """Queue a job and, when `background`, start its worker through the executor the settings name: a process on
    this machine, or a Ray task (`extra_env`: secrets for the worker only).

    `background=False` only queues it: the caller runs it here with `run_here` (the CLI's foreground mode).
    `on_queued` runs between the two, e.g. to record the job on its run before any worker can end it. A run that
    already has an active job raises `RunAlreadyRunning`, and nothing is queued. `resource_kind` names the entry of
    STUDIO_RAY_RESOURCES the job takes its resources from (default: `kind`; e.g. `generate_local`); `gpu`: the run
    asks for a GPU.
    """
    executor = current_executor()
    executor.check(store)  # before anything is queued: a store Ray cannot use, a cluster that cannot be reached
    resources = resources_for(resource_kind or kind, gpu=gpu) if executor.name != "local" else None
    job = submit_job(
        store, kind, params, project_id=project_id, heavy=heavy, executor=executor.name, resources=resources
    )
    if on_queued is not None:
        on_queued(job)
    if not background:
        return job
    try:
        executor.start(store, job, extra_env)
    except Exception as exc:
        from core.jobs.reaper import fail_lost_job

        fail_lost_job(store, job.id, f"The job could not be started: {exc}")
        raise
    return get_job(store, job.id)


def run_here(store: Store, job_id: int, *, echo: bool = False) -> str:
    """The CLI's foreground mode: run a queued job to its end in this process, or, when jobs run on a Ray cluster,
    start it there and follow it to its end (Ctrl+C cancels it); returns its final status."""
    job = get_job(store, job_id)
    if job.executor == "local":
        return run_job(store, job_id, echo=echo)
    executor_named(job.executor).start(store, job, None)
    return follow(store, job_id, echo=echo)


def follow(store: Store, job_id: int, *, echo: bool = False, poll_seconds: float = FOLLOW_POLL_SECONDS) -> str:
    """Wait for a job that runs elsewhere to end, printing its progress when `echo`; Ctrl+C asks it to stop and
    goes on waiting for it. Returns its final status."""
    said = ""
    while True:
        try:
            job = get_job(store, job_id)
            line = f"[{job.progress:6.1%}] {job.message}"
            if echo and job.message and line != said:
                print(line, flush=True)
                said = line
            if not job.active:
                return job.status
            time.sleep(poll_seconds)
        except KeyboardInterrupt:
            if echo:
                print(f"Stopping job #{job_id}…", flush=True)
            cancel_job(store, job_id)

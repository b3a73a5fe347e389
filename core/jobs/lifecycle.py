"""One lifecycle for long work: every job is launched here, and only here is a worker process started.

launch -> queued job (+ a worker in the background) -> runner: running -> done | failed | cancelled -> the kind's
settle hook gives the job's run its outcome (core.jobs.registry). A worker that dies is found by the reaper
(core.jobs.reaper), which fails its job and settles its run the same way.

Each run type has its own launch function beside its feature (`launch_generation`, `launch_training`, ...): it
creates or checks the run, decides from the run whether the job is heavy, and calls `launch`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from core.jobs.queue import Job, get_job, start_worker, submit_job
from core.jobs.runner import run_job
from core.store.database import Store

RunT = TypeVar("RunT")


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
) -> Job:
    """Queue a job and, when `background`, start its worker process (`extra_env`: secrets for the worker only).

    `background=False` only queues it: the caller runs it here with `run_here` (the CLI's foreground mode).
    `on_queued` runs between the two, e.g. to record the job on its run before any worker can end it. A run that
    already has an active job raises `RunAlreadyRunning`, and nothing is queued.
    """
    job = submit_job(store, kind, params, project_id=project_id, heavy=heavy)
    if on_queued is not None:
        on_queued(job)
    if not background:
        return job
    start_worker(store, job.id, extra_env=extra_env)
    return get_job(store, job.id)


def run_here(store: Store, job_id: int, *, echo: bool = False) -> str:
    """Run a queued job to its end in this process (the CLI's foreground mode); returns its final status."""
    return run_job(store, job_id, echo=echo)

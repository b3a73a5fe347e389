"""The `generate` job: execute (or resume) a generation run in a worker or in the foreground."""

from __future__ import annotations

from typing import Any

from core.errors import StudioError
from core.generation.backends import make_backend
from core.generation.engine import RunCancelled, execute_run, settings_of
from core.generation.run_failures import fail_run
from core.jobs.context import JobCancelled, JobContext
from core.jobs.queue import Job
from core.jobs.registry import job_kind
from core.store import generation_runs
from core.store.database import Store
from core.store.schema import utcnow


def settle_generation_run(store: Store, job: Job) -> None:
    """A run its ended job left planned or running (its worker died, or the job ended before the engine could say
    how the run ended) takes the job's outcome: cancelled, or failed with the job's reason."""
    run = generation_runs.get_run(store, int(job.params["run_id"]))
    if run.status not in ("planned", "running") or run.job_id not in (None, job.id):
        return  # the engine gave it its status, or another job has it now
    if job.status == "cancelled":
        generation_runs.set_run(store, run.id, status="cancelled", message=job.message, finished_at=utcnow())
        return
    message = job.message if job.status == "failed" else "The job ended without finishing the run."
    generation_runs.mark_failed(store, run.id, message, "other")


@job_kind("generate", heavy=False, title="Generating samples", settle=settle_generation_run)
def run_generate(ctx: JobContext) -> dict[str, Any]:
    run_id = int(ctx.params["run_id"])
    run = generation_runs.get_run(ctx.store, run_id)
    generation_runs.set_run(ctx.store, run_id, job_id=ctx.job_id)
    try:
        settings = settings_of(run)
        backend = make_backend(
            run.backend,
            run.model,
            run.base_url,
            settings.recording,
            timeouts=settings.timeouts(),
            stream=settings.stream,
            store=ctx.store,
        )
    except StudioError as exc:
        fail_run(ctx.store, run_id, exc)
        raise
    ctx.log(f"generation run #{run_id}: {run.backend} {run.model}, strategy {run.strategy}")
    try:
        outcome = execute_run(
            ctx.store, run_id, backend, progress=ctx.progress, cancelled=ctx.cancel_requested, log=ctx.log
        )
    except (RunCancelled, JobCancelled):  # the engine's cancel check, or the one inside ctx.progress
        generation_runs.set_run(ctx.store, run_id, status="cancelled", message="Cancelled", finished_at=utcnow())
        raise JobCancelled() from None
    ctx.log(outcome.message)
    return {
        "run_id": run_id,
        "samples": outcome.samples,
        "planned": outcome.planned,
        "answered": outcome.answered,
        "failed": outcome.failed,
        "shortfall": outcome.shortfall,
        "message": outcome.message,
    }

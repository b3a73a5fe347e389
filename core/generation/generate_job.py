"""The `generate` job: execute (or resume) a generation run in a worker or in the foreground."""

from __future__ import annotations

from typing import Any

from core.errors import StudioError
from core.generation import run_store
from core.generation.backends import make_backend
from core.generation.engine import RunCancelled, execute_run, settings_of
from core.jobs.context import JobCancelled, JobContext
from core.jobs.registry import job_kind
from core.store.schema import utcnow


@job_kind("generate", heavy=False, title="Generating samples")
def run_generate(ctx: JobContext) -> dict[str, Any]:
    run_id = int(ctx.params["run_id"])
    run = run_store.get_run(ctx.store, run_id)
    run_store.set_run(ctx.store, run_id, job_id=ctx.job_id)
    try:
        settings = settings_of(run)
        backend = make_backend(
            run.backend,
            run.model,
            run.base_url,
            settings.recording,
            timeouts=settings.timeouts(),
            stream=settings.stream,
        )
    except StudioError as exc:
        run_store.fail_run(ctx.store, run_id, exc)
        raise
    ctx.log(f"generation run #{run_id}: {run.backend} {run.model}, strategy {run.strategy}")
    try:
        outcome = execute_run(
            ctx.store, run_id, backend, progress=ctx.progress, cancelled=ctx.cancel_requested, log=ctx.log
        )
    except (RunCancelled, JobCancelled):  # the engine's cancel check, or the one inside ctx.progress
        run_store.set_run(ctx.store, run_id, status="cancelled", message="Cancelled", finished_at=utcnow())
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

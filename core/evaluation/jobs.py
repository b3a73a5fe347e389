"""The evaluation job kinds: `evaluate` (score a trained run on the test split) and `baseline` (the LLM as a
classifier, resumable; scored like a run when it ends)."""

from __future__ import annotations

from typing import Any

from core.errors import StudioError
from core.evaluation import baseline_store
from core.evaluation.baselines import baseline_timeouts, evaluate_baseline, execute_baseline
from core.evaluation.run_evaluation import evaluate_run
from core.generation.backends import make_backend
from core.generation.engine import RunCancelled
from core.jobs.context import JobCancelled, JobContext
from core.jobs.queue import Job
from core.jobs.registry import job_kind
from core.store.database import Store
from core.store.schema import utcnow


@job_kind("evaluate", heavy=True, title="Evaluating on the test split")
def run_evaluate(ctx: JobContext) -> dict[str, Any]:
    point = ctx.params.get("point")
    ctx.progress(0.0, "Labelling the test split", force=True)
    evaluation = evaluate_run(
        ctx.store,
        int(ctx.project_id or 0),
        str(ctx.params["run"]),
        point=int(point) if point is not None else None,
        progress=ctx.progress,
    )
    message = (
        f"'{evaluation.name}' on {evaluation.test_size:,} test samples: mean macro-F1 {evaluation.mean_macro_f1:.3f}"
    )
    ctx.log(message)
    return {"evaluation_id": evaluation.id, "mean_macro_f1": evaluation.mean_macro_f1, "message": message}


def settle_baseline(store: Store, job: Job) -> None:
    """A baseline its ended job left active becomes failed or cancelled; its answers stay for a resume."""
    baseline_store.sync_baselines(store, job.project_id)


@job_kind("baseline", heavy=False, title="LLM baseline on the test split", settle=settle_baseline)
def run_baseline(ctx: JobContext) -> dict[str, Any]:
    baseline_id = int(ctx.params["baseline_id"])
    baseline = baseline_store.get_baseline_by_id(ctx.store, baseline_id)
    baseline_store.set_baseline(ctx.store, baseline_id, job_id=ctx.job_id, finished_at=None)
    try:
        backend = make_backend(
            baseline.backend,
            baseline.model,
            baseline.base_url,
            baseline.params.get("recording"),
            timeouts=baseline_timeouts(baseline.params),
            store=ctx.store,
        )
    except StudioError as exc:
        baseline_store.set_baseline(ctx.store, baseline_id, status="failed", message=str(exc), finished_at=utcnow())
        raise
    ctx.log(f"baseline #{baseline_id} '{baseline.name}': {baseline.mode} (k={baseline.k}), {baseline.backend}")
    try:
        outcome = execute_baseline(
            ctx.store, baseline_id, backend, progress=ctx.progress, cancelled=ctx.cancel_requested, log=ctx.log
        )
    except (RunCancelled, JobCancelled):
        baseline_store.set_baseline(
            ctx.store, baseline_id, status="cancelled", message="Cancelled", finished_at=utcnow()
        )
        raise JobCancelled() from None
    evaluation = evaluate_baseline(ctx.store, baseline_id)
    message = f"{outcome.message}; mean macro-F1 {evaluation.mean_macro_f1:.3f}"
    ctx.log(message)
    return {
        "baseline_id": baseline_id,
        "evaluation_id": evaluation.id,
        "status": outcome.status,
        "counts": outcome.counts,
        "mean_macro_f1": evaluation.mean_macro_f1,
        "message": message,
    }

"""The `train` job: carry out a training run (single or learning curve) and give the run its final status."""

from __future__ import annotations

from typing import Any

from core.errors import StudioError
from core.jobs.context import JobCancelled, JobContext
from core.jobs.registry import job_kind
from core.store.schema import utcnow
from core.training.run_store import finish_run, get_run_by_id, update_run
from core.training.training_run import execute_run


def _summary(mode: str, outcome: dict[str, Any]) -> str:
    test = outcome.get("test") or {}
    score = f"mean macro-F1 on the test split {test['mean_macro_f1']:.3f}" if test else "no human test samples to score"
    if mode == "curve":
        return f"Learning curve of {len(outcome.get('curve', []))} points trained; largest point: {score}"
    return f"Trained on {outcome['train_samples']:,} samples; {score}"


@job_kind("train", heavy=True, title="Training a classifier")
def run_train(ctx: JobContext) -> dict[str, Any]:
    run = get_run_by_id(ctx.store, int(ctx.params["run_id"]))
    update_run(ctx.store, run.id, status="running", job_id=ctx.job_id, started_at=utcnow(), message="Running")
    ctx.log(f"training run #{run.id} '{run.name}': {run.trainer} ({run.mode}), params {run.params}")
    try:
        outcome = execute_run(ctx, run)
    except JobCancelled:
        finish_run(ctx.store, run.id, "cancelled", "Cancelled")
        raise
    except StudioError as exc:
        finish_run(ctx.store, run.id, "failed", str(exc))
        raise
    except Exception as exc:
        finish_run(
            ctx.store, run.id, "failed", f"Unexpected error ({type(exc).__name__}). The job's log has the details."
        )
        raise
    message = _summary(run.mode, outcome)
    metrics = {key: outcome.get(key) for key in ("test", "validation", "fit", "train_samples", "validation_samples")}
    metrics["notes"] = outcome.get("notes", []) + outcome.get("curve_notes", [])
    finish_run(ctx.store, run.id, "done", message, metrics=metrics, curve=outcome.get("curve", []))
    ctx.log(message)
    test = outcome.get("test") or {}
    return {"run_id": run.id, "name": run.name, "message": message, "mean_macro_f1": test.get("mean_macro_f1")}

"""The `train` job: carry out a training run (single or learning curve) and give the run its final status."""

from __future__ import annotations

from typing import Any

from core.errors import StudioError
from core.jobs.context import JobCancelled, JobContext
from core.jobs.registry import job_kind
from core.store.projects import get_project
from core.store.schema import utcnow
from core.training.run_store import TrainingRun, finish_run, get_run_by_id, update_run
from core.training.training_run import RunResult, execute_run


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
        result = execute_run(ctx, run)
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
    outcome = result.outcome
    message = _summary(run.mode, outcome)
    keys = ("test", "validation", "validation_languages", "fit", "train_samples", "validation_samples")
    metrics = {key: outcome.get(key) for key in keys}
    metrics["notes"] = outcome.get("notes", []) + outcome.get("curve_notes", [])
    finish_run(ctx.store, run.id, "done", message, metrics=metrics, curve=outcome.get("curve", []))
    ctx.log(message)
    evaluation_id = _store_evaluation(ctx, run, result)
    test = outcome.get("test") or {}
    return {
        "run_id": run.id,
        "name": run.name,
        "message": message,
        "mean_macro_f1": test.get("mean_macro_f1"),
        "evaluation_id": evaluation_id,
    }


def _store_evaluation(ctx: JobContext, run: TrainingRun, result: RunResult) -> int | None:
    """The run's evaluation on the human test split, from the predictions the job has just made (None without a
    test split). A failure here leaves the run finished: it can still be evaluated on the Evaluate page."""
    from core.evaluation.run_evaluation import save_run_evaluation

    if result.predictions is None:
        return None
    try:
        project = get_project(ctx.store, run.project_id)
        evaluation = save_run_evaluation(ctx.store, project, run, result.predictions, result.point)
    except StudioError as exc:
        ctx.log(f"the run is trained, but its evaluation could not be stored: {exc}")
        return None
    ctx.log(f"evaluation #{evaluation.id} stored: mean macro-F1 {evaluation.mean_macro_f1:.3f}")
    return evaluation.id

"""The `train` job: carry out a training run (single or learning curve), store its evaluation on the test split
(the run's test scores: the run's own row keeps its training figures), and give the run its final status."""

from __future__ import annotations

from typing import Any

from core.errors import StudioError
from core.jobs.context import JobCancelled, JobContext
from core.jobs.queue import Job
from core.jobs.registry import job_kind
from core.store.database import Store
from core.store.evaluations import Evaluation
from core.store.projects import get_project
from core.store.schema import utcnow
from core.training.run_store import TrainingRun, finish_run, get_run_by_id, sync_runs, update_run
from core.training.training_run import RunResult, execute_run


def _summary(mode: str, outcome: dict[str, Any], result: RunResult, evaluation: Evaluation | None) -> str:
    if evaluation is not None:
        score = f"mean macro-F1 on the test split {evaluation.mean_macro_f1:.3f}"
    elif result.predictions is not None:
        score = "its test scores could not be stored: evaluate it on the Evaluate page"
    else:
        score = "no human test samples to score"
    if mode == "curve":
        return f"Learning curve of {len(outcome.get('curve', []))} points trained; largest point: {score}"
    return f"Trained on {outcome['train_samples']:,} samples; {score}"


def settle_training_run(store: Store, job: Job) -> None:
    """A training run its ended job left active becomes failed or cancelled, and its folder (which cannot be
    complete) goes: `sync_runs` over the job's project."""
    sync_runs(store, job.project_id)


@job_kind("train", heavy=True, title="Training a classifier", settle=settle_training_run)
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
    # the evaluation first: it is the one place of the run's test scores, there once the run shows as done
    evaluation = _store_evaluation(ctx, run, result)
    message = _summary(run.mode, outcome, result, evaluation)
    keys = ("validation", "validation_languages", "fit", "train_samples", "validation_samples")
    metrics = {key: outcome.get(key) for key in keys}
    metrics["notes"] = outcome.get("notes", []) + outcome.get("curve_notes", [])
    finish_run(ctx.store, run.id, "done", message, metrics=metrics, curve=outcome.get("curve", []))
    ctx.log(message)
    return {
        "run_id": run.id,
        "name": run.name,
        "message": message,
        "mean_macro_f1": evaluation.mean_macro_f1 if evaluation is not None else None,
        "evaluation_id": evaluation.id if evaluation is not None else None,
    }


def _store_evaluation(ctx: JobContext, run: TrainingRun, result: RunResult) -> Evaluation | None:
    """The run's evaluation on the human test split, from the predictions the job has just made (None without a
    test split). A failure here leaves the run finished without test scores: it can still be evaluated on the
    Evaluate page."""
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
    return evaluation

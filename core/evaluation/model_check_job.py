"""The `model_check` job kind: a Hugging Face text-classification model labels the project's human test split
(progress per batch, cancel between batches), stored as an evaluation of source `model`."""

from __future__ import annotations

from typing import Any

from core.evaluation.model_check import JOB_KIND, check_model
from core.jobs.context import JobContext
from core.jobs.registry import job_kind


@job_kind(JOB_KIND, heavy=True, title="Checking a model on the test split")
def run_model_check(ctx: JobContext) -> dict[str, Any]:
    spec, name = str(ctx.params["model"]), str(ctx.params["name"])
    ctx.progress(0.0, f"Loading {spec}", force=True)
    ctx.log(f"model check '{name}': {spec}, labels {ctx.params.get('map')}")
    evaluation = check_model(
        ctx.store, int(ctx.project_id or 0), spec, dict(ctx.params.get("map") or {}), name, progress=ctx.progress
    )
    message = (
        f"'{evaluation.name}' on {evaluation.test_size:,} test samples: mean macro-F1 {evaluation.mean_macro_f1:.3f}"
    )
    ctx.log(message)
    return {"evaluation_id": evaluation.id, "mean_macro_f1": evaluation.mean_macro_f1, "message": message}

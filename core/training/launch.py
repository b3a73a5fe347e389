"""Starting a training run: check the request, record the run, queue its job (the CLI and the page both use this)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from core.errors import InvalidInput
from core.jobs.lifecycle import Launched, launch
from core.jobs.queue import Job
from core.language_names import normalize_code
from core.store.database import Store
from core.store.projects import get_project
from core.training.curve import parse_sizes
from core.training.params import FinetuneParams, SetFitParams, params_dict, parse_params
from core.training.run_store import TrainingRun, create_run, delete_run, get_run_by_id, update_run
from core.training.snapshot import SnapshotOptions, check_trainable, preview_snapshot, with_budget


@dataclass(frozen=True)
class TrainingRequest:
    name: str
    trainer: str  # linear | finetune | hybrid
    params: dict[str, Any] = field(default_factory=dict)  # see core.training.params; missing ones take defaults
    options: SnapshotOptions = field(default_factory=SnapshotOptions)
    curve: tuple[int, ...] = ()  # sizes per language: a learning curve instead of one model
    gpu: bool = False  # ask the Ray cluster for a GPU (the local executor uses one when present)


def start_training(store: Store, project_ref: int | str, request: TrainingRequest) -> tuple[TrainingRun, Job]:
    """Validate, record the run and queue its `train` job, to run here (core.jobs.lifecycle.run_here)."""
    launched = launch_training(store, project_ref, request, background=False)
    return launched.run, launched.job


def launch_training(
    store: Store, project_ref: int | str, request: TrainingRequest, *, background: bool = True
) -> Launched[TrainingRun]:
    """Validate, record the run and launch its `train` job (`background=False`: queued, for run_here).

    Every trainer loads an encoder and fills the machine: a training job is heavy."""
    project = get_project(store, project_ref)
    params = parse_params(request.trainer, request.params)
    if isinstance(params, FinetuneParams):  # the project's encoder where the request names no model
        params = replace(
            params,
            base_model=params.base_model or project.encoder,
            blend_encoder=params.blend_encoder or project.encoder,
        )
        base_model = params.base_model
    elif isinstance(params, SetFitParams):
        params = replace(params, base_model=params.base_model or project.encoder)
        base_model = params.base_model
    else:
        params = replace(params, encoder=params.encoder or project.encoder)
        base_model = params.encoder
    unknown = sorted(set(request.options.labels) - set(project.label_names))
    if unknown:
        raise InvalidInput(f"The project has no label {', '.join(unknown)}.")
    codes = [normalize_code(code) or code for code in request.options.languages]
    strangers = [code for code in codes if code not in project.language_codes]
    if strangers:
        raise InvalidInput(
            f"The project has no language {', '.join(strangers)}; its languages: {', '.join(project.language_codes)}."
        )
    request = replace(request, options=replace(request.options, languages=tuple(codes)))
    options = request.options.to_dict()
    sizes: list[int] = []
    if request.curve:
        if request.options.per_language is not None:
            raise InvalidInput("Give either a budget per language or learning-curve sizes, not both.")
        sizes = parse_sizes(list(request.curve))
        options["curve"] = sizes
    preview = preview_snapshot(store, project, with_budget(request.options, sizes[0]) if sizes else request.options)
    check_trainable(preview)
    run = create_run(
        store,
        project.id,
        request.name,
        trainer=request.trainer,
        mode="curve" if sizes else "single",
        base_model=base_model,
        params=params_dict(params),
        options=options,
        snapshot=preview.to_dict(),
    )

    def record(job: Job) -> None:
        update_run(store, run.id, job_id=job.id)

    try:
        job = launch(
            store,
            "train",
            {"run_id": run.id},
            project_id=project.id,
            heavy=True,
            gpu=request.gpu,
            background=background,
            on_queued=record,
        )
    except Exception:
        if get_run_by_id(store, run.id).job_id is None:  # nothing was queued: the run goes too
            delete_run(store, run)
        raise
    return Launched(get_run_by_id(store, run.id), job)

"""Training runs: create (a checked name, a folder of its own), read, list, delete (row and folder); and keeping
their status true when the worker behind them died (its job is then failed, and so is the run, whose folder cannot
be complete). The rows themselves are read and written by `core.store.training_runs`."""

from __future__ import annotations

from typing import Any

from core.errors import InvalidInput, NotFound, StudioError
from core.store import training_runs
from core.store.database import Store
from core.store.training_runs import RUN_ACTIVE, TrainingRun, finish_run, get_run_by_id, runs_named, update_run
from core.training import artifacts

__all__ = [
    "MAX_NAME",
    "RUN_ACTIVE",
    "TrainingRun",
    "clean_name",
    "create_run",
    "delete_run",
    "finish_run",
    "get_run",
    "get_run_by_id",
    "list_runs",
    "runs_named",
    "sync_runs",
    "update_run",
]

MAX_NAME = 100


def clean_name(name: str) -> str:
    cleaned = " ".join((name or "").split())
    if not cleaned:
        raise InvalidInput("A training run needs a name.")
    if len(cleaned) > MAX_NAME:
        raise InvalidInput(f"A run name may have at most {MAX_NAME} characters.")
    return cleaned


def create_run(
    store: Store,
    project_id: int,
    name: str,
    *,
    trainer: str,
    mode: str,
    base_model: str,
    params: dict[str, Any],
    options: dict[str, Any],
    snapshot: dict[str, Any] | None = None,
) -> TrainingRun:
    name = clean_name(name)
    if training_runs.run_id_named(store, project_id, name) is not None:
        raise InvalidInput(
            f"This project already has a run called '{name}': pick another name, or delete that run first "
            f'(python -m core runs delete "{name}").'
        )
    return training_runs.insert_run(
        store,
        project_id,
        name,
        trainer=trainer,
        mode=mode,
        base_model=base_model,
        params=params,
        options=options,
        snapshot=snapshot or {},
        folder_name=lambda run_id: artifacts.new_folder_name(project_id, run_id),
    )


def get_run(store: Store, project_id: int, name: str) -> TrainingRun:
    run = training_runs.find_run(store, project_id, name)
    if run is None:
        raise NotFound(f"This project has no training run called '{name}'. List them with: python -m core runs")
    return run


def list_runs(store: Store, project_id: int) -> list[TrainingRun]:
    """The project's runs, newest first."""
    return training_runs.project_runs(store, project_id)


def delete_run(store: Store, run: TrainingRun) -> None:
    """Delete the run's row and its folder. An active run must be cancelled first."""
    current = get_run_by_id(store, run.id)
    if current.active:
        raise StudioError(
            f"The run '{run.name}' is still {current.status}: cancel its job first "
            f"(python -m core jobs cancel {current.job_id})."
        )
    artifacts.remove_folder(current.folder)
    training_runs.delete_run_row(store, run.id)


def sync_runs(store: Store, project_id: int | None = None) -> list[int]:
    """Runs left active by a job that is no longer active (its worker was killed) become failed or cancelled;
    their folders (which cannot be complete) and abandoned build folders are removed. Returns those run ids.
    The `train` job's settle hook calls it when a job ends (core.jobs.registry); dead workers are the reaper's."""
    fixed = []
    for run in training_runs.end_runs_of_ended_jobs(store, project_id):
        fixed.append(run.id)
        artifacts.remove_folder(run.folder)
    parents = {artifacts.project_folder(project_id)} if project_id is not None else set()
    if project_id is None and artifacts.runs_root().is_dir():
        parents = {p for p in artifacts.runs_root().iterdir() if p.is_dir()}
    for parent in parents:
        artifacts.remove_stale_partials(parent)
    return fixed

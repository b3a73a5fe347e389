"""From a weak confusion-matrix cell to a generation run of the `targeted` strategy: samples of the true label, in
that language, that are clearly not the label they were mistaken for (with that label's TRAIN texts as context)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from core.errors import InvalidInput
from core.evaluation.error_cells import NO_ANSWER, WeakCell
from core.generation.engine import GenerationSettings, start_run
from core.generation.launch import launch_generation_run
from core.jobs.lifecycle import Launched
from core.store.database import Store
from core.store.generation_runs import GenerationRun
from core.store.projects import get_project


@dataclass(frozen=True)
class TargetCell:
    language: str
    true: str
    confused_as: str

    @classmethod
    def of(cls, cell: WeakCell) -> TargetCell:
        return cls(cell.language, cell.true, cell.predicted)


def targeted_settings(
    cell: TargetCell, *, backend: str, model: str, per_cell: int, **options: Any
) -> GenerationSettings:
    """Generation settings for one weak cell (any other GenerationSettings field may be given in `options`)."""
    if cell.confused_as in ("", NO_ANSWER) or cell.confused_as == cell.true:
        raise InvalidInput("Pick a cell off the diagonal: a true label and another label it was mistaken for.")
    return GenerationSettings(
        backend=backend,
        model=model,
        per_cell=per_cell,
        strategy="targeted",
        languages=[cell.language],
        labels=[cell.true],
        confused_label=cell.confused_as,
        **options,
    )


def start_targeted_run(
    store: Store, project_ref: int | str, cell: TargetCell, *, backend: str, model: str, per_cell: int, **options: Any
) -> GenerationRun:
    """Record the run (nothing sent yet); execute it as a `generate` job like any generation run."""
    project = get_project(store, project_ref)
    settings = targeted_settings(cell, backend=backend, model=model, per_cell=per_cell, **options)
    return start_run(store, project.id, settings)


def launch_targeted(
    store: Store,
    project_ref: int | str,
    cell: TargetCell,
    *,
    backend: str,
    model: str,
    per_cell: int,
    extra_env: dict[str, str] | None = None,
    background: bool = True,
    **options: Any,
) -> Launched[GenerationRun]:
    """Record the run and launch its `generate` job like any generation run's (heavy with a local model)."""
    run = start_targeted_run(store, project_ref, cell, backend=backend, model=model, per_cell=per_cell, **options)
    return launch_generation_run(store, run, extra_env=extra_env, background=background)

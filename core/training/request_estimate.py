"""The rough training time of a run about to be started from the page's form: its values parsed, the project's
encoder where they name no model, the snapshot's size (per point of a learning curve), the test split and the
project's past runs (how fast this computer was)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from core.errors import InvalidInput
from core.evaluation.model_scores import count_test_samples
from core.store.database import Store
from core.store.projects import Project
from core.training.estimate import TimeEstimate, estimate_training
from core.training.params import TrainerParams, TunedParams, parse_params
from core.training.run_store import list_runs


def form_params(trainer: str, values: Mapping[str, object]) -> TrainerParams | None:
    """The form's values (field name -> value, see param_fields) as the trainer's parameters; None while they are
    not valid yet (starting the run says why)."""
    try:
        return parse_params(trainer, dict(values))
    except InvalidInput:
        return None


def estimate_request(
    store: Store, project: Project, params: TrainerParams, samples: int, curve: tuple[int, ...] = ()
) -> TimeEstimate:
    """`samples`: the snapshot's total (at the curve's largest size when there is a curve)."""
    if isinstance(params, TunedParams):
        if not params.base_model:
            params = replace(params, base_model=project.encoder)
    elif not params.encoder:
        params = replace(params, encoder=project.encoder)
    largest = max(curve) if curve else None
    sizes = [round(samples * size / largest) for size in curve] if largest else [samples]
    return estimate_training(params, sizes, count_test_samples(store, project), list_runs(store, project.id))

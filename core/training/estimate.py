"""A rough guess of how long a training run will take, for the page to show before it starts.

Fine-tuning is the slow trainer: its time is mostly optimiser steps. The step times below were measured on this
project's 2-core machine (README, Performance: e5-small, batches of 32 texts of about 30 tokens, word embeddings
frozen): 1.65 / 1.37 / 1.11 / 0.92 s per step with 0 / 4 / 6 / 8 of its 12 layers frozen. A step scales about
linearly with the batch size; training the word embeddings as well about doubles it. Once the project has a
finished fine-tuning run of the same model, its measured time replaces these figures (it ran on this machine,
with these texts). The linear probe and the hybrid cost mostly the embedding of the texts (49-78 sentences/s for
the bundled e5-small; much faster when the curation checks have embedded them already).

Larger models, longer texts, other machines and a GPU change all of it: the page says the figure is rough.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from core.store.training_runs import TrainingRun
from core.time_words import rough_words
from core.training.params import (
    AUTO_FROZEN_LAYERS,
    FinetuneParams,
    HybridParams,
    SetFitParams,
    TrainerParams,
    saved_params,
)

STEP_SECONDS = {0: 1.65, 4: 1.37, 6: 1.11, 8: 0.92}  # frozen layers of 12 -> seconds per step of 32 texts
REFERENCE_LAYERS = 12
REFERENCE_BATCH = 32
TRAINED_EMBEDDINGS = 2.0  # a step with the word embeddings trained too takes about twice as long
FORWARD_SHARE = 1 / 3  # scoring a batch (forward pass only) costs about a third of a training step
EMBEDDINGS_PER_SECOND = 60.0  # the bundled e5-small, texts not embedded before
HYBRID_EXTRA = 1.2  # the hybrid also counts character n-grams: a little more than the probe
LOADING_SECONDS = 10.0  # loading the model and tokenising
LOWEST_STEP = 0.3  # a step never costs less than this (the forward pass alone, on the reference machine)
FACTOR_RANGE = (1e-4, 1e4)  # beyond this a measured run is no measure (a fit of no time at all, a stalled one)


MEASURED = "scaled by the time your last fine-tuning run of this model took on this computer"
REFERENCE_STEPS = "from fine-tuning step times measured with the bundled e5-small encoder on a 2-core CPU"
REFERENCE_EMBEDDING = (
    "from the embedding speed of the bundled e5-small encoder on a 2-core CPU; texts embedded before, for "
    "instance by the curation checks, make it faster"
)


@dataclass(frozen=True)
class TimeEstimate:
    seconds: float
    measured: bool  # scaled by a finished run of the same model in this project (this machine, these texts)
    at_most: bool = False  # early stopping or a time limit may end it sooner
    basis: str = REFERENCE_STEPS  # where the figure comes from, in words

    def words(self) -> str:
        words = rough_words(self.seconds)
        return f"up to {words}" if self.at_most and words.startswith("about") else words

    def sentence(self) -> str:
        """One plain sentence for the page."""
        return (
            f"Estimated training time: {self.words()}. A rough guess ({self.basis}): a larger model or longer "
            "texts take longer, a GPU is much faster."
        )


def step_seconds(params: FinetuneParams) -> float:
    """Seconds per optimiser step on the reference machine, for these frozen layers and batch size."""
    frozen = params.frozen_layers
    if frozen == AUTO_FROZEN_LAYERS:  # on a CPU: half of the layers, none when the word embeddings are trained
        frozen = REFERENCE_LAYERS // 2 if params.freeze_embeddings else 0
    known = sorted(STEP_SECONDS)
    # straight lines between the measured points; beyond the last one, the last line continued
    low = max([k for k in known[:-1] if k <= frozen], default=known[0])
    high = known[known.index(low) + 1]
    slope = (STEP_SECONDS[high] - STEP_SECONDS[low]) / (high - low)
    seconds = max(LOWEST_STEP, STEP_SECONDS[low] + slope * (max(frozen, 0) - low))
    if not params.freeze_embeddings and frozen == 0:
        seconds *= TRAINED_EMBEDDINGS
    return seconds * params.batch_size / REFERENCE_BATCH


def finetune_fit_seconds(params: FinetuneParams, train: int, held_out: int, steps: int | None = None) -> float:
    """The fit (blended probe, loading, steps, validation checks) on the reference machine."""
    per_step = step_seconds(params)
    per_epoch = max(1, math.ceil(train / params.batch_size))
    total_steps = steps if steps is not None else max(1, math.ceil(per_epoch * params.epochs))
    training = total_steps * per_step
    done = 1.0  # the share of the steps made before a time limit stops the training
    if params.time_limit_minutes and training > params.time_limit_minutes * 60:
        done = params.time_limit_minutes * 60 / training
        training = params.time_limit_minutes * 60
    scoring = per_step / params.batch_size * FORWARD_SHARE  # seconds to score one text
    checks = params.evaluations_per_epoch * math.ceil(total_steps / per_epoch) * done
    blend = (train + held_out) / EMBEDDINGS_PER_SECOND if params.blend_with != "none" else 0.0
    return LOADING_SECONDS + blend + training + checks * held_out * scoring


def setfit_fit_seconds(params: SetFitParams, train: int, held_out: int) -> float:
    """SetFit's fit on the reference machine: its steps are fine-tuning steps of two texts per pair (the head's
    logistic regression costs the embedding of the samples)."""
    step_params = FinetuneParams(
        batch_size=2 * params.batch_size,
        frozen_layers=params.frozen_layers,
        freeze_embeddings=params.freeze_embeddings,
    )
    pairs = min(params.max_pairs, params.pairs_per_sample * train)
    steps = max(1, math.ceil(pairs / params.batch_size)) * params.epochs
    training = steps * step_seconds(step_params)
    if params.time_limit_minutes:
        training = min(training, params.time_limit_minutes * 60)
    return LOADING_SECONDS + training + (train + held_out) / EMBEDDINGS_PER_SECOND


def reference_seconds(params: TrainerParams, samples: int, test_samples: int) -> float:
    """One model on `samples` snapshot samples, then scored on `test_samples`, on the reference machine."""
    if isinstance(params, SetFitParams):
        held_out = round(samples * params.validation_fraction)
        return setfit_fit_seconds(params, samples - held_out, held_out) + test_samples / EMBEDDINGS_PER_SECOND
    if isinstance(params, FinetuneParams):
        held_out = round(samples * params.validation_fraction)
        scoring = step_seconds(params) / params.batch_size * FORWARD_SHARE
        blended = 1 / EMBEDDINGS_PER_SECOND if params.blend_with != "none" else 0.0
        return finetune_fit_seconds(params, samples - held_out, held_out) + test_samples * (scoring + blended)
    embedding = (samples + test_samples) / EMBEDDINGS_PER_SECOND
    return 2.0 + (embedding * HYBRID_EXTRA if isinstance(params, HybridParams) else embedding)


def machine_factor(runs: Sequence[TrainingRun], params: TrainerParams) -> float | None:
    """How much slower (above 1) or faster this machine and these texts fine-tune than the reference figures, from
    the newest finished fine-tuning run of the same model; None when there is none."""
    if not isinstance(params, FinetuneParams):
        return None
    for run in runs:  # newest first
        fit = (run.metrics or {}).get("fit") or {}
        if run.status != "done" or run.trainer != "finetune" or run.base_model != params.base_model:
            continue
        if not fit.get("steps") or not fit.get("seconds") or run.mode != "single":
            continue
        before = saved_params("finetune", run.params)
        assert isinstance(before, FinetuneParams)
        train = int(fit.get("train_samples") or 0)
        held_out = int((run.metrics or {}).get("validation_samples") or 0)
        predicted = finetune_fit_seconds(before, train, held_out, steps=int(fit["steps"]))
        factor = float(fit["seconds"]) / predicted
        if FACTOR_RANGE[0] <= factor <= FACTOR_RANGE[1]:
            return factor
    return None


def estimate_training(
    params: TrainerParams, samples: Sequence[int], test_samples: int, runs: Sequence[TrainingRun] = ()
) -> TimeEstimate:
    """How long a run will take: one model per entry of `samples` (a learning curve has several), each scored on
    the test split. `runs`: the project's runs, newest first (a finished fine-tuning run of the same model scales
    the figure to this machine)."""
    seconds = sum(reference_seconds(params, n, test_samples) for n in samples)
    factor = machine_factor(runs, params)
    at_most = isinstance(params, FinetuneParams) and (params.time_limit_minutes > 0 or params.validation_fraction > 0)
    at_most = at_most or (isinstance(params, SetFitParams) and params.time_limit_minutes > 0)
    if isinstance(params, SetFitParams):
        basis = REFERENCE_STEPS
    elif not isinstance(params, FinetuneParams):
        basis = REFERENCE_EMBEDDING
    else:
        basis = MEASURED if factor is not None else REFERENCE_STEPS
    return TimeEstimate(seconds * (factor or 1.0), measured=factor is not None, at_most=at_most, basis=basis)

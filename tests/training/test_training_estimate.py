"""The rough training time shown before a run starts: the README's measured step times, what makes a run longer
or shorter, and the scaling by a finished fine-tuning run of this project (real runs on the tiny encoder)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from core.jobs.runner import run_job
from core.store import Store
from core.time_words import elapsed_words, rough_words
from core.training.estimate import (
    REFERENCE_BATCH,
    STEP_SECONDS,
    estimate_training,
    finetune_fit_seconds,
    machine_factor,
    step_seconds,
)
from core.training.launch import TrainingRequest, start_training
from core.training.params import EFFORTS, FinetuneParams, LinearParams, parse_params
from core.training.run_store import list_runs
from core.training.snapshot import SnapshotOptions
from tests.training_support import make_project, single_torch_thread


@pytest.fixture(autouse=True)
def one_thread() -> Iterator[None]:
    with single_torch_thread():
        yield


def test_step_times_follow_the_measured_points_and_the_settings() -> None:
    for frozen, seconds in STEP_SECONDS.items():  # the README's measurements are the reference points
        assert step_seconds(FinetuneParams(frozen_layers=frozen)) == pytest.approx(seconds)
    between = step_seconds(FinetuneParams(frozen_layers=5))
    assert STEP_SECONDS[6] < between < STEP_SECONDS[4]
    assert step_seconds(FinetuneParams(frozen_layers=10)) < STEP_SECONDS[8]  # more frozen: faster still
    automatic = FinetuneParams()  # on a CPU: half of e5-small's 12 layers
    assert step_seconds(automatic) == pytest.approx(STEP_SECONDS[6])
    assert step_seconds(replace(automatic, batch_size=2 * REFERENCE_BATCH)) == pytest.approx(2 * STEP_SECONDS[6])
    trained_embeddings = replace(automatic, freeze_embeddings=False)  # automatic then freezes nothing
    assert step_seconds(trained_embeddings) > step_seconds(replace(automatic, frozen_layers=0))


def test_longer_runs_are_estimated_longer_and_limits_cap_them() -> None:
    balanced = parse_params("finetune", {})
    quick = parse_params("finetune", EFFORTS["quick"])
    thorough = parse_params("finetune", EFFORTS["thorough"])
    seconds = [estimate_training(p, [2000], 300).seconds for p in (quick, balanced, thorough)]
    assert seconds == sorted(seconds) and seconds[0] < seconds[2] / 3
    assert estimate_training(balanced, [4000], 300).seconds > estimate_training(balanced, [2000], 300).seconds
    capped = replace(thorough, time_limit_minutes=5.0)
    estimate = estimate_training(capped, [20_000], 300)
    assert estimate.seconds < estimate_training(thorough, [20_000], 300).seconds / 3 and estimate.at_most
    no_steps = finetune_fit_seconds(replace(capped, epochs=1e-9, evaluations_per_epoch=1), 20_000, 0)
    assert finetune_fit_seconds(capped, 20_000, 0) <= 5 * 60 + no_steps  # only the steps are limited
    # a learning curve trains once per point
    assert estimate_training(balanced, [500, 1000, 2000], 300).seconds == pytest.approx(
        sum(estimate_training(balanced, [n], 300).seconds for n in (500, 1000, 2000))
    )
    probe = estimate_training(LinearParams(encoder="e5"), [2000], 300)
    assert probe.seconds < seconds[0] and "embedding speed" in probe.sentence()
    assert "rough guess" in estimate.sentence() and "step times measured" in estimate.sentence()


def test_a_finished_fine_tuning_run_scales_the_estimate_to_this_machine(
    sqlite_store: Store, tiny_encoder: Path
) -> None:
    project = make_project(sqlite_store, tiny_encoder)
    values = {"epochs": 2, "batch_size": 8, "blend_with": "none", "validation_fraction": 0.25}
    request = TrainingRequest("tuned", "finetune", values, SnapshotOptions(include_pending=True))
    _, job = start_training(sqlite_store, project.id, request)
    assert run_job(sqlite_store, job.id) == "done"
    runs = list_runs(sqlite_store, project.id)
    [run] = runs
    params = parse_params("finetune", {**values, "base_model": str(tiny_encoder)})
    factor = machine_factor(runs, params)
    assert factor is not None and factor < 1  # a 2-layer model of width 32 steps far faster than e5-small
    fit = run.metrics["fit"]
    held_out = run.metrics["validation_samples"]
    # the same run again: its fit is estimated at what it took
    assert finetune_fit_seconds(params, fit["train_samples"], held_out, fit["steps"]) * factor == pytest.approx(
        fit["seconds"]
    )
    estimate = estimate_training(params, [run.snapshot["total"]], 24, runs)
    assert estimate.measured and "this computer" in estimate.sentence()
    other_model = replace(params, base_model="another/model")
    assert machine_factor(runs, other_model) is None and not estimate_training(other_model, [96], 24, runs).measured


def test_the_forms_values_become_parameters_and_the_front_door_estimates_each_curve_point(
    sqlite_store: Store, tiny_encoder: Path
) -> None:
    from core.evaluation.model_scores import count_test_samples
    from core.front.actor import Actor
    from core.front.training import estimate, form_params

    assert form_params("finetune", {"epochs": "many"}) is None  # not valid yet: no estimate, starting says why
    assert form_params("linear", {"learning_rate": 0.1}) is None  # not a parameter of this trainer
    params = form_params("finetune", {**EFFORTS["quick"], "batch_size": 16, "time_limit_minutes": None})
    assert isinstance(params, FinetuneParams) and params.batch_size == 16 and params.base_model == ""
    project = make_project(sqlite_store, tiny_encoder)
    guess = estimate(Actor.of(sqlite_store), project, params, 96, curve=(10, 20))  # a curve: one model a point
    tests = count_test_samples(sqlite_store, project)
    assert guess == estimate_training(replace(params, base_model=project.encoder), [48, 96], tests)
    assert guess.seconds > estimate(Actor.of(sqlite_store), project, params, 96).seconds  # one model, not two


def test_durations_in_words() -> None:
    assert [elapsed_words(s) for s in (4.4, 65, 3 * 3600 + 125)] == ["4 s", "1 min 05 s", "3 h 02 min"]
    assert [rough_words(s) for s in (20, 70, 7 * 60 + 10, 23 * 60, 80 * 60, 120 * 60)] == [
        "under a minute",
        "about a minute",
        "about 7 minutes",
        "about 25 minutes",
        "about 1 hour 20 minutes",
        "about 2 hours",
    ]

"""What the Train page shows of a run: its live status from its job, a table without empty "None" cells, a loss
curve only where there is a curve, and per-language validation and test scores for the probe and the hybrid
(real runs on the tiny encoder)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from core.jobs.queue import get_job
from core.jobs.runner import run_job
from core.store import Store
from core.training.launch import TrainingRequest, start_training
from core.training.run_store import get_run
from core.training.run_views import language_score_rows, live_status, page_rows, shows_loss
from core.training.snapshot import SnapshotOptions
from tests.training_support import make_project, single_torch_thread


@pytest.fixture(autouse=True)
def one_thread() -> Iterator[None]:
    with single_torch_thread():
        yield


def test_an_active_run_shows_what_its_job_is_doing(sqlite_store: Store, tiny_encoder: Path) -> None:
    project = make_project(sqlite_store, tiny_encoder)
    run, job = start_training(sqlite_store, project.id, TrainingRequest("probe", "linear"))
    assert live_status(run, job) == ("queued", "waiting for a free worker")
    working = replace(job, status="running", progress=0.4, message="Epoch 1/2, step 3/40, loss 1.020")
    assert live_status(run, working) == ("running", "40% · Epoch 1/2, step 3/40, loss 1.020")
    assert live_status(run, replace(job, status="cancelled")) == ("cancelled", "")
    [row] = page_rows([run], {job.id: working})
    progress = "40% · Epoch 1/2, step 3/40, loss 1.020"
    assert (row["status"], row["progress"], row["test macro-F1"], row["minutes"]) == ("running", progress, "", "")
    assert all(isinstance(value, str) and value != "None" for value in row.values())

    assert run_job(sqlite_store, job.id) == "done"
    finished = get_run(sqlite_store, project.id, "probe")
    assert live_status(finished, get_job(sqlite_store, job.id)) == ("done", "")
    [row] = page_rows([finished], {})
    assert row["test macro-F1"] == f"{finished.test_macro_f1:.3f}" and row["samples"] == "48"
    assert row["message"] == finished.message


def test_the_probe_shows_scores_per_language_and_fine_tuning_its_loss(sqlite_store: Store, tiny_encoder: Path) -> None:
    project = make_project(sqlite_store, tiny_encoder)
    everything = SnapshotOptions(include_pending=True)
    values = {"validation_fraction": 0.25}
    _, job = start_training(sqlite_store, project.id, TrainingRequest("probe", "linear", values, everything))
    assert run_job(sqlite_store, job.id) == "done"
    probe = get_run(sqlite_store, project.id, "probe")
    assert not shows_loss(probe) and len(probe.history) == 2  # one training point and one validation point
    rows = language_score_rows(probe)
    validation = {r["language"]: r for r in rows if r["part"] == "validation"}
    test = {r["language"]: r for r in rows if r["part"] == "test"}
    assert set(validation) == set(test) == {"en", "sw"}
    assert sum(r["samples"] for r in validation.values()) == probe.metrics["validation_samples"]
    for code, row in test.items():
        assert row["macro_f1"] == probe.metrics["test"]["languages"][code]["macro_f1"]
        assert row["samples"] == probe.metrics["test"]["languages"][code]["samples"]

    tuned = {"epochs": 2, "batch_size": 8, "blend_with": "none", "validation_fraction": 0.0}
    _, job = start_training(sqlite_store, project.id, TrainingRequest("tuned", "finetune", tuned, everything))
    assert run_job(sqlite_store, job.id) == "done"
    run = get_run(sqlite_store, project.id, "tuned")
    assert shows_loss(run) and not [r for r in language_score_rows(run) if r["part"] == "validation"]

"""Synthetic and human TRAIN samples mixed with a weight (issue 21): a human sample counts as N synthetic ones."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import InvalidInput
from core.jobs.runner import run_job
from core.store import Store
from core.training.launch import TrainingRequest, start_training
from core.training.run_store import get_run_by_id
from core.training.snapshot import SnapshotOptions
from tests.training_support import make_project


def trained(store: Store, project_id: int, name: str, weight: int) -> dict:
    options = SnapshotOptions(human_weight=weight)
    run, job = start_training(store, project_id, TrainingRequest(name=name, trainer="linear", options=options))
    assert run_job(store, job.id) == "done"
    return get_run_by_id(store, run.id).metrics


def test_each_human_sample_is_trained_on_as_often_as_its_weight(sqlite_store: Store, tiny_encoder: Path) -> None:
    project = make_project(sqlite_store, tiny_encoder)
    plain = trained(sqlite_store, project.id, "plain", 1)
    heavy = trained(sqlite_store, project.id, "heavy", 3)
    humans = 4 * 3 * 2  # 4 human train samples per label (3) and language (2), all accepted
    assert heavy["train_samples"] == plain["train_samples"] + 2 * humans
    assert f"Each of the {humans} human samples was counted 3 times." in heavy["notes"]
    assert not any("counted" in note for note in plain["notes"])


def test_a_weight_out_of_range_is_refused_in_words() -> None:
    with pytest.raises(InvalidInput, match="weight of a human sample"):
        SnapshotOptions(human_weight=0)
    assert SnapshotOptions.from_dict({"human_weight": 2}).human_weight == 2

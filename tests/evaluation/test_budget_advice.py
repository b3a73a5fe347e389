"""Data-budget advice from the project's own learning curves (issue 21): a synthetic curve run gives each language
the likely gain of 100 more synthetic samples; a human curve run the gain of 10 human ones; none, no figure."""

from __future__ import annotations

from pathlib import Path

from core.evaluation.budget_advice import budget_advice
from core.jobs.runner import run_job
from core.store import Store
from core.training.launch import TrainingRequest, start_training
from core.training.snapshot import SnapshotOptions
from tests.training_support import LANGUAGES, make_project


def curve_run(store: Store, project_id: int, name: str, origin: str, sizes: tuple[int, ...]) -> None:
    options = SnapshotOptions(origins=(origin,), include_pending=True)
    request = TrainingRequest(name=name, trainer="linear", options=options, curve=sizes)
    _, job = start_training(store, project_id, request)
    assert run_job(store, job.id) == "done"


def test_advice_comes_from_the_curve_runs_of_each_origin(sqlite_store: Store, tiny_encoder: Path) -> None:
    project = make_project(sqlite_store, tiny_encoder)
    counts = {(language, "synthetic"): 36 for language in LANGUAGES}
    counts |= {(language, "human"): 12 for language in LANGUAGES}

    before = budget_advice(sqlite_store, project, counts)
    assert [a.language for a in before] == list(LANGUAGES)
    assert all(a.synthetic is None and a.human is None and a.better_buy() is None for a in before)

    curve_run(sqlite_store, project.id, "synthetic-curve", "synthetic", (6, 15, 36))
    curve_run(sqlite_store, project.id, "human-curve", "human", (3, 6, 12))
    advice = budget_advice(sqlite_store, project, counts)
    for row in advice:
        assert (row.synthetic_run, row.human_run) == ("synthetic-curve", "human-curve")
        assert row.synthetic is not None and row.human is not None
        assert (row.synthetic.extra, row.human.extra) == (100, 10)
        for gain in (row.synthetic, row.human):
            assert gain.expected >= 0 and gain.low <= gain.expected <= gain.high
        assert (row.synthetic_now, row.human_now) == (36, 12)

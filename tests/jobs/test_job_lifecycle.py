"""One lifecycle for long work: each run type's launch decides heaviness from the run; reads never write."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from core.cli import main
from core.evaluation.baseline_store import get_baseline_by_id
from core.evaluation.baselines import BaselineSettings, launch_baseline, start_baseline
from core.evaluation.targeted import TargetCell, launch_targeted
from core.jobs.queue import cancel_job, get_job, list_jobs, submit_job
from core.jobs.reaper import reap_dead_workers
from core.jobs.wait_job import launch_wait
from core.store import Store
from core.store.generation_runs import get_run
from core.store.projects import Project
from tests.training_support import make_project
from tests.worker_support import dead_pid, running_under

DEADLINE_SECONDS = 60.0
CELL = TargetCell(language="en", true="disease", confused_as="weather")


@pytest.fixture
def project(store: Store) -> Project:
    return make_project(store, "bundled:multilingual-e5-small")


def test_the_cli_targeted_generation_with_a_local_model_is_heavy(
    store: Store, project: Project, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A local model fills the machine: its targeted run waits for the heavy slot like any local generation."""
    code = main(
        [
            "targeted", "--project", "crops", "--language", "en", "--label", "disease", "--confused-as", "weather",
            "--backend", "local", "--model", str(tmp_path / "no-model-here"), "--per-cell", "2", "--json",
        ]
    )  # fmt: skip
    out, _ = capsys.readouterr()
    result = json.loads(out)
    assert code == 1 and result["status"] == "failed"  # the folder holds no model: the run stops, its job stays
    assert get_job(store, result["job"]).heavy is True


def test_listing_jobs_leaves_a_dead_job_as_it_was_until_the_reaper_runs(store: Store) -> None:
    job = submit_job(store, "wait", {"seconds": 0})
    running_under(store, job.id, dead_pid())

    assert [(j.id, j.status) for j in list_jobs(store)] == [(job.id, "running")]
    assert [j.status for j in list_jobs(store, active_only=True, kind="wait")] == ["running"]
    assert get_job(store, job.id).status == "running"  # reads never write

    assert reap_dead_workers(store) == [job.id]
    reaped = get_job(store, job.id)
    assert reaped.status == "failed" and reaped.finished_at is not None
    assert "worker process stopped unexpectedly" in reaped.message
    assert reap_dead_workers(store) == []  # once


def test_the_cli_jobs_reap_marks_a_job_whose_worker_died(store: Store, capsys: pytest.CaptureFixture[str]) -> None:
    dead = submit_job(store, "wait", {"seconds": 0})
    running_under(store, dead.id, dead_pid())
    waiting = submit_job(store, "wait", {"seconds": 0})  # queued a moment ago: its worker may still be starting

    assert main(["jobs", "reap", "--json"]) == 0
    out, _ = capsys.readouterr()
    assert json.loads(out) == [dead.id]
    assert get_job(store, dead.id).status == "failed"
    assert get_job(store, waiting.id).status == "queued"

    assert main(["jobs", "reap"]) == 0
    out, _ = capsys.readouterr()
    assert "No job" in out


def test_a_dead_generation_job_fails_its_run_and_a_cancelled_one_cancels_it(
    store: Store, project: Project, tmp_path: Path
) -> None:
    """The run follows its job in one place (the kind's settle hook), whoever ends the job: here the reaper and a
    cancel before any worker started."""
    model = str(tmp_path / "no-model-here")
    launched = launch_targeted(store, project.id, CELL, backend="local", model=model, per_cell=2, background=False)
    assert launched.job.heavy is True and launched.job.status == "queued"  # a local model fills the machine
    assert launched.run.job_id == launched.job.id and launched.run.status == "planned"
    running_under(store, launched.job.id, dead_pid())

    assert get_run(store, launched.run.id).status == "planned"  # nothing has looked yet
    assert reap_dead_workers(store) == [launched.job.id]
    failed = get_run(store, launched.run.id)
    assert failed.status == "failed" and "worker process stopped unexpectedly" in failed.message

    other = launch_targeted(store, project.id, CELL, backend="local", model=model, per_cell=2, background=False)
    assert cancel_job(store, other.job.id).status == "cancelled"
    cancelled = get_run(store, other.run.id)
    assert cancelled.status == "cancelled" and cancelled.message == "Cancelled before it started"


def test_a_dead_baseline_job_fails_its_baseline(store: Store, project: Project) -> None:
    settings = BaselineSettings(name="llm", backend="openai", model="m", base_url="http://127.0.0.1:9/v1", seed=1)
    launched = launch_baseline(store, start_baseline(store, project.id, settings), background=False)
    assert launched.job.heavy is False and launched.run.job_id == launched.job.id  # a server does the work
    running_under(store, launched.job.id, dead_pid())

    assert reap_dead_workers(store) == [launched.job.id]
    baseline = get_baseline_by_id(store, launched.run.id)
    assert baseline.status == "failed" and "worker process stopped unexpectedly" in baseline.message


def test_a_worker_that_starts_reaps_the_dead_ones(store: Store) -> None:
    dead = submit_job(store, "wait", {"seconds": 0})
    running_under(store, dead.id, dead_pid())

    job = launch_wait(store, 0.1, 1)
    assert job.worker_pid is not None
    end = time.monotonic() + DEADLINE_SECONDS
    while get_job(store, job.id).active:
        assert time.monotonic() < end, get_job(store, job.id).message
        time.sleep(0.2)
    assert get_job(store, job.id).status == "done"
    assert get_job(store, dead.id).status == "failed"

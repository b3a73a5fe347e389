"""A run is worked on by one job at a time, whichever process or machine asks: the database refuses a second
queued/running job for the same generation run, baseline or training run (a partial unique index over jobs.run_key),
so two resumes at once send each request once; a job that ends, dies or never starts frees its run again."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from alembic import command
from sqlalchemy import create_engine, inspect, select, text, update
from sqlalchemy.exc import IntegrityError

from core.errors import RunAlreadyRunning
from core.evaluation.baselines import BaselineSettings, start_baseline, submit_baseline
from core.generation.engine import GenerationSettings, start_run
from core.io.importer import ColumnMapping, execute_import, plan_import
from core.jobs.queue import cancel_job, get_job, hostname, submit_job
from core.jobs.runner import run_job
from core.store import Store
from core.store.database import alembic_config
from core.store.projects import create_project, parse_spec
from core.store.schema import JobRow, LlmRequestRow, SampleRow, utcnow
from core.training.launch import TrainingRequest, start_training
from tests.openai_server import ScriptedOpenAIServer
from tests.training_support import make_project

PROJECT_ROOT = Path(__file__).resolve().parents[2]
GATE_DEADLINE_SECONDS = 60.0


def farm(store: Store):  # type: ignore[no-untyped-def]
    project = create_project(
        store,
        parse_spec(
            name="farm",
            task="Classify farmers' messages.",
            languages=[{"code": "sw"}, {"code": "en"}],
            labels=[{"name": "weather", "description": "rain, sun"}, {"name": "prices", "description": "markets"}],
        ),
    )
    frame = pd.DataFrame(
        [("mvua itanyesha kesho?", "weather"), ("bei ya mahindi ni ngapi", "prices")], columns=["text", "label"]
    )
    mapping = ColumnMapping("text", "label", language="sw", origin="human")
    execute_import(store, project, plan_import(store, project, frame, mapping, "human.csv"))
    return project


def resume_process(run_id: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "core", "generate", "--project", "farm", "--resume", str(run_id), "--json"],
        cwd=PROJECT_ROOT,
        env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT), "OPENAI_API_KEY": "sk-local"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.slow
def test_two_resumes_at_once_run_one_job_and_pay_each_request_once(store: Store) -> None:
    """Answers are held back until one of the two resumes has ended: both have asked for the run by then."""
    project = farm(store)
    release = threading.Event()

    def held_back(body: dict[str, Any]) -> str:
        release.wait(GATE_DEADLINE_SECONDS)
        user = next(m["content"] for m in reversed(body["messages"]) if m["role"] == "user")
        asked = int(re.search(r"\b(\d{1,3})\b", user).group(1))  # type: ignore[union-attr]
        return json.dumps([f"Ujumbe wa shamba {i} mbegu {body['seed']}" for i in range(asked)])

    with ScriptedOpenAIServer(responder=held_back) as server:
        settings = GenerationSettings(
            backend="openai", model="test-model", per_cell=4, per_request=2, base_url=server.base_url, seed=7
        )
        run = start_run(store, project.id, settings)
        processes = [resume_process(run.id), resume_process(run.id)]
        try:
            deadline = time.monotonic() + GATE_DEADLINE_SECONDS
            while time.monotonic() < deadline and all(p.poll() is None for p in processes):
                time.sleep(0.05)
            release.set()
            outputs = [p.communicate(timeout=120) for p in processes]
        finally:
            release.set()
            for process in processes:
                if process.poll() is None:
                    process.kill()
        seeds = [r.body["seed"] for r in server.chat_requests]
    codes = [p.returncode for p in processes]
    assert sorted(codes) == [0, 1], outputs
    winner, loser = (outputs[0], outputs[1]) if codes[0] == 0 else (outputs[1], outputs[0])
    result = json.loads(winner[0])
    assert result["status"] == "done"
    assert loser[0] == ""
    assert f"Run #{run.id} is already running as job #{result['job']}" in loser[1]
    with store.session() as session:
        jobs = list(session.scalars(select(JobRow).where(JobRow.kind == "generate")))
        requests = list(
            session.scalars(
                select(LlmRequestRow).where(LlmRequestRow.run_kind == "generation", LlmRequestRow.run_id == run.id)
            )
        )
        samples = list(session.scalars(select(SampleRow).where(SampleRow.generation_run_id == run.id)))
    assert [(j.id, j.status, j.run_key) for j in jobs] == [(result["job"], "done", f"generate:{run.id}")]
    assert len(seeds) == len(set(seeds)) == len(requests)  # every request sent once
    cells = Counter((s.language, s.label) for s in samples)
    assert cells == {(lang, label): settings.per_cell for lang in ("sw", "en") for label in ("weather", "prices")}


def test_a_baseline_takes_one_job_at_a_time_and_is_freed_when_it_ends(store: Store) -> None:
    project = make_project(store, "bundled:multilingual-e5-small")
    settings = BaselineSettings(name="llm", backend="openai", model="m", base_url="http://127.0.0.1:9/v1", seed=1)
    baseline = start_baseline(store, project.id, settings)
    first = submit_baseline(store, baseline)
    assert first.run_key == f"baseline:{baseline.id}"
    with pytest.raises(RunAlreadyRunning, match=f"The baseline 'llm' is already running as job #{first.id}"):
        submit_baseline(store, baseline)
    with store.session() as session:  # the refused resume left nothing behind
        assert session.scalar(select(JobRow.id).where(JobRow.id > first.id)) is None
    assert cancel_job(store, first.id).status == "cancelled"
    second = submit_baseline(store, baseline)  # an ended job frees the run
    with pytest.raises(RunAlreadyRunning):
        submit_baseline(store, baseline)
    # a worker that died while running: the next resume marks its job failed and takes the run
    exited = subprocess.Popen([sys.executable, "-c", "pass"])
    exited.wait()
    with store.session() as session:
        session.execute(
            update(JobRow)
            .where(JobRow.id == second.id)
            .values(status="running", worker_pid=exited.pid, worker_host=hostname(), heartbeat_at=utcnow())
        )
    third = submit_baseline(store, baseline)
    assert get_job(store, second.id).status == "failed"
    # a job queued by a program that stopped before starting its worker blocks only until its start is overdue
    with pytest.raises(RunAlreadyRunning):
        submit_baseline(store, baseline)
    with store.session() as session:
        session.execute(update(JobRow).where(JobRow.id == third.id).values(created_at=utcnow() - timedelta(hours=1)))
    fourth = submit_baseline(store, baseline)
    assert (
        get_job(store, third.id).status == "failed" and "No worker ever started it" in get_job(store, third.id).message
    )
    assert get_job(store, fourth.id).status == "queued"


def test_a_training_run_takes_one_job_at_a_time(store: Store) -> None:
    project = make_project(store, "bundled:multilingual-e5-small")
    run, job = start_training(store, project.id, TrainingRequest(name="first", trainer="linear"))
    assert job.run_key == f"train:{run.id}"
    with pytest.raises(RunAlreadyRunning, match=f"Training run #{run.id} is already running as job #{job.id}"):
        submit_job(store, "train", {"run_id": run.id}, project_id=project.id)
    _, other_job = start_training(store, project.id, TrainingRequest(name="second", trainer="linear"))
    assert other_job.status == "queued"  # another run is not held back
    cancel_job(store, job.id)
    again = submit_job(store, "train", {"run_id": run.id}, project_id=project.id)
    assert again.status == "queued" and again.run_key == job.run_key


def test_jobs_that_work_on_no_run_are_not_held_back(store: Store) -> None:
    first = submit_job(store, "wait", {"seconds": 0})
    second = submit_job(store, "wait", {"seconds": 0})
    assert (first.run_key, second.run_key) == (None, None)
    assert {get_job(store, j.id).status for j in (first, second)} == {"queued"}
    assert run_job(store, first.id) == "done" and run_job(store, second.id) == "done"


def test_the_database_itself_refuses_a_second_active_job_for_a_run(store: Store) -> None:
    """The guarantee holds for any writer (another machine, an older program), not only for submit_job."""

    def insert(status: str) -> None:
        with store.session() as session:
            session.add(JobRow(kind="generate", params={}, status=status, created_by="x", run_key="generate:1"))

    insert("done")
    insert("failed")
    insert("queued")
    with pytest.raises(IntegrityError):
        insert("running")
    with pytest.raises(IntegrityError):
        insert("queued")
    insert("cancelled")


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_the_migration_adds_the_run_key_and_keeps_older_jobs(
    backend: str, studio_home: Path, request: pytest.FixtureRequest
) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from core.store.schema import Base

    studio_home.mkdir(parents=True, exist_ok=True)
    url = f"sqlite:///{studio_home / 'old.db'}" if backend == "sqlite" else request.getfixturevalue("postgres_url")
    engine = create_engine(url)
    with engine.begin() as connection:
        config = alembic_config(url)
        config.attributes["connection"] = connection
        command.upgrade(config, "0005")
    with engine.begin() as connection:
        for status in ("running", "queued"):  # two active jobs of one run, as an older studio could leave them
            connection.execute(
                text(
                    "INSERT INTO jobs (kind, params, heavy, status, progress, message, log_path, cancel_requested, "
                    "created_by, created_at) VALUES ('generate', '{\"run_id\": 1}', false, :status, 0, '', '', "
                    "false, 'a', '2026-01-01')"
                ),
                {"status": status},
            )
    engine.dispose()

    store = Store(url, "tester")  # opening the store migrates
    with store.engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert [d for d in diff if "jobs" in str(d)] == []
    indexes = {i["name"]: i for i in inspect(store.engine).get_indexes("jobs")}
    assert indexes["uq_jobs_active_run"]["unique"] and indexes["uq_jobs_active_run"]["column_names"] == ["run_key"]
    with store.session() as session:
        assert [(j.status, j.run_key) for j in session.scalars(select(JobRow).order_by(JobRow.id))] == [
            ("running", None),
            ("queued", None),
        ]
    config = alembic_config(url)
    command.downgrade(config, "0005")
    assert "run_key" not in {c["name"] for c in inspect(store.engine).get_columns("jobs")}
    command.upgrade(config, "head")
    assert "run_key" in {c["name"] for c in inspect(store.engine).get_columns("jobs")}
    store.dispose()

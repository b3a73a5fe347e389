"""Training runs as jobs: the run folder (atomic, with snapshot, model and metadata), test-split metrics, the loss
history, curves, cancel, a killed worker, delete, zip, predict; and the migration matching the ORM."""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import f1_score
from sqlalchemy import update

from core.errors import InvalidInput, StudioError
from core.evaluation.model_scores import load_test_set
from core.jobs.queue import cancel_job, get_job, list_jobs, pid_alive, start_worker
from core.jobs.reaper import reap_dead_workers
from core.jobs.runner import run_job
from core.project_removal import remove_project
from core.store import Store
from core.store.schema import SampleRow
from core.training import artifacts
from core.training.launch import TrainingRequest, start_training
from core.training.predict import open_model, predict_file, predict_texts
from core.training.run_store import delete_run, get_run, get_run_by_id, list_runs
from core.training.run_views import curve_rows, language_scores, loss_rows, runs_table, zip_run
from core.training.snapshot import SnapshotOptions, load_snapshot_items
from tests.training_support import LANGUAGES, make_project, single_torch_thread

DEADLINE_SECONDS = 60.0
QUICK_FINETUNE = {"epochs": 2, "batch_size": 16, "learning_rate": 1e-3}
QUICK_SETFIT = {"max_pairs": 64, "batch_size": 8, "learning_rate": 1e-3, "validation_fraction": 0.2}
# Trains for minutes unless stopped. No validation split, so no early stop: a tiny model that converges fast would
# otherwise finish (and rename its build folder into place) before the test cancels or kills it.
ENDLESS_FINETUNE = {"epochs": 500, "batch_size": 4, "validation_fraction": 0.0}


@pytest.fixture(autouse=True)
def one_thread() -> Iterator[None]:
    with single_torch_thread():
        yield


@pytest.fixture
def workers() -> Iterator[list[int]]:
    pids: list[int] = []
    yield pids
    for pid in pids:
        if pid_alive(pid):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)


def leftovers(project_id: int) -> list[str]:
    parent = artifacts.project_folder(project_id)
    return sorted(p.name for p in parent.iterdir()) if parent.exists() else []


def train(store: Store, project_id: int, name: str, trainer: str, **request: object) -> tuple[object, str]:
    run, job = start_training(store, project_id, TrainingRequest(name=name, trainer=trainer, **request))
    status = run_job(store, job.id)
    return get_run_by_id(store, run.id), status


@pytest.mark.parametrize("trainer", ["linear", "hybrid", "finetune", "setfit"])
def test_a_training_job_saves_a_complete_run_with_test_metrics(
    sqlite_store: Store, tiny_encoder: Path, trainer: str
) -> None:
    store = sqlite_store
    project = make_project(store, tiny_encoder)
    params = {"finetune": {**QUICK_FINETUNE, "validation_fraction": 0.2}, "setfit": QUICK_SETFIT}.get(trainer, {})
    run, status = train(store, project.id, "first", trainer, params=params)
    assert status == "done", get_job(store, run.job_id).message
    assert run.status == "done" and "Trained on" in run.message
    assert run.base_model == str(tiny_encoder)
    assert {p.name for p in run.folder.iterdir()} == {"run.json", "snapshot.jsonl.gz", "model"}
    assert leftovers(project.id) == [run.folder.name]  # no hidden build folder left behind
    assert artifacts.read_run_file(run.folder)["trainer"] == trainer

    # the metrics are the per-language macro-F1 of the saved model's predictions on the human test split
    test = load_test_set(store, project)
    predicted = predict_texts(open_model(store, project.id, "first"), test.texts).labels
    for language in LANGUAGES:
        picks = [i for i, lang in enumerate(test.languages) if lang == language]
        expected = f1_score([test.labels[i] for i in picks], [predicted[i] for i in picks], average="macro")
        assert run.metrics["test"]["languages"][language]["macro_f1"] == pytest.approx(expected)
    assert run.test_macro_f1 == pytest.approx(np.mean([s["macro_f1"] for s in language_scores(run)]))
    assert run.snapshot["total"] == len(load_snapshot_items(run.folder))
    history = loss_rows(run)
    assert history and all({"step", "loss", "split"} <= set(point) for point in history)
    if trainer in ("finetune", "setfit"):
        assert run.metrics["validation"]["macro_f1"] is not None
        assert max(p["step"] for p in history if p["split"] == "train") == run.metrics["fit"]["steps"]
    [row] = runs_table(list_runs(store, project.id))
    assert (row["name"], row["status"], row["samples"]) == ("first", "done", run.snapshot["total"])


def test_a_run_on_postgres_too(store: Store, tiny_encoder: Path) -> None:
    project = make_project(store, tiny_encoder)
    run, status = train(store, project.id, "pg", "linear")
    assert status == "done" and run.metrics["test"]["samples"] == len(load_test_set(store, project).texts)


def test_the_trained_snapshot_does_not_change_when_samples_are_edited_later(
    sqlite_store: Store, tiny_encoder: Path
) -> None:
    store = sqlite_store
    project = make_project(store, tiny_encoder)
    options = SnapshotOptions(origins=("synthetic",), include_pending=True, per_language=6)
    run, _ = train(store, project.id, "frozen", "linear", options=options)
    items = load_snapshot_items(run.folder)
    assert len(items) == 12 and {i.origin for i in items} == {"synthetic"}
    with store.session() as session:
        session.execute(update(SampleRow).values(text="rewritten", label="price"))
    assert load_snapshot_items(run.folder) == items
    assert {i.text for i in items} != {"rewritten"}
    assert get_run_by_id(store, run.id).snapshot["total"] == 12


def test_a_learning_curve_keeps_every_points_model_and_reports_capped_sizes(
    sqlite_store: Store, tiny_encoder: Path, tmp_path: Path
) -> None:
    store = sqlite_store
    project = make_project(store, tiny_encoder)
    options = SnapshotOptions(include_pending=True)
    run, status = train(store, project.id, "curve", "hybrid", options=options, curve=(3, 9, 500))
    assert status == "done" and run.mode == "curve"
    assert [p["size"] for p in run.curve] == [3, 9, 500]
    assert [p["per_language"] for p in run.curve][:2] == [{"en": 3, "sw": 3}, {"en": 9, "sw": 9}]
    assert run.curve[-1]["capped"] == {"en": 48, "sw": 48}
    assert any("500 is capped" in note for note in run.metrics["notes"])
    for size in (3, 9, 500):
        assert (artifacts.point_folder(run.folder, size) / "model" / "trainer.json").exists()
    assert {row["language"] for row in curve_rows(run)} == {"en", "sw", "mean"}
    assert {p.get("point") for p in run.history} == {3, 9, 500}
    small = open_model(store, project.id, "curve", point=3)
    assert small.point == 3 and len(load_snapshot_items(artifacts.point_folder(run.folder, 3))) == 6
    with pytest.raises(InvalidInput, match="no point 4"):
        open_model(store, project.id, "curve", point=4)


def test_cancelling_a_running_training_leaves_no_folder(sqlite_store: Store, tiny_encoder: Path) -> None:
    store = sqlite_store
    project = make_project(store, tiny_encoder)
    request = TrainingRequest(name="stop", trainer="finetune", params=ENDLESS_FINETUNE)
    run, job = start_training(store, project.id, request)

    def cancel_once_training() -> None:
        end = time.monotonic() + DEADLINE_SECONDS
        while time.monotonic() < end and not get_run_by_id(store, run.id).history:
            time.sleep(0.1)
        cancel_job(store, job.id)

    thread = threading.Thread(target=cancel_once_training)
    thread.start()
    assert run_job(store, job.id) == "cancelled"
    thread.join()
    ended = get_run_by_id(store, run.id)
    assert ended.status == "cancelled" and ended.finished_at is not None
    assert ended.history  # it was stopped mid-training
    assert not ended.folder.exists() and leftovers(project.id) == []


@pytest.mark.slow
def test_a_killed_training_worker_leaves_a_failed_run_and_no_folder(
    sqlite_store: Store, tiny_encoder: Path, workers: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    store = sqlite_store
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    project = make_project(store, tiny_encoder)
    request = TrainingRequest(name="doomed", trainer="finetune", params=ENDLESS_FINETUNE)
    run, job = start_training(store, project.id, request)
    workers.append(start_worker(store, job.id))
    end = time.monotonic() + DEADLINE_SECONDS
    while not get_run_by_id(store, run.id).history:  # mid-training: loss points are coming in
        assert time.monotonic() < end, get_job(store, job.id).message
        time.sleep(0.2)
    assert any(name.startswith(".run-") for name in leftovers(project.id))  # the hidden build folder

    os.killpg(workers[0], signal.SIGKILL)
    while pid_alive(workers[0]):
        assert time.monotonic() < end
        time.sleep(0.1)

    assert reap_dead_workers(store) == [job.id]  # the reaper finds it (reads never do) and settles its run
    [failed] = list_runs(store, project.id)
    assert failed.status == "failed" and "stopped unexpectedly" in failed.message
    assert next(j for j in list_jobs(store) if j.id == job.id).status == "failed"
    assert not failed.folder.exists() and leftovers(project.id) == []
    with pytest.raises(StudioError, match="only a finished run"):
        open_model(store, project.id, "doomed")


def test_runs_are_named_once_per_project_and_untrainable_requests_make_no_run(
    sqlite_store: Store, tiny_encoder: Path
) -> None:
    store = sqlite_store
    project = make_project(store, tiny_encoder)
    train(store, project.id, "same", "linear")
    with pytest.raises(InvalidInput, match="already has a run called 'same'"):
        start_training(store, project.id, TrainingRequest(name="same", trainer="linear"))
    with pytest.raises(InvalidInput, match="has no language de; its languages: en, sw"):
        start_training(
            store, project.id, TrainingRequest(name="x", trainer="linear", options=SnapshotOptions(languages=("de",)))
        )
    with pytest.raises(InvalidInput, match="at least two labels"):
        start_training(
            store, project.id, TrainingRequest(name="x", trainer="linear", options=SnapshotOptions(labels=("price",)))
        )
    with pytest.raises(InvalidInput, match="either a budget per language or learning-curve sizes"):
        start_training(
            store,
            project.id,
            TrainingRequest(name="y", trainer="linear", options=SnapshotOptions(per_language=5), curve=(5,)),
        )
    assert [r.name for r in list_runs(store, project.id)] == ["same"]


def test_delete_and_zip_a_run(sqlite_store: Store, tiny_encoder: Path, tmp_path: Path) -> None:
    store = sqlite_store
    project = make_project(store, tiny_encoder)
    run, _ = train(store, project.id, "keep me", "hybrid")
    archive = zip_run(run, tmp_path / "model.zip")
    with zipfile.ZipFile(archive) as zipped:
        names = set(zipped.namelist())
    inside = {f"keep_me/{p.relative_to(run.folder).as_posix()}" for p in run.folder.rglob("*") if p.is_file()}
    assert names == inside and "keep_me/model/trainer.json" in names
    delete_run(store, run)
    assert not run.folder.exists() and list_runs(store, project.id) == []
    with pytest.raises(StudioError, match="no training run called"):
        get_run(store, project.id, "keep me")


def test_deleting_a_project_removes_its_trained_models_too(sqlite_store: Store, tiny_encoder: Path) -> None:
    kept = make_project(sqlite_store, tiny_encoder, name="kept")
    gone = make_project(sqlite_store, tiny_encoder, name="gone")
    kept_run, _ = train(sqlite_store, kept.id, "stays", "linear")
    gone_run, _ = train(sqlite_store, gone.id, "goes", "linear")
    assert gone_run.folder.is_dir()
    remove_project(sqlite_store, gone.id)
    assert not artifacts.project_folder(gone.id).exists()
    assert kept_run.folder.is_dir() and [r.name for r in list_runs(sqlite_store, kept.id)] == ["stays"]


def test_predict_a_file_writes_labels_confidence_and_probabilities(
    sqlite_store: Store, tiny_encoder: Path, tmp_path: Path
) -> None:
    store = sqlite_store
    project = make_project(store, tiny_encoder)
    run, _ = train(store, project.id, "labeller", "hybrid")
    source = tmp_path / "incoming.csv"
    pd.DataFrame({"id": ["1", "2", "3"], "body": ["rain and wind", "", "=maize market price"]}).to_csv(
        source, index=False
    )
    summary = predict_file(store, project.id, "labeller", source, text_column="body")
    assert summary.out == tmp_path / "incoming.predictions.csv"
    assert (summary.rows, summary.labelled, summary.skipped_empty) == (3, 2, 1)
    out = pd.read_csv(summary.out, dtype=str, keep_default_na=False)
    classes = sorted(("weather", "price", "disease"))
    assert list(out.columns) == ["id", "body", "predicted_label", "confidence", *(f"p_{c}" for c in classes)]
    assert out["body"].tolist()[2] == "'=maize market price"  # spreadsheet-safe
    assert out["predicted_label"].tolist()[1] == ""
    direct = predict_texts(open_model(store, project.id, "labeller"), ["rain and wind", "=maize market price"])
    assert out["predicted_label"].tolist()[::2] == direct.labels
    assert [float(x) for x in out["confidence"].tolist()[::2]] == pytest.approx(direct.confidences, abs=1e-4)
    assert sum(summary.label_counts.values()) == 2
    jsonl = predict_file(store, project.id, "labeller", source, text_column="body", out=tmp_path / "o.jsonl")
    assert len(pd.read_json(jsonl.out, lines=True)) == 3
    with pytest.raises(InvalidInput, match="Which column holds the texts"):
        predict_file(store, project.id, "labeller", source)
    with pytest.raises(InvalidInput, match="no column 'nope'"):
        predict_file(store, project.id, "labeller", source, text_column="nope")
    assert run.status == "done"


def test_the_migration_creates_exactly_the_orm_table(sqlite_store: Store) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory
    from sqlalchemy import inspect

    from core.store.database import alembic_config
    from core.store.schema import Base

    with sqlite_store.engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert [d for d in diff if "training_runs" in str(d)] == []
    assert "training_runs" in inspect(sqlite_store.engine).get_table_names()
    script = ScriptDirectory.from_config(alembic_config(sqlite_store.url)).get_revision("0004")
    assert (script.down_revision, Path(script.path).name) == ("0003", "0004_training_runs.py")

"""The Train page with AppTest: snapshot counts, a real training job in a worker, the finished run's figures."""

from __future__ import annotations

import time
from pathlib import Path

from streamlit.testing.v1 import AppTest

from components.training_runs import curve_figure, loss_figure
from core.store import open_store
from core.training.launch import TrainingRequest, start_training
from core.training.run_store import get_run, list_runs
from core.training.snapshot import SnapshotOptions
from tests.page_text import texts
from tests.test_training_support import make_project

ROOT = Path(__file__).resolve().parents[1]


def _train_page() -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.run()
    at.switch_page("pages/train.py").run()
    assert not at.exception, at.exception
    return at


def _texts(elements) -> str:  # type: ignore[no-untyped-def]
    return texts(elements)


def test_without_a_project_the_page_says_what_to_do(studio_home: Path) -> None:
    at = _train_page()
    assert "Create a project first" in _texts(at.info)


def test_snapshot_counts_then_a_linear_run_in_a_worker(studio_home: Path, tiny_encoder: Path) -> None:
    store = open_store()
    project = make_project(store, tiny_encoder)
    at = _train_page()
    # accepted train samples only by default: 4 synthetic (every third of 12) + 4 human per cell, 3 labels, 2 langs
    assert "**48 samples** would be copied" in _texts(at.markdown)
    preview = at.dataframe[0].value
    assert list(preview["total"]) == [24, 24] and list(preview["weather"]) == [8, 8]
    at.checkbox(key=f"train_{project.id}_pending").check().run()
    assert "**96 samples** would be copied" in _texts(at.markdown)
    at.text_input(key=f"train_{project.id}_name_linear").input("first").run()
    next(b for b in at.button if b.label == "Start training").click().run()
    assert not at.exception, at.exception
    deadline = time.monotonic() + 120
    while get_run(store, project.id, "first").active and time.monotonic() < deadline:
        time.sleep(0.5)
    run = get_run(store, project.id, "first")
    assert run.status == "done", run.message
    assert run.snapshot["total"] == 96
    at = _train_page()
    runs = at.dataframe[1].value
    assert list(runs["name"]) == ["first"] and list(runs["status"]) == ["done"]
    assert f"mean macro-F1 **{run.test_macro_f1:.3f}**" in _texts(at.markdown)
    assert any(b.label == "Delete first" for b in at.button)


def test_loss_and_curve_figures_show_the_run(studio_home: Path, tiny_encoder: Path) -> None:
    from core.jobs.runner import run_job

    store = open_store()
    project = make_project(store, tiny_encoder)
    request = TrainingRequest(
        name="curve", trainer="linear", options=SnapshotOptions(include_pending=True), curve=(3, 6)
    )
    run, job = start_training(store, project.id, request)
    assert run_job(store, job.id) == "done"
    [run] = list_runs(store, project.id)
    figure = curve_figure(run)
    assert figure is not None
    names = {trace.name for trace in figure.data}
    assert {"English", "Swahili", "mean"} <= names
    mean = next(t for t in figure.data if t.name == "mean")
    assert list(mean.x) == [3, 6]
    assert [round(y, 6) for y in mean.y] == [round(p["test_mean_macro_f1"], 6) for p in run.curve]
    losses = loss_figure(run)
    assert losses is None or all(len(t.x) == len(t.y) for t in losses.data)

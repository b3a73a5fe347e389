"""The Train page with AppTest: snapshot counts, a real training job in a worker, the finished run's figures."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from components.training_runs import curve_figure, loss_figure
from core.store import open_store
from core.training.launch import TrainingRequest, start_training
from core.training.run_store import get_run, list_runs
from core.training.snapshot import SnapshotOptions
from tests.page_text import texts
from tests.training_support import make_project

ROOT = Path(__file__).resolve().parents[2]


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


@pytest.mark.slow
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


def _warning_text(at: AppTest) -> str:
    return _texts(at.warning)


def test_the_page_says_what_the_snapshot_leaves_out_and_why(studio_home: Path, tiny_encoder: Path) -> None:
    store = open_store()
    project = make_project(store, tiny_encoder)
    at = _train_page()
    # 8 of the 12 generated train samples of each label x language are pending: 24 per language
    assert (
        '48 pending samples are not used: review them on Curate, or tick "Also pending samples" '
        "(English 24, Swahili 24)." in _warning_text(at)
    )
    assert "24 samples of the test split are kept apart" in _warning_text(at)
    at.checkbox(key=f"train_{project.id}_pending").check().run()
    assert not at.warning  # nothing left out that a person may want: a note, no warning
    assert "24 samples of the test split are kept apart to score the models" in _texts(at.caption)
    at.multiselect(key=f"train_{project.id}_origins").set_value(["human"]).run()
    assert "72 generated samples are not used" in _texts(at.caption)  # 36 per language


def _in_expander(at: AppTest, label: str) -> list[str]:
    [expander] = [e for e in at.expander if e.label == label]
    return [w.label for w in expander.number_input] + [w.label for w in expander.checkbox]


def test_fine_tuning_is_chosen_in_words_with_an_estimated_time(studio_home: Path, tiny_encoder: Path) -> None:
    store = open_store()
    project = make_project(store, tiny_encoder)
    at = _train_page()
    at.radio(key=f"train_{project.id}_trainer").set_value("finetune").run()
    assert not at.exception, at.exception
    effort = at.radio(key=f"train_{project.id}_effort")
    assert effort.options == [
        "Quick: one pass over the samples; on a CPU the lower half of the model stays as it is",
        "Balanced: two passes over the samples (the default)",
        "Thorough: up to four passes, every layer adapts (stops early when it no longer improves)",
    ]
    advanced = _in_expander(at, "Advanced options")
    assert {"Learning rate", "Epochs", "Batch size", "Frozen layers (-1: automatic)"} <= set(advanced)
    outside = {w.label for w in at.number_input} - set(advanced)
    # the snapshot's, not the trainer's (the weight: both origins are chosen by default)
    assert outside == {"Samples per language", "At most per label × language", "Weight of a human sample"}
    import torch

    shown = [c.value.replace("\\", "") for c in at.caption]  # the markdown source, escaped
    assert f"Trains on the CPU ({torch.get_num_threads()} threads)." in shown
    time_allowed = next(s for s in at.selectbox if s.label == "Time allowed")
    assert time_allowed.value == 0.0 and time_allowed.format_func(0.0) == "no limit"
    assert time_allowed.format_func(60.0) == "1 hour"
    # every number has its one line of help
    expander = next(e for e in at.expander if e.label == "Advanced options")
    assert all(w.help for w in expander.number_input)

    def expected(effort_name: str) -> str:
        from core.training.estimate import estimate_training
        from core.training.params import EFFORTS, parse_params

        params = parse_params("finetune", {**EFFORTS[effort_name], "base_model": str(tiny_encoder)})
        return estimate_training(params, [48], 24).sentence()

    assert expected("balanced") in _texts(at.info)
    effort.set_value("thorough").run()
    assert at.number_input(key=f"train_{project.id}_finetune_epochs_thorough").value == 4.0
    assert at.number_input(key=f"train_{project.id}_finetune_frozen_layers_thorough").value == 0
    assert expected("thorough") in _texts(at.info) and "rough guess" in _texts(at.info)


@pytest.mark.slow
def test_a_running_fine_tune_shows_its_time_and_the_table_follows_it(studio_home: Path, tiny_encoder: Path) -> None:
    from core.jobs.queue import get_job
    from core.jobs.time_left import MIN_PROGRESS, MIN_SECONDS
    from core.store.schema import utcnow

    store = open_store()
    project = make_project(store, tiny_encoder)
    at = _train_page()
    key = f"train_{project.id}"
    at.radio(key=f"{key}_trainer").set_value("finetune").run()
    at.text_input(key=f"{key}_name_finetune").input("long").run()
    at.number_input(key=f"{key}_finetune_epochs_balanced").set_value(150.0).run()  # long enough to watch
    at.number_input(key=f"{key}_finetune_validation_fraction").set_value(0.0).run()
    at.number_input(key=f"{key}_finetune_batch_size").set_value(8).run()
    next(s for s in at.selectbox if s.label == "Blend with").set_value("none").run()
    next(b for b in at.button if b.label == "Start training").click().run()
    assert not at.exception, at.exception
    run = get_run(store, project.id, "long")
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        job = get_job(store, run.job_id)
        started = job.started_at is not None and (utcnow() - job.started_at).total_seconds() > MIN_SECONDS + 1
        if not job.active or (started and job.progress >= MIN_PROGRESS and "step" in job.message):
            break
        time.sleep(0.3)
    assert job.status == "running", job.message
    at.run()
    assert not at.exception, at.exception
    captions = _texts(at.caption)
    assert "Running for " in captions and "left (a rough guess from the progress so far)." in captions
    table = next(d.value for d in at.dataframe if "progress" in d.value.columns)
    [row] = table.to_dict("records")
    assert row["name"] == "long" and row["status"] == "running"
    assert "% · Epoch " in row["progress"] and "step" in row["progress"]  # "6% · Epoch 9/150, step 50/900, …"
    next(b for b in at.button if b.label == "Cancel").click().run()
    deadline = time.monotonic() + 60
    while get_run(store, project.id, "long").active and time.monotonic() < deadline:
        time.sleep(0.3)
    assert get_run(store, project.id, "long").status == "cancelled"


def test_the_probe_shows_scores_per_language_instead_of_a_one_dot_loss(studio_home: Path, tiny_encoder: Path) -> None:
    import json

    from core.jobs.runner import run_job

    store = open_store()
    project = make_project(store, tiny_encoder)
    request = TrainingRequest("held", "linear", {"validation_fraction": 0.25}, SnapshotOptions(include_pending=True))
    _, job = start_training(store, project.id, request)
    assert run_job(store, job.id) == "done"
    at = _train_page()
    specs = [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]
    [bars] = specs
    run = get_run(store, project.id, "held")
    names = [trace["name"] for trace in bars["data"]]
    assert names == [f"validation ({run.metrics['validation_samples']} samples)", "test (24 samples)"]
    assert all(trace["type"] == "bar" for trace in bars["data"])
    assert "Loss" not in _texts(at.markdown)
    # the run was evaluated on the test split by its job: a link opens that evaluation
    [link] = at.get("page_link")
    assert "open its confusion matrices on Evaluate" in link.proto.label

    _, job = start_training(store, project.id, TrainingRequest("plain", "linear"))
    assert run_job(store, job.id) == "done"
    at = _train_page()
    assert at.selectbox(key=f"train_{project.id}_chosen").value == "plain"
    assert not at.get("plotly_chart") and "it has no loss curve to follow" in _texts(at.caption)

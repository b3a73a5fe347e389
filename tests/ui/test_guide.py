"""Where a project stands in the loop and the one suggested next step (core.guide), and the Projects page that
shows it. Real SQLite, real check and training jobs on the tiny encoder."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from streamlit.testing.v1 import AppTest

from core.curation.sample_actions import bulk_change
from core.evaluation.run_evaluation import evaluate_run
from core.guide import loop_status
from core.io.importer import ColumnMapping, execute_import, plan_import
from core.jobs.runner import run_job
from core.store import Store, open_store
from core.store.projects import Project, create_project, get_project, parse_spec
from core.store.samples import SampleFilter
from core.training.launch import TrainingRequest, start_training
from tests.page_text import texts
from tests.training_support import LABELS, sample_rows, single_torch_thread

ROOT = Path(__file__).resolve().parents[2]


def _project(store: Store, encoder: Path) -> Project:
    spec = parse_spec(
        name="crops",
        labels=[{"name": label} for label in LABELS],
        languages=[{"code": "en"}, {"code": "sw"}],
        encoder=str(encoder),
    )
    return create_project(store, spec)


def _import(store: Store, project: Project, rows: list[dict[str, str]]) -> None:
    mapping = ColumnMapping(text_column="text", label_column="label", language_column="language")
    plan = plan_import(store, project, pd.DataFrame(rows), mapping, source="rows")
    assert plan.ok, [p.describe() for p in plan.errors]
    execute_import(store, project, plan)


def _next(store: Store, project: Project) -> str:
    return loop_status(store, get_project(store, project.id)).next_step.key


def test_the_next_step_follows_the_loop(sqlite_store: Store, tiny_encoder: Path) -> None:
    from core.cli import main

    project = _project(sqlite_store, tiny_encoder)
    rows = sample_rows()
    status = loop_status(sqlite_store, project)
    assert [s.key for s in status.steps] == ["test", "generate", "check", "review", "train", "evaluate", "improve"]
    assert status.next_step.key == "test" and "Import texts labelled by people" in status.next_step.next_action

    _import(sqlite_store, project, [r for r in rows if r["split"] == "test" and r["language"] == "en"])
    test = loop_status(sqlite_store, project).steps[0]
    assert (test.state, test.per_language) == ("attention", {"en": "12", "sw": "0"})
    assert "Missing: Swahili" in test.next_action and _next(sqlite_store, project) == "test"

    _import(sqlite_store, project, [r for r in rows if r["split"] == "test" and r["language"] == "sw"])
    assert _next(sqlite_store, project) == "generate"

    _import(sqlite_store, project, [r for r in rows if r["split"] == "train"])
    assert _next(sqlite_store, project) == "check"
    assert main(["flag", "--project", "crops", "--threshold", "0.9999"]) == 0
    review = loop_status(sqlite_store, project).steps[3]
    assert review.state == "attention" and _next(sqlite_store, project) == "review"
    assert "to review" in review.summary and "Review the" in review.next_action

    bulk_change(sqlite_store, project.id, "accept", flt=SampleFilter(statuses=("pending",)))
    assert _next(sqlite_store, project) == "train"
    with single_torch_thread():
        _, job = start_training(sqlite_store, project.id, TrainingRequest(name="probe", trainer="linear"))
        assert run_job(sqlite_store, job.id) == "done"
    if _next(sqlite_store, project) == "evaluate":  # training may already have evaluated it
        evaluate_run(sqlite_store, project.id, "probe")
    status = loop_status(sqlite_store, project)
    scores = status.steps[5]
    assert scores.state == "done" and set(scores.per_language) == {"en", "sw"}
    assert all(0.0 <= float(value) <= 1.0 for value in scores.per_language.values())
    assert status.next_step.key == "improve"


def test_samples_added_after_the_check_ask_for_it_again(sqlite_store: Store, tiny_encoder: Path) -> None:
    from core.cli import main

    project = _project(sqlite_store, tiny_encoder)
    rows = sample_rows()
    _import(sqlite_store, project, [r for r in rows if r["split"] == "test"])
    _import(sqlite_store, project, [r for r in rows if r["split"] == "train" and r["language"] == "en"])
    assert main(["flag", "--project", "crops"]) == 0
    assert loop_status(sqlite_store, project).steps[2].state == "done"
    _import(sqlite_store, project, [r for r in rows if r["split"] == "train" and r["language"] == "sw"])
    check = loop_status(sqlite_store, project).steps[2]
    assert check.state == "attention" and "samples were added since" in check.summary


def test_the_projects_page_shows_the_loop_and_the_next_step(studio_home: Path, tiny_encoder: Path) -> None:
    store = open_store()
    project = _project(store, tiny_encoder)
    _import(store, project, [r for r in sample_rows() if r["split"] == "test"])
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.run()
    assert not at.exception, at.exception
    shown = texts(at.markdown) + " " + texts(at.caption)
    assert "Next: Samples from an LLM" in shown and "Generate labelled samples with an LLM" in shown
    assert "1. Test samples by people" in shown and "en 12 · sw 12" in shown
    assert [link.proto.label for link in at.get("page_link")] == ["Go to Generate"]

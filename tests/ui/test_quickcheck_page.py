"""The Evaluate page's *Check a model* panel with AppTest (the real app script and store, real job workers): with
no project yet, a predictions file uploaded becomes a project that the page selects and scores; with a project, a
Hugging Face model's labels are shown mapped, the check refused until the unmapped one is picked, then run as a job."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from components.quick_check_panel import CHOOSE, FROM_MODEL
from core.evaluation.evaluations import latest_evaluation, list_evaluations
from core.jobs.queue import list_jobs
from core.store import open_store
from core.store.projects import get_project, list_projects
from tests.evaluation.test_quickcheck import prediction_rows
from tests.evaluation.test_quickcheck_model import ID2LABEL, crops
from tests.page_text import texts
from tests.tiny_models import build_tiny_text_classifier
from tests.training_support import single_torch_thread
from tests.ui.test_evaluate_page import button, open_page, wait_for_job

MISSING = re.compile(r"(?<![\w-])(None|nan|NaN|NaT)(?![\w-])")


@pytest.fixture(autouse=True)
def one_thread() -> Iterator[None]:
    with single_torch_thread():
        yield


def shown_text(at: AppTest) -> str:
    """Everything the page writes as text, and the cells of its tables."""
    parts = [texts(getattr(at, kind)) for kind in ("markdown", "caption", "info", "warning", "success", "error")]
    for frame in [*(d.value for d in at.dataframe), *(t.value for t in at.table)]:
        parts.append(frame.astype(str).to_string())
    return " ".join(parts)


def by_key(elements: Any, key: str) -> Any:
    return next(e for e in elements if e.key == key)


def test_a_predictions_file_checked_before_there_is_a_project(studio_home: Path) -> None:
    at = open_page()
    assert "Create a project first" in texts(at.info) and "check any classifier right here" in texts(at.info)
    rows = prediction_rows()
    rows[4]["predicted"] = "other"  # a label the project will not have: reported, never mapped
    data = pd.DataFrame(rows).to_csv(index=False).encode()
    at.file_uploader[0].upload("farm-preds.csv", data, "text/csv").run()
    assert not at.exception, at.exception
    assert "**farm-preds.csv**: 72 rows; columns sentence, gold, predicted, lang, score" in texts(at.caption)
    # the columns are guessed from their names; the one language missing from the guesses is a column here too
    picked = {s.label: s.value for s in at.selectbox}
    assert picked["Text column"] == "sentence" and picked["True label column"] == "gold"
    assert picked["Predicted label column"] == "predicted" and picked["Language column"] == "lang"
    assert picked["Confidence column (optional)"] == "score"
    button(at, "Check these predictions").click().run()
    assert not at.exception, at.exception

    store = open_store()
    [project] = list_projects(store)
    assert project.name == "farm-preds" and project.language_codes == ["en", "sw"]
    evaluation = latest_evaluation(store, project.id, "farm-preds.csv")
    # the new project is the current one, and its evaluation is shown
    assert at.query_params["project"] == str(project.id) and at.query_params["evaluation"] == str(evaluation.id)
    assert "72 of the file's 72 rows scored as human test samples of the new project 'farm-preds'" in texts(at.success)
    assert "The predicted label 'other' (1 row: 5) is none of the project's labels" in texts(at.warning)
    pick = next(s for s in at.selectbox if s.label == "Evaluation")
    assert pick.value == evaluation.id and "farm-preds.csv (predictions file)" in pick.format_func(pick.value)
    table = next(d.value for d in at.dataframe if "macro-F1" in d.value.columns)
    assert table["language"].tolist() == ["English (en)", "Swahili (sw)", "all languages (pooled)"]
    assert table["macro-F1"].tolist() == pytest.approx(
        [evaluation.metrics[code]["macro_f1"] for code in ("en", "sw", "overall")]
    )
    assert table["no usable answer"].tolist() == [1, 0, 1]
    assert "Confusion matrix" in texts(at.subheader) and at.get("plotly_chart")
    assert not MISSING.search(shown_text(at)), shown_text(at)

    # the matrix opens on the weakest cell; a file's unknown label has its own cell, the file's word beside it
    language = next(s for s in at.selectbox if s.label == "Language")
    language.set_value("en").run()
    by_key(at.selectbox, f"matrix_{evaluation.id}_en_true").set_value(rows[4]["gold"]).run()
    by_key(at.selectbox, f"matrix_{evaluation.id}_en_predicted").set_value("(no usable answer)").run()
    assert "whose predicted label in the file is none of the project's labels" in texts(at.markdown)
    [samples] = at.table
    assert samples.value["predicted in the file"].tolist() == ["other"]
    assert not MISSING.search(shown_text(at)), shown_text(at)


@pytest.mark.slow
def test_a_model_checked_from_the_page(studio_home: Path, tmp_path: Path) -> None:
    store = open_store()
    project = crops(store)
    folder = build_tiny_text_classifier(tmp_path / "tiny-classifier", ID2LABEL)
    at = AppTest.from_file(str(Path(__file__).resolve().parents[2] / "app.py"), default_timeout=60)
    at.query_params["project"] = str(project.id)
    at.run()
    at.switch_page("pages/evaluate.py").run()
    assert not at.exception, at.exception
    by_key(at.radio, "quick_check_kind").set_value(FROM_MODEL).run()
    by_key(at.text_input, f"quick_check_model_spec_{project.id}").input(str(folder)).run()
    button(at, "Read its labels").click().run()
    assert not at.exception, at.exception
    pickers = [s for s in at.selectbox if s.key and s.key.startswith(f"quick_check_map_{project.id}_")]
    assert [(p.label, p.value) for p in pickers] == [("Weather", "weather"), ("bei", "price"), ("LABEL\\_2", CHOOSE)]
    assert "The model's label 'LABEL_2' matches none of the project's labels" in texts(at.warning)
    assert button(at, "Check the model").disabled

    pickers[2].set_value("disease").run()
    assert not any("matches none" in w for w in texts(at.warning).split("\n"))
    assert not button(at, "Check the model").disabled
    button(at, "Check the model").click().run()
    assert not at.exception, at.exception
    [job] = list_jobs(store, project.id, kind="model_check")
    assert job.params["map"] == {"Weather": "weather", "bei": "price", "LABEL_2": "disease"}
    wait_for_job(at, job.id)
    [evaluation] = list_evaluations(store, project.id)
    assert evaluation.source == "model" and evaluation.test_size == 24
    pick = next(s for s in at.selectbox if s.label == "Evaluation")
    assert pick.value == evaluation.id and "tiny-classifier (Hugging Face model)" in pick.format_func(pick.value)
    assert get_project(store, project.id).label_names == ["weather", "price", "disease"]  # the project unchanged
    assert not MISSING.search(shown_text(at)), shown_text(at)

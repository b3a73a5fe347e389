"""The Evaluate page with AppTest: the real app script and store, a real run (the linear probe on a tiny random
encoder) trained here, real job workers; and the figures the page draws, built by the component functions."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from sqlalchemy import delete
from streamlit.testing.v1 import AppTest

from components.confusion_matrix import confusion_figure
from components.evaluation_views import comparison_figure, language_rows, replay_missing
from core.errors import NotFound
from core.evaluation.choices import weakest_language
from core.evaluation.comparison import compare
from core.evaluation.error_cells import NO_ANSWER, weak_cells
from core.evaluation.evaluations import (
    Evaluation,
    latest_evaluation,
    load_predictions,
    save_evaluation,
)
from core.evaluation.intervals import score_intervals
from core.evaluation.metrics import OVERALL, Prediction
from core.evaluation.model_scores import load_test_set
from core.evaluation.run_evaluation import evaluate_run
from core.evaluation.scores import LanguageScores
from core.io.importer import ColumnMapping, execute_import, plan_import
from core.jobs.queue import get_job, list_jobs
from core.jobs.runner import run_job
from core.store import Store, generation_runs, open_store
from core.store.projects import Project, create_project, get_project, parse_spec
from core.store.samples import get_sample
from core.store.schema import EvaluationRow
from core.training.launch import TrainingRequest, start_training
from tests.openai_server import ScriptedOpenAIServer
from tests.page_text import texts
from tests.training_support import CUES, LABELS, make_project, sample_rows, single_torch_thread

ROOT = Path(__file__).resolve().parents[2]
# human test samples whose words say one label and whose label says another: the model's confident mistakes
MISLABELLED = [
    ("maize market sell odd one sw", "weather", "sw"),
    ("market cost maize odd two sw", "weather", "sw"),
    ("sell maize cost odd three sw", "weather", "sw"),
    ("leaf pest rot odd four en", "price", "en"),
]


@pytest.fixture(autouse=True)
def one_thread() -> Iterator[None]:
    with single_torch_thread():
        yield


def add_test_rows(store: Store, project: Project, rows: list[tuple[str, str, str]]) -> None:
    frame = pd.DataFrame(rows, columns=["text", "label", "language"])
    mapping = ColumnMapping("text", "label", language_column="language", split="test", origin="human")
    plan = plan_import(store, project, frame, mapping, "more.csv")
    assert plan.ok, [p.describe() for p in plan.errors]
    execute_import(store, project, plan)


def trained_project(store: Store, encoder: Path, *, evaluate: bool = True) -> Project:
    """The training tests' two-language project plus a few mislabelled test samples, and a trained linear probe."""
    project = make_project(store, encoder)
    add_test_rows(store, project, MISLABELLED)
    _, job = start_training(store, project.id, TrainingRequest(name="probe", trainer="linear"))
    assert run_job(store, job.id) == "done"  # the job stores the run's evaluation on the test split
    if evaluate:
        evaluate_run(store, project.id, "probe")  # the same again, from the saved model
    return get_project(store, project.id)


def open_page() -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.run()
    at.switch_page("pages/evaluate.py").run()
    assert not at.exception, at.exception
    return at


def widget(elements: Any, label: str) -> Any:
    return next(e for e in elements if e.label == label)


def button(at: AppTest, label: str) -> Any:
    return next(b for b in at.button if b.label == label)


def wait_for_job(at: AppTest, job_id: int, seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and get_job(open_store(), job_id).active:
        time.sleep(0.3)
        at.run()  # the live panel's fragment does not tick by itself in AppTest
    job = get_job(open_store(), job_id)
    assert not job.active, f"job #{job_id} still {job.status}"
    at.run()
    assert not at.exception, at.exception


def shown_samples(at: AppTest) -> pd.DataFrame:
    [table] = at.table
    return table.value


def chart_specs(at: AppTest) -> list[dict[str, Any]]:
    return [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]


def test_the_page_says_what_to_do_before_there_is_anything_to_evaluate(studio_home: Path) -> None:
    at = open_page()
    assert "Create a project first" in texts(at.info)

    store = open_store()
    spec = parse_spec(
        name="crops", labels=[{"name": label} for label in LABELS], languages=[{"code": "en"}, {"code": "sw"}]
    )
    project = create_project(store, spec)
    at = open_page()
    assert "no labelled human test samples yet" in texts(at.info)
    assert not at.get("plotly_chart")

    frame = pd.DataFrame(sample_rows())  # 24 human test samples among them; nothing trained
    mapping = ColumnMapping(text_column="text", label_column="label", language_column="language")
    execute_import(store, project, plan_import(store, project, frame, mapping, source="rows"))
    at = open_page()
    assert "Nothing to evaluate yet: the 24 human test samples are ready" in texts(at.info)
    assert '--project "crops"' in texts(at.info)
    assert button(at, "New LLM baseline") and not at.get("plotly_chart") and not at.table


def few_samples_warnings(at: AppTest) -> list[str]:
    return [w.value for w in at.warning if "its scores mean little" in w.value]


def other_warnings(at: AppTest) -> str:
    return texts([w for w in at.warning if "its scores mean little" not in w.value])


@pytest.mark.slow
def test_a_trained_run_is_evaluated_by_its_job_and_can_be_evaluated_again(
    sqlite_store: Store, tiny_encoder: Path
) -> None:
    project = trained_project(sqlite_store, tiny_encoder, evaluate=False)
    evaluation = latest_evaluation(open_store(), project.id, "probe")  # stored by the training job: no click
    at = open_page()
    assert "not evaluated yet" not in widget(at.selectbox, "Trained run").format_func("probe")
    assert widget(at.selectbox, "Evaluation").value == evaluation.id
    [scores] = [d.value for d in at.dataframe if "macro-F1" in d.value.columns]
    assert list(scores["language"]) == ["English (en)", "Swahili (sw)", "all languages (pooled)"]
    for code, macro_f1, n in zip(["en", "sw", OVERALL], scores["macro-F1"], scores["test samples"], strict=True):
        assert macro_f1 == pytest.approx(evaluation.metrics[code]["macro_f1"])
        assert n == evaluation.metrics[code]["n"]
    assert scores["test samples"].iloc[-1] == 28  # 24 test samples + 4 mislabelled ones
    assert len(at.get("plotly_chart")) == 1  # the matrix
    assert not other_warnings(at)

    # a new test sample: the evaluation is out of date until the run is evaluated again, then the new one is shown
    add_test_rows(sqlite_store, project, [("rain wind test new sw", "weather", "sw")])
    at.run()
    assert "The test split has changed since this evaluation (29 test samples" in other_warnings(at)
    button(at, "Evaluate on the test split").click().run()
    assert not at.exception, at.exception
    [job] = list_jobs(open_store(), project.id, kind="evaluate")
    assert job.worker_pid is not None and job.params == {"run": "probe", "point": None}
    wait_for_job(at, job.id)
    assert get_job(open_store(), job.id).status == "done", get_job(open_store(), job.id).message
    renewed = latest_evaluation(open_store(), project.id, "probe")
    assert "mean macro-F1" in texts(at.success) and f"{renewed.mean_macro_f1:.3f}" in texts(at.success)
    assert renewed.test_size == 29 and widget(at.selectbox, "Evaluation").value == renewed.id
    assert not other_warnings(at)


@pytest.mark.slow
def test_after_evaluating_a_second_run_the_page_shows_it(sqlite_store: Store, tiny_encoder: Path) -> None:
    project = trained_project(sqlite_store, tiny_encoder, evaluate=False)
    first = latest_evaluation(open_store(), project.id, "probe")
    at = open_page()
    assert widget(at.selectbox, "Evaluation").value == first.id
    # a second run, trained elsewhere (the Train page, the CLI) with its evaluation removed: evaluated from here
    request = TrainingRequest(name="second", trainer="linear", params={"c": 0.5})
    _, training = start_training(sqlite_store, project.id, request)
    assert run_job(sqlite_store, training.id) == "done"
    removed = latest_evaluation(sqlite_store, project.id, "second").id
    with sqlite_store.session() as session:  # the evaluation's row goes (its predictions with it)
        session.execute(delete(EvaluationRow).where(EvaluationRow.id == removed))
    with pytest.raises(NotFound):
        latest_evaluation(sqlite_store, project.id, "second")
    at.run()
    assert widget(at.selectbox, "Evaluation").value == first.id  # nothing new yet: the page stays where it was
    widget(at.selectbox, "Trained run").set_value("second").run()
    button(at, "Evaluate on the test split").click().run()
    job = next(j for j in list_jobs(open_store(), project.id, kind="evaluate"))
    wait_for_job(at, job.id)
    second = latest_evaluation(open_store(), project.id, "second")
    assert widget(at.selectbox, "Evaluation").value == second.id
    assert at.query_params["evaluation"] == str(second.id)
    # picking the first one again stays picked
    widget(at.selectbox, "Evaluation").set_value(first.id).run()
    at.run()
    assert widget(at.selectbox, "Evaluation").value == first.id


def test_the_language_picker_opens_on_the_weakest_language(sqlite_store: Store, tiny_encoder: Path) -> None:
    project = make_project(sqlite_store, tiny_encoder)
    truths = [p for p in _test_predictions(sqlite_store, project.id)]
    # right everywhere but in Swahili, where every "disease" is taken for "weather": Swahili is the weakest
    guesses = [
        Prediction(i, code, label, "weather" if (code, label) == ("sw", "disease") else label)
        for i, code, label in truths
    ]
    evaluation = save_evaluation(sqlite_store, project, name="llm", source="baseline", predictions=guesses)
    assert evaluation.metrics["sw"]["macro_f1"] < evaluation.metrics["en"]["macro_f1"]
    at = open_page()
    assert widget(at.selectbox, "Language").value == "sw"
    assert "Confusion matrix · Swahili (sw)" in texts(at.subheader)
    widget(at.selectbox, "Language").set_value("en").run()
    assert widget(at.selectbox, "Language").value == "en"  # a choice is kept


def _test_predictions(store: Store, project_id: int) -> list[tuple[int, str, str]]:
    project = get_project(store, project_id)
    test = load_test_set(store, project)
    return list(zip(test.sample_ids, test.languages, test.labels, strict=True))


def test_the_matrix_is_a_grid_of_square_markers_with_counts_and_rates(sqlite_store: Store, tiny_encoder: Path) -> None:
    project = trained_project(sqlite_store, tiny_encoder)
    evaluation = latest_evaluation(sqlite_store, project.id, "probe")
    group = evaluation.metrics["sw"]
    labels, confusion = group["labels"], group["confusion"]
    figure = confusion_figure(LanguageScores.of("sw", group), picked=("weather", "price"), title="Swahili")
    [trace] = figure.data
    assert trace.type == "scatter" and trace.marker.symbol == "square" and trace.mode == "markers"
    assert len(trace.x) == len(labels) ** 2
    written = [a.text for a in figure.layout.annotations]
    assert written == [str(n) for row in confusion for n in row]
    assert [(a.x, a.y) for a in figure.layout.annotations] == list(zip(trace.x, trace.y, strict=True))
    support = {label: sum(row) for label, row in zip(labels, confusion, strict=True)}
    for (true, predicted), hover, n in zip(trace.customdata, trace.hovertext, written, strict=True):
        rate = int(n) / support[true]
        assert hover == f"true {true} → predicted {predicted}: {n} of {support[true]} ({rate:.0%})"
    framed = [tuple(c) for c, width in zip(trace.customdata, trace.marker.line.width, strict=True) if width > 1]
    assert framed == [("weather", "price")]
    assert list(figure.layout.xaxis.ticktext) == labels and list(figure.layout.yaxis.ticktext) == labels
    rates = [a.text for a in confusion_figure(LanguageScores.of("sw", group), show="rates").layout.annotations]
    assert [r.rstrip("%") for r in rates] == [
        f"{100 * n / support[t]:.0f}" for t, row in zip(labels, confusion, strict=True) for n in row
    ]

    # an LLM's answers without a usable label get a column of their own
    predictions = [
        Prediction(p.sample_id, p.language, p.true_label, None if i % 5 == 0 else p.true_label, None,
                   "unparseable" if i % 5 == 0 else "label", "?")
        for i, p in enumerate(load_predictions(sqlite_store, evaluation.id))
    ]  # fmt: skip
    baseline = save_evaluation(sqlite_store, project, name="llm", source="baseline", predictions=predictions)
    pooled = baseline.metrics[OVERALL]
    figure = confusion_figure(LanguageScores.of(OVERALL, pooled))
    trace, written = figure.data[0], [a.text for a in figure.layout.annotations]
    assert list(figure.layout.xaxis.ticktext) == [*pooled["labels"], NO_ANSWER]
    unparsed = [int(n) for (_, predicted), n in zip(trace.customdata, written, strict=True) if predicted == NO_ANSWER]
    assert unparsed == [pooled["unparsed_by_label"].get(label, 0) for label in pooled["labels"]]
    assert sum(unparsed) == sum(1 for i in range(len(predictions)) if i % 5 == 0)

    # the page draws the same figure for the language picked
    at = open_page()
    widget(at.selectbox, "Evaluation").set_value(evaluation.id).run()
    widget(at.selectbox, "Language").set_value("sw").run()
    [spec] = [s for s in chart_specs(at) if s["data"][0]["type"] == "scatter"]
    assert [a["text"] for a in spec["layout"]["annotations"]] == [str(n) for row in confusion for n in row]
    assert spec["data"][0]["marker"]["symbol"] == "square"


def expected_cell(store: Store, evaluation: Evaluation, true: str, predicted: str, language: str) -> list[int]:
    return [
        p.sample_id
        for p in load_predictions(store, evaluation.id)
        if p.true_label == true and p.predicted == predicted and language in (OVERALL, p.language)
    ]


def test_the_error_browser_lists_the_samples_of_the_picked_cell(sqlite_store: Store, tiny_encoder: Path) -> None:
    project = trained_project(sqlite_store, tiny_encoder)
    evaluation = latest_evaluation(sqlite_store, project.id, "probe")
    at = open_page()
    assert widget(at.selectbox, "Language").value == weakest_language(evaluation)
    # the tiny random encoder makes a weak probe: which language has the biggest confusion varies with the build
    # of the encoder, so the test follows the evaluation instead of assuming one language has it
    [biggest] = weak_cells(evaluation, top=1)
    language = biggest.language
    widget(at.selectbox, "Language").set_value(language).run()
    [worst] = weak_cells(evaluation, top=1, language=language)  # picked at first: the language's biggest confusion
    assert (widget(at.selectbox, "True label").value, widget(at.selectbox, "Predicted as").value) == (
        worst.true,
        worst.predicted,
    )
    shown = shown_samples(at)
    wanted = expected_cell(sqlite_store, evaluation, worst.true, worst.predicted, language)
    assert sorted(shown.index.astype(int)) == sorted(wanted) and len(wanted) == worst.count
    assert list(shown["text"]) == [get_sample(sqlite_store, int(i)).text for i in shown.index]
    assert set(shown["true"]) == {worst.true} and set(shown["predicted"]) == {worst.predicted}
    confidences = [float(c) for c in shown["confidence"]]
    assert confidences == sorted(confidences, reverse=True)  # most confident first
    assert f"{worst.count} test sample" in texts(at.markdown)

    # Swahili: a confused cell picked by hand, then other cells
    widget(at.selectbox, "Language").set_value("sw").run()
    [confused] = weak_cells(evaluation, top=1, language="sw")  # 3 market texts labelled weather: never all "right"
    widget(at.selectbox, "True label").set_value(confused.true).run()
    widget(at.selectbox, "Predicted as").set_value(confused.predicted).run()
    wanted = expected_cell(sqlite_store, evaluation, confused.true, confused.predicted, "sw")
    assert sorted(shown_samples(at).index.astype(int)) == sorted(wanted) and len(wanted) == confused.count
    assert f"taken for **{confused.predicted}**" in texts(at.markdown)
    widget(at.selectbox, "Predicted as").set_value("disease").run()
    wanted = expected_cell(sqlite_store, evaluation, confused.true, "disease", "sw")
    if wanted:
        assert sorted(shown_samples(at).index.astype(int)) == sorted(wanted)
    else:
        assert not at.table and "No test sample falls in this cell" in texts(at.caption)
    widget(at.selectbox, "True label").set_value("disease").run()
    widget(at.selectbox, "Predicted as").set_value("disease").run()
    wanted = expected_cell(sqlite_store, evaluation, "disease", "disease", "sw")
    assert sorted(shown_samples(at).index.astype(int)) == sorted(wanted) and "rightly predicted" in texts(at.markdown)

    # all languages pooled: the language of each sample is shown
    widget(at.selectbox, "Language").set_value(OVERALL).run()
    widget(at.selectbox, "True label").set_value(confused.true).run()
    widget(at.selectbox, "Predicted as").set_value(confused.predicted).run()
    shown = shown_samples(at)
    assert sorted(shown.index.astype(int)) == sorted(
        expected_cell(sqlite_store, evaluation, confused.true, confused.predicted, OVERALL)
    )
    assert set(shown["language"]) <= {"en", "sw"}


@pytest.mark.slow
def test_generate_more_for_a_weak_cell_starts_a_targeted_run(sqlite_store: Store, tiny_encoder: Path) -> None:
    project = trained_project(sqlite_store, tiny_encoder)
    evaluation = latest_evaluation(sqlite_store, project.id, "probe")
    at = open_page()
    widget(at.selectbox, "Language").set_value("sw").run()
    cells = weak_cells(evaluation, language="sw")
    for cell in cells:
        plural = "s" if cell.count != 1 else ""
        line = f"**{cell.true}** taken for **{cell.predicted}** — {cell.count} test sample{plural}"
        assert line in texts(at.markdown)
    # the market texts labelled weather: the demo recording has Swahili weather answers to replay
    at_index = next(i for i, c in enumerate(cells) if (c.true, c.predicted) == ("weather", "price"))
    at.button(key=f"weak_{evaluation.id}_{at_index}").click().run()
    assert "samples of 'weather' that are clearly not 'price'" in texts(at.markdown)
    assert "Recorded" in texts(at.caption)  # the backend picker, on its first choice: the demo's recorded answers
    widget(at.number_input, "How many new samples").set_value(3).run()
    button(at, "Start generating").click().run()
    assert not at.exception, at.exception

    [run] = generation_runs.list_runs(open_store(), project.id)
    assert run.strategy == "targeted" and run.backend == "replay"
    assert run.plan == {"sw": {"weather": 3}} and run.params["confused_label"] == "price"
    [job] = list_jobs(open_store(), project.id, kind="generate")
    assert job.params == {"run_id": run.id}
    assert "arrive as pending samples on the Curate page" in texts(at.info)
    assert not any(b.label == "Start generating" for b in at.button)  # the form closed
    wait_for_job(at, job.id)
    assert generation_runs.get_run(open_store(), run.id).status == "done"


def test_comparison_refuses_other_test_sets_and_offers_the_report(sqlite_store: Store, tiny_encoder: Path) -> None:
    project = trained_project(sqlite_store, tiny_encoder)
    run = latest_evaluation(sqlite_store, project.id, "probe")
    stored = load_predictions(sqlite_store, run.id)
    always = [Prediction(p.sample_id, p.language, p.true_label, "weather") for p in stored]
    save_evaluation(sqlite_store, project, name="always weather", source="baseline", predictions=always)
    fewer = [p for p in stored if p.language == "en"]
    save_evaluation(sqlite_store, project, name="english only", source="baseline", predictions=fewer)

    at = open_page()
    widget(at.selectbox, "Evaluation").set_value(run.id).run()
    compared = widget(at.multiselect, "Compare")
    assert compared.value == ["probe", "always weather"]  # the newest ones on the same test set
    assert not other_warnings(at)
    specs = chart_specs(at)
    [bars] = [s for s in specs if s["data"][0]["type"] == "bar"]
    assert [trace["name"] for trace in bars["data"]] == ["probe", "always weather"]
    comparison = compare(
        sqlite_store, [run, latest_evaluation(sqlite_store, project.id, "always weather")], reference="probe"
    )
    figure = comparison_figure(comparison)
    for trace, name in zip(figure.data, comparison.names, strict=True):
        mine = [r for r in comparison.chart_rows() if r["evaluation"] == name]
        assert list(trace.y) == pytest.approx([r["macro_f1"] for r in mine])
        assert list(trace.error_y.array) == pytest.approx([r["high"] - r["macro_f1"] for r in mine])
        assert list(trace.error_y.arrayminus) == pytest.approx([r["macro_f1"] - r["low"] for r in mine])
        assert list(trace.x) == ["English (en)", "Swahili (sw)", "mean of languages"]
    [differences] = [d.value for d in at.dataframe if "verdict" in d.value.columns]
    assert list(differences["verdict"]) == [d["verdict"] for d in comparison.difference_rows()]
    table = next(d.value for d in at.dataframe if "always weather" in d.value.columns)
    assert list(table["probe"]) == [row["probe"] for row in comparison.table()]

    [download] = at.get("download_button")
    assert download.proto.label == "Download the report (HTML)" and download.proto.url
    assert "probe, always weather" in texts(at.caption)

    compared.select("english only").run()
    assert "did not see the same test samples" in texts(at.warning)
    assert not any(s["data"][0]["type"] == "bar" for s in chart_specs(at))
    [download] = at.get("download_button")  # the report of the evaluation alone remains
    assert "with probe:" in texts(at.caption)


def test_language_rows_name_the_weakest_label(sqlite_store: Store) -> None:
    project = make_project(sqlite_store, "x")
    truths = [("en", "weather"), ("en", "price"), ("en", "price"), ("sw", "weather")]
    predictions = [Prediction(1000 + i, code, label, "weather") for i, (code, label) in enumerate(truths)]
    evaluation = save_evaluation(sqlite_store, project, name="b", source="baseline", predictions=predictions)
    rows = language_rows(evaluation)
    assert [r["language"] for r in rows] == ["English (en)", "Swahili (sw)", "all languages (pooled)"]
    assert [r["test samples"] for r in rows] == [3, 1, 4]
    assert rows[0]["weakest label"] == "price (F1 0.00)" and rows[0]["accuracy"] == pytest.approx(1 / 3)
    assert rows[0]["macro-F1"] == pytest.approx(evaluation.metrics["en"]["macro_f1"])
    assert rows[1]["weakest label"] == "" and rows[1]["macro-F1"] == 1.0  # every label right: none is weak
    assert rows[2]["accuracy"] == pytest.approx(0.5) and all(r["no usable answer"] == 0 for r in rows)


def scripted(body: dict[str, Any]) -> str:
    """Answers the test text's label from its first word (the training support's cues), except Swahili disease."""
    text = body["messages"][-1]["content"].rsplit("Text: ", 1)[1].split("\n")[0]
    truth = next((label for label, cues in CUES.items() if text.split()[0] in cues), LABELS[0])
    return "Sijui kabisa." if truth == "disease" and text.endswith("sw") else f"Label: {truth}"


@pytest.mark.slow
def test_an_llm_baseline_from_the_page(sqlite_store: Store, tiny_encoder: Path) -> None:
    project = trained_project(sqlite_store, tiny_encoder)
    at = open_page()
    button(at, "New LLM baseline").click().run()
    assert "no classification answers" in texts(at.warning)  # the demo recording only writes samples
    assert button(at, "Start the baseline").disabled
    with ScriptedOpenAIServer(responder=scripted, require_key="sk-typed-in-the-page") as server:
        widget(at.selectbox, "Who writes the samples").set_value("openai").run()
        widget(at.text_input, "Server address (base URL)").input(server.base_url).run()
        widget(at.text_input, "Model").input("test-model").run()
        widget(at.text_input, "API key").input("sk-typed-in-the-page").run()
        assert "**28 requests** (one per test text)" in texts(at.info)
        button(at, "Start the baseline").click().run()
        assert not at.exception, at.exception
        [job] = list_jobs(open_store(), project.id, kind="baseline")
        wait_for_job(at, job.id)
    assert get_job(open_store(), job.id).status == "done", get_job(open_store(), job.id).message
    baseline = latest_evaluation(open_store(), project.id, "LLM zero-shot")
    assert baseline.source == "baseline" and baseline.metrics["sw"]["unparsed"] == 4
    baselines = next(d.value for d in at.dataframe if "mode" in d.value.columns)
    assert baselines["name"].tolist() == ["LLM zero-shot"]
    assert baselines["cost $"].tolist() == ["unknown"]  # the studio has no price for "test-model": not "None"
    widget(at.selectbox, "Answers").set_value("unparseable").run()  # the raw answers that named no label
    answers = next(d.value for d in at.dataframe if "answer" in d.value.columns)
    assert answers.columns.tolist() == [
        "sample_id", "language", "true", "status", "answer", "predicted", "outcome", "error"
    ]  # fmt: skip
    assert answers["answer"].tolist() == ["Sijui kabisa."] * 4 and set(answers["language"]) == {"sw"}
    # the key was used (the server saw it) but is in no file of the studio
    assert all(r.headers.get("authorization") == "Bearer sk-typed-in-the-page" for r in server.chat_requests)
    for path in Path(open_store().url.removeprefix("sqlite:///")).parent.rglob("*"):
        if path.is_file():
            assert b"sk-typed-in-the-page" not in path.read_bytes(), path


def test_the_forms_know_what_the_demo_recording_can_replay() -> None:
    # the demo's recorded answers write samples (language|label) but hold no classification answers
    assert replay_missing(["sw|weather", "en|market_prices", "sw|price", "en|baseline"]) == ["sw|price", "en|baseline"]


def test_a_tiny_test_set_shows_its_intervals_and_says_its_scores_mean_little(sqlite_store: Store) -> None:
    project = make_project(sqlite_store, "x", test_per_cell=2)  # 6 test samples per language
    perfect = [Prediction(i, code, label, label) for i, code, label in _test_predictions(sqlite_store, project.id)]
    evaluation = save_evaluation(sqlite_store, project, name="llm", source="baseline", predictions=perfect)
    at = open_page()
    [scores] = [d.value for d in at.dataframe if "macro-F1" in d.value.columns]
    assert list(scores["macro-F1"]) == [1.0, 1.0, 1.0]
    # the interval of each language and of the pooled split, beside macro-F1...
    assert list(scores.columns[:4]) == ["language", "test samples", "macro-F1", "95% interval"]
    intervals = score_intervals(evaluation, load_predictions(sqlite_store, evaluation.id))
    assert list(scores["95% interval"]) == [intervals[code].text for code in ("en", "sw", OVERALL)]
    assert all(text.endswith("– 1.000") for text in scores["95% interval"])  # nothing better than perfect
    assert list(scores["few samples"]) == ["yes: means little", "yes: means little", ""]
    # ...but resampling six right answers only gives right answers: the page says in words what such a score is
    warnings = few_samples_warnings(at)
    assert len(warnings) == 1
    shown = texts([w for w in at.warning if "its scores mean little" in w.value])
    for name in ("English", "Swahili"):
        assert (
            f"{name} has only 6 test samples: its scores mean little. One sample more or less moves its accuracy by "
            "0.17, and even no mistake at all on 6 samples only shows that the model is wrong on fewer than about "
            "50% of such texts. Add human test samples: 30 or more per language."
        ) in shown
    assert evaluation.metrics["en"]["n"] == 6

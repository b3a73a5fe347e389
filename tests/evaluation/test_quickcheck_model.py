"""A quick check of a Hugging Face text-classification model on the test split (`evaluate --model`): a tiny
BertForSequenceClassification built here, given as a folder and as a downloaded hub id; its labels read as the
project's (other capitals, a per-language name) and one that matches none refused until --map names it; the figures
equal scikit-learn's on the model's own predictions (computed here with transformers directly); the job reports
progress and stops when cancelled. Real SQLite, real jobs and worker processes."""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from sklearn import metrics as sk

from core.cli import main
from core.errors import InvalidInput
from core.evaluation.evaluations import latest_evaluation, list_evaluations, load_predictions
from core.evaluation.metrics import OVERALL
from core.evaluation.model_check import check_model, map_model_labels, read_model_labels, submit_model_check
from core.evaluation.model_scores import load_test_set
from core.evaluation.quickcheck import PredictionColumns, check_predictions
from core.io.importer import ColumnMapping, execute_import, plan_import
from core.jobs.context import JobCancelled
from core.jobs.queue import cancel_job, get_job, list_jobs, start_worker
from core.store import Store
from core.store.projects import Project, create_project, get_project, parse_spec
from tests.tiny_models import build_tiny_text_classifier
from tests.training_support import sample_rows, single_torch_thread

ID2LABEL = {0: "Weather", 1: "bei", 2: "LABEL_2"}
READ_AS = {"Weather": "weather", "bei": "price", "LABEL_2": "disease"}


@pytest.fixture(autouse=True)
def one_thread() -> Iterator[None]:
    with single_torch_thread():
        yield


@pytest.fixture(scope="module")
def classifier(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Labels 'Weather' (the project's weather in other capitals), 'bei' (price's Swahili name), 'LABEL_2' (none)."""
    return build_tiny_text_classifier(tmp_path_factory.mktemp("tiny-classifier"), ID2LABEL)


def crops(store: Store, rows: list[dict[str, str]] | None = None) -> Project:
    spec = parse_spec(
        name="crops",
        labels=[{"name": "weather"}, {"name": "price", "names": {"sw": ["bei", "gharama"]}}, {"name": "disease"}],
        languages=[{"code": "en"}, {"code": "sw"}],
    )
    project = create_project(store, spec)
    mapping = ColumnMapping(text_column="text", label_column="label", language_column="language")
    plan = plan_import(store, project, pd.DataFrame(rows or sample_rows()), mapping, source="rows")
    assert plan.ok, [p.describe() for p in plan.errors]
    execute_import(store, project, plan)
    return get_project(store, project.id)


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def model_predictions(folder: Path, texts: list[str]) -> tuple[list[str], list[float]]:
    """The model's own labels and probabilities, one text at a time, with transformers alone."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForSequenceClassification.from_pretrained(folder).eval()
    labels, confidences = [], []
    with torch.no_grad():
        for text in texts:
            probabilities = torch.softmax(model(**tokenizer(text, return_tensors="pt")).logits[0].double(), dim=-1)
            labels.append(model.config.id2label[int(probabilities.argmax())])
            confidences.append(float(probabilities.max()))
    return labels, confidences


def test_a_model_is_checked_once_every_label_is_mapped(
    sqlite_store: Store, classifier: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = sqlite_store
    project = crops(store)
    code, out, err = cli(capsys, "evaluate", "--project", "crops", "--model", str(classifier))
    assert code == 1 and out == ""
    assert err.strip() == (
        "error: The model's label 'LABEL_2' matches none of the project's labels ('weather', 'price' and 'disease'). "
        "Say which project label it is, on the Evaluate page or with --map model_label=project_label "
        "(e.g. --map LABEL_2=weather)."
    )
    assert list_jobs(store, project.id, kind="model_check") == [] and list_evaluations(store, project.id) == []

    code, out, err = cli(
        capsys, "evaluate", "--project", "crops", "--model", str(classifier), "--map", "label_2=Disease", "--json"
    )
    assert code == 0, err
    assert "note: the model's label 'Weather' is the project's 'weather' (the same name written differently)" in err
    assert "note: the model's label 'bei' is the project's 'price' (its name in Swahili)" in err
    assert "note: the model's label 'LABEL_2' is the project's 'disease' (chosen)" in err
    metrics = json.loads(out)
    evaluation = latest_evaluation(store, project.id, classifier.name)  # named after the model's folder
    assert evaluation.source == "model" and evaluation.title == f"{classifier.name} (Hugging Face model)"
    assert metrics == json.loads(json.dumps(evaluation.metrics))
    [job] = list_jobs(store, project.id, kind="model_check")
    assert job.status == "done" and job.progress == 1.0 and job.result["evaluation_id"] == evaluation.id

    test = load_test_set(store, project)
    labels, confidences = model_predictions(classifier, test.texts)
    guess = [READ_AS[label] for label in labels]
    stored = load_predictions(store, evaluation.id)
    assert [p.sample_id for p in stored] == test.sample_ids
    assert [p.predicted for p in stored] == guess
    assert [p.confidence for p in stored] == pytest.approx(confidences)
    for language in ("en", "sw", OVERALL):
        at = [i for i, code in enumerate(test.languages) if language in (OVERALL, code)]
        truth, mine = [test.labels[i] for i in at], [guess[i] for i in at]
        assert metrics[language]["macro_f1"] == pytest.approx(sk.f1_score(truth, mine, average="macro"))
        assert metrics[language]["accuracy"] == pytest.approx(sk.accuracy_score(truth, mine))

    # the existing form still works beside it; --run and --model exclude each other
    code, out, err = cli(capsys, "evaluate", "--project", "crops", "--run", "nobody")
    assert code == 1 and "no training run or baseline called 'nobody'" in err
    with pytest.raises(SystemExit):
        main(["evaluate", "--project", "crops", "--run", "a", "--model", str(classifier)])
    assert "not allowed with argument" in capsys.readouterr().err


def test_mappings_that_cannot_be_used_are_refused_in_plain_words(
    sqlite_store: Store, classifier: Path, tiny_encoder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = crops(sqlite_store)
    base = ("evaluate", "--project", "crops", "--model", str(classifier))
    code, _, err = cli(capsys, *base, "--map", "LABEL_9=disease")
    assert (
        code == 1
        and err.strip() == "error: The model has no label 'LABEL_9': its labels are 'Weather', 'bei' and 'LABEL_2'."
    )
    code, _, err = cli(capsys, *base, "--map", "LABEL_2=pest")
    assert code == 1 and "'pest' is not one of the project's labels ('weather', 'price' and 'disease')" in err
    code, _, err = cli(capsys, *base, "--map", "LABEL_2")
    assert code == 1 and "'LABEL_2' is not a label mapping: write it as model_label=project_label" in err
    code, _, err = cli(capsys, *base, "--map", "LABEL_2=disease", "--point", "3")
    assert code == 1 and "--point chooses a learning curve's point: it goes with --run, not --model." in err
    code, _, err = cli(capsys, "evaluate", "--project", "crops", "--model", str(tiny_encoder))
    assert code == 1 and "is not a text-classification model (it is a BertModel)" in err
    code, _, err = cli(capsys, "evaluate", "--project", "crops", "--model", "bundled:multilingual-e5-small")
    assert code == 1 and "is the studio's sentence encoder, not a text classifier" in err
    code, _, err = cli(capsys, "evaluate", "--project", "crops", "--model", str(tmp_path / "nowhere"))
    assert code == 1 and "There is no model folder at" in err

    # a name another kind of evaluation has is refused (the comparison and the report find evaluations by name)
    frame = pd.DataFrame([{"text": "rain today", "label": "weather", "pred": "weather"}])
    check_predictions(sqlite_store, frame, "mine.csv", PredictionColumns("text", "label", "pred", language="en"),
                      project="crops", name="mine")  # fmt: skip
    code, _, err = cli(capsys, *base, "--map", "LABEL_2=disease", "--name", "mine")
    assert code == 1 and "already has another kind of evaluation called 'mine': give this check another name" in err
    assert [e.source for e in list_evaluations(sqlite_store, project.id)] == ["file"]

    # the mapping a page shows: how each label reads, the unmapped one left for a person
    mapping = map_model_labels(read_model_labels(str(classifier)).labels, project)
    assert mapping.rows() == [
        {"model label": "Weather", "project label": "weather", "how": "the same name written differently"},
        {"model label": "bei", "project label": "price", "how": "its name in Swahili"},
        {
            "model label": "LABEL_2",
            "project label": "",
            "how": "it is none of the project's labels, nor one of their names or aliases",
        },
    ]


def test_a_downloaded_hub_id_goes_through_the_resolver(
    sqlite_store: Store, classifier: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from huggingface_hub import constants

    cache = tmp_path / "hub"  # the layout `huggingface-cli download` leaves in the cache
    snapshot = cache / "models--studio-tests--tiny-classifier" / "snapshots" / "0123abcd"
    shutil.copytree(classifier, snapshot)
    (cache / "models--studio-tests--tiny-classifier" / "refs").mkdir()
    (cache / "models--studio-tests--tiny-classifier" / "refs" / "main").write_text("0123abcd")
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    project = crops(sqlite_store)
    assert main(["evaluate", "--project", "crops", "--model", "studio-tests/tiny-classifier", "--map",
                 "LABEL_2=disease"]) == 0  # fmt: skip
    evaluation = latest_evaluation(sqlite_store, project.id, "studio-tests/tiny-classifier")
    assert evaluation.source == "model" and evaluation.test_size == 24


def test_labelling_stops_between_batches_and_stores_nothing(sqlite_store: Store, classifier: Path) -> None:
    project = crops(sqlite_store)
    seen: list[str] = []

    def stop_after_the_first_batch(fraction: float, message: str) -> None:
        seen.append(message)
        if fraction > 0:
            raise JobCancelled()

    with pytest.raises(JobCancelled):
        check_model(sqlite_store, project.id, str(classifier), READ_AS, "stopped", progress=stop_after_the_first_batch)
    assert seen[-1] == "Labelled 24 of 24 test texts" or seen[-1].startswith("Labelled ")
    assert list_evaluations(sqlite_store, project.id) == []
    with pytest.raises(InvalidInput, match="'LABEL_2' matches none"):
        check_model(sqlite_store, project.id, str(classifier), {}, "unmapped")


@pytest.mark.slow
def test_the_job_reports_progress_and_is_cancelled_in_its_worker(sqlite_store: Store, classifier: Path) -> None:
    words = ["rain", "maize", "price", "leaf", "spots", "tomorrow", "market", "cassava"]
    rows = [
        {
            "text": f"{words[i % 8]} {words[(i // 8) % 8]} {words[(i // 64) % 8]} {i}",
            "label": ("weather", "price", "disease")[i % 3],
            "language": ("en", "sw")[i % 2],
            "split": "test",
            "origin": "human",
        }
        for i in range(20_000)
    ]
    project = crops(sqlite_store, rows)
    job = submit_model_check(sqlite_store, project.id, str(classifier), {"LABEL_2": "disease"}, "to stop")
    start_worker(sqlite_store, job.id)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not get_job(sqlite_store, job.id).message.startswith("Labelled"):
        assert get_job(sqlite_store, job.id).active, get_job(sqlite_store, job.id).message
        time.sleep(0.05)
    labelling = get_job(sqlite_store, job.id)
    assert labelling.message.startswith("Labelled") and 0 < labelling.progress < 1
    cancel_job(sqlite_store, job.id)
    while time.monotonic() < deadline and get_job(sqlite_store, job.id).active:
        time.sleep(0.1)
    done = get_job(sqlite_store, job.id)
    assert done.status == "cancelled" and done.progress < 1
    assert list_evaluations(sqlite_store, project.id) == []


def test_a_file_check_and_a_model_check_of_the_same_rows_compare_and_share_a_report(
    sqlite_store: Store, classifier: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.evaluation.test_quickcheck import QUICKCHECK, prediction_rows, write_csv

    path = write_csv(tmp_path / "farm-preds.csv", prediction_rows(4))
    assert main(["quickcheck", str(path), *QUICKCHECK, "--language-column", "lang"]) == 0
    # the project made from the file has no 'bei': the model's 'bei' and 'LABEL_2' are mapped by hand
    args = ["evaluate", "--project", "farm-preds", "--model", str(classifier), "--name", "vendor model"]
    assert main([*args, "--map", "bei=price", "--map", "LABEL_2=disease"]) == 0
    capsys.readouterr()
    project = get_project(sqlite_store, "farm-preds")
    file_check = latest_evaluation(sqlite_store, project.id, "farm-preds.csv")
    model_check = latest_evaluation(sqlite_store, project.id, "vendor model")
    assert file_check.test_hash == model_check.test_hash  # the same test samples: comparable

    code, out, err = cli(capsys, "compare", "--project", "farm-preds", "--runs", "farm-preds.csv,vendor model",
                         "--json", "--resamples", "200")  # fmt: skip
    assert code == 0, err
    comparison = json.loads(out)
    assert comparison["evaluations"] == ["farm-preds.csv", "vendor model"] and comparison["differences"]
    report = tmp_path / "report.html"
    code, out, err = cli(capsys, "report", "--project", "farm-preds", "--runs", "farm-preds.csv,vendor model",
                         str(report))  # fmt: skip
    assert code == 0, err
    html = report.read_text(encoding="utf-8")
    assert "farm-preds.csv (predictions file)" in html and "vendor model (Hugging Face model)" in html
    code, out, err = cli(capsys, "evaluations", "--project", "farm-preds")
    assert code == 0 and "file" in out and "model" in out

"""A quick check from a file of predictions, through the CLI (`quickcheck`) and the core: the rows become the
project's human test samples (a new project named after the file), the predictions an evaluation of source `file`
whose per-language figures equal scikit-learn's; checking the same file again replaces the evaluation and adds no
sample; predicted labels the project lacks are reported, never mapped; a missing column is refused in plain words.
Real SQLite and PostgreSQL stores, real files."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from sklearn import metrics as sk

from core.cli import main
from core.evaluation.evaluations import latest_evaluation, list_evaluations, load_predictions
from core.evaluation.metrics import OVERALL, hash_test_ids
from core.evaluation.model_scores import load_test_set
from core.evaluation.quickcheck import PredictionColumns, check_predictions_file, guess_columns
from core.guide import loop_status
from core.store import Store
from core.store.projects import create_project, get_project, list_projects, parse_spec
from core.store.samples import SampleFilter, count_samples

LABELS = ("disease", "price", "weather")
# fields of `evaluate --json`: every group, and the pooled group's own
GROUP_FIELDS = {
    "macro_f1",
    "accuracy",
    "n",
    "labels",
    "confusion",
    "confusion_normalized",
    "per_label",
    "unparsed",
    "unparsed_by_label",
    "outcomes",
}
OVERALL_FIELDS = GROUP_FIELDS | {"mean_macro_f1", "languages", "test_hash"}


def prediction_rows(per_cell: int = 12) -> list[dict[str, str]]:
    """Rows of a classifier's predictions: English mostly right, Swahili often taking price for weather."""
    rows = []
    for language in ("en", "sw"):
        for label in LABELS:
            for i in range(per_cell):
                predicted = label
                if language == "sw" and label == "price" and i % 2 == 0:
                    predicted = "weather"
                elif language == "en" and label == "disease" and i % 5 == 0:
                    predicted = "price"
                elif i % 7 == 3:
                    predicted = LABELS[(LABELS.index(label) + 1) % 3]
                rows.append(
                    {
                        "sentence": f"{label} text {i} in {language}",
                        "gold": label,
                        "predicted": predicted,
                        "lang": language,
                        "score": f"{0.5 + (i % 5) / 10:.2f}",
                    }
                )
    return rows


def write_csv(path: Path, rows: list[dict[str, str]]) -> Path:
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


QUICKCHECK = ("--text-column", "sentence", "--label-column", "gold", "--prediction-column", "predicted")


def test_a_predictions_file_becomes_test_samples_and_an_evaluation(
    store: Store, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = prediction_rows()
    path = write_csv(tmp_path / "farm-preds.csv", rows)
    args = ("quickcheck", str(path), *QUICKCHECK, "--language-column", "lang", "--confidence-column", "score")
    code, out, err = cli(capsys, *args, "--json")
    assert code == 0, err
    metrics = json.loads(out)  # stdout holds only the JSON; what the check did is on stderr
    assert "'farm-preds.csv': 72 of the file's 72 rows scored" in err and "the new project 'farm-preds'" in err

    project = get_project(store, "farm-preds")  # a new project named after the file, made of its labels and languages
    assert project.label_names == list(LABELS) and project.language_codes == ["en", "sw"]
    test = load_test_set(store, project)
    assert len(test.sample_ids) == 72
    assert count_samples(store, project.id, SampleFilter(splits=("test",), origins=("human",))) == 72
    evaluation = latest_evaluation(store, project.id, "farm-preds.csv")
    assert evaluation.source == "file" and evaluation.title == "farm-preds.csv (predictions file)"
    assert metrics == json.loads(json.dumps(evaluation.metrics))  # exactly what `evaluate --json` prints for it
    assert list(metrics) == ["en", "sw", OVERALL]
    assert all(set(metrics[code]) == GROUP_FIELDS for code in ("en", "sw"))
    assert set(metrics[OVERALL]) == OVERALL_FIELDS
    assert metrics[OVERALL]["test_hash"] == hash_test_ids(test.sample_ids)  # comparable with runs on this split

    for language in ("en", "sw", OVERALL):
        mine = [r for r in rows if language in (OVERALL, r["lang"])]
        truth, guess = [r["gold"] for r in mine], [r["predicted"] for r in mine]
        assert metrics[language]["macro_f1"] == pytest.approx(sk.f1_score(truth, guess, average="macro"))
        assert metrics[language]["accuracy"] == pytest.approx(sk.accuracy_score(truth, guess))
        labels = metrics[language]["labels"]
        assert metrics[language]["confusion"] == sk.confusion_matrix(truth, guess, labels=labels).tolist()
    stored = {p.sample_id: p for p in load_predictions(store, evaluation.id)}
    by_text = dict(zip(test.texts, test.sample_ids, strict=True))
    for row in rows:  # each row's prediction and confidence sit on its own test sample
        prediction = stored[by_text[row["sentence"]]]
        assert (prediction.predicted, prediction.true_label) == (row["predicted"], row["gold"])
        assert prediction.confidence == pytest.approx(float(row["score"]))

    # the same file again: the same test samples (none added), the evaluation replaced
    code, out, err = cli(capsys, *args)
    assert code == 0, err
    assert "(72 of them were test samples already); 0 new test samples" in out
    assert "mean macro-F1 over languages" in out and "confusion (rows: true, columns: predicted)" in out
    assert count_samples(store, project.id, SampleFilter()) == 72
    [again] = list_evaluations(store, project.id)
    assert again.created_at > evaluation.created_at and again.metrics == evaluation.metrics
    assert len(list_projects(store)) == 1
    # the loop's guide counts the studio's own trained models only: a quick check is not the loop's evaluation
    steps = {step.key: step for step in loop_status(store, project).steps}
    assert steps["evaluate"].state == "todo"


def test_predicted_labels_the_project_lacks_are_reported_never_mapped(
    sqlite_store: Store, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = sqlite_store
    spec = parse_spec(
        name="crops",
        labels=[
            {"name": "weather", "names": {"sw": ["hali ya hewa", "mvua"]}},
            {"name": "price", "names": {"sw": ["bei"]}},
            {"name": "disease"},
        ],
        languages=[{"code": "sw"}],
    )
    create_project(store, spec)
    rows = [
        {"text": "mvua kesho", "true": "weather", "pred": "weather"},
        {"text": "jua kali", "true": "weather", "pred": "Weather"},  # the same label, other capitals
        {"text": "upepo mkali", "true": "weather", "pred": "mvua"},  # a Swahili alias of weather
        {"text": "bei ya mahindi", "true": "price", "pred": "other"},  # no such label
        {"text": "soko la leo", "true": "price", "pred": "bei"},  # the Swahili name of price
        {"text": "gharama ya mbolea", "true": "price", "pred": "other"},
        {"text": "majani ya mihogo", "true": "disease", "pred": ""},  # no prediction
        {"text": "madoa kwenye majani", "true": "disease", "pred": "disease"},
        {"text": "mdudu wa mahindi", "true": "Pest", "pred": "disease"},  # a true label the project gains
    ]
    path = tmp_path / "vendor.jsonl"
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n", encoding="utf-8")
    columns = ["--text-column", "text", "--label-column", "true", "--prediction-column", "pred"]
    code, out, err = cli(capsys, "quickcheck", str(path), *columns, "--language", "sw", "--project", "crops")
    assert code == 0, err
    assert (
        "warning: The predicted label 'other' (2 rows: 4, 6) is none of the project's labels ('weather', 'price', "
        "'disease' and 'Pest'): these predictions count as wrong, shown as 'no usable answer'." in out
    )
    assert "warning: Rows without a predicted label count as wrong (no usable answer) (1 row: 7)." in out
    assert "note: The predicted label 'Weather' is read as the project's 'weather' (the same name written" in out
    assert "note: The predicted label 'mvua' is read as the project's 'weather' (an alias in Swahili) (1 row: 3)" in out
    assert "note: The predicted label 'bei' is read as the project's 'price' (its name in Swahili) (1 row: 5)" in out
    assert "Labels added to the project: 'Pest'" in out

    project = get_project(store, "crops")
    evaluation = latest_evaluation(store, project.id, "vendor.jsonl")
    test = load_test_set(store, project)
    by_id = {p.sample_id: p for p in load_predictions(store, evaluation.id)}
    by_text = {text: by_id[i] for text, i in zip(test.texts, test.sample_ids, strict=True)}
    assert [(by_text[t].predicted, by_text[t].outcome, by_text[t].answer) for t in ("bei ya mahindi", "jua kali")] == [
        (None, "unparseable", "other"),
        ("weather", "label", None),
    ]
    assert (by_text["majani ya mihogo"].predicted, by_text["majani ya mihogo"].outcome) == (None, "failed")
    group = evaluation.metrics["sw"]
    assert group["unparsed"] == 3 and group["unparsed_by_label"] == {"price": 2, "disease": 1}
    # scikit-learn's figures on the same rows: a prediction without a project label is a wrong answer of no label
    readings = {"Weather": "weather", "mvua": "weather", "bei": "price", "other": "<none>", "": "<none>"}
    truth = [r["true"] for r in rows]
    guess = [readings.get(r["pred"], r["pred"]) for r in rows]
    scored = sorted({*truth, *guess} - {"<none>"})
    assert group["macro_f1"] == pytest.approx(sk.f1_score(truth, guess, labels=scored, average="macro"))
    assert group["accuracy"] == pytest.approx(sk.accuracy_score(truth, guess))


def test_a_file_missing_a_column_is_refused_in_plain_words(
    sqlite_store: Store, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_csv(tmp_path / "preds.csv", prediction_rows(2))
    base = ("quickcheck", str(path), "--text-column", "sentence", "--label-column", "gold")
    code, out, err = cli(capsys, *base, "--prediction-column", "prediction", "--language-column", "lang")
    assert code == 1 and out == ""
    assert err.strip() == (
        "error: 'preds.csv' has no column 'prediction' (for the predicted labels). Its columns: 'sentence', 'gold', "
        "'predicted', 'lang' and 'score'."
    )
    code, out, err = cli(capsys, *base, "--prediction-column", "gold", "--language", "sw")
    assert code == 1 and "The column 'gold' cannot hold both the true labels and the predicted labels" in err
    code, out, err = cli(capsys, *base, "--prediction-column", "predicted", "--language", "xx")
    assert code == 1 and err.strip() == "error: 'xx' is not a known language code (ISO 639, e.g. sw)."
    rows = [{**r, "lang": "klingon"} for r in prediction_rows(2)]
    code, out, err = cli(capsys, "quickcheck", str(write_csv(tmp_path / "odd.csv", rows)), *QUICKCHECK,
                         "--language-column", "lang")  # fmt: skip
    assert code == 1 and "None of the languages in 'odd.csv' is a known language code" in err and "'klingon'" in err
    assert "Traceback" not in err
    assert list_projects(sqlite_store) == []  # nothing stored by a refused check


def test_an_unknown_language_in_some_rows_leaves_nothing_behind(sqlite_store: Store, tmp_path: Path) -> None:
    rows = prediction_rows(2)
    rows[3]["lang"] = "zz"
    with pytest.raises(Exception, match=r"unknown language code 'zz' \(1 row: 4\)"):
        check_predictions_file(
            sqlite_store,
            write_csv(tmp_path / "mixed.csv", rows),
            PredictionColumns("sentence", "gold", "predicted", language_column="lang"),
        )
    assert list_projects(sqlite_store) == []  # the project made for the file went again


def test_a_file_without_a_scorable_row_leaves_nothing_behind(sqlite_store: Store, tmp_path: Path) -> None:
    rows = [{"sentence": "  ", "gold": "price", "predicted": "price", "lang": "sw"}]  # no text: skipped on import
    with pytest.raises(Exception, match=r"No row of 'blank.csv' could be scored: Rows without a text are not scored"):
        check_predictions_file(
            sqlite_store,
            write_csv(tmp_path / "blank.csv", rows),
            PredictionColumns("sentence", "gold", "predicted", language_column="lang"),
        )
    assert list_projects(sqlite_store) == []


def test_column_guesses_for_the_page() -> None:
    guess = guess_columns(["id", "Sentence", "gold_label", "Predicted Label", "lang", "confidence"])
    assert (guess.text, guess.label, guess.prediction, guess.language_column, guess.confidence) == (
        "Sentence",
        "gold_label",
        "Predicted Label",
        "lang",
        "confidence",
    )
    guess = guess_columns(["text", "label", "prediction"])
    assert (guess.label, guess.prediction, guess.language_column, guess.confidence) == (
        "label",
        "prediction",
        None,
        None,
    )

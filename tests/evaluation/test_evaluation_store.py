"""Stored evaluations (with predictions constructed here, as a run or a baseline would give them): replacing,
comparing only on the same test set, the samples behind a matrix cell, the weakest cells, the HTML report, the
compare / report / evaluations commands, and the migration."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from core.cli import main
from core.errors import InvalidInput
from core.evaluation.comparison import comparability, compare, compare_by_name
from core.evaluation.error_cells import NO_ANSWER, cell_samples, weak_cells
from core.evaluation.evaluations import (
    Evaluation,
    latest_evaluation,
    latest_evaluations,
    list_evaluations,
    load_predictions,
    save_evaluation,
)
from core.evaluation.metrics import OVERALL, Prediction, hash_test_ids
from core.evaluation.model_scores import load_test_set
from core.evaluation.report import render_report, write_report
from core.store import Store
from core.store.projects import Project
from tests.training_support import LABELS, make_project


@pytest.fixture
def project(store: Store) -> Project:
    return make_project(store, "bundled:multilingual-e5-small", test_per_cell=12)


def predict(store: Store, project: Project, accuracy: float, seed: int, languages: tuple[str, ...] = ()) -> list:
    """Predictions of a made-up model: right with probability `accuracy`, else another label; some confidence."""
    test = load_test_set(store, project, list(languages) or None)
    rng = np.random.default_rng(seed)
    made = []
    for sample_id, label, language in zip(test.sample_ids, test.labels, test.languages, strict=True):
        wrong = LABELS[(LABELS.index(label) + 1 + int(rng.integers(0, 2))) % 3]
        predicted = label if rng.random() < accuracy else wrong
        made.append(Prediction(sample_id, language, label, predicted, round(float(rng.random()), 3)))
    return made


def save(store: Store, project: Project, name: str, predictions: list, source: str = "run") -> Evaluation:
    return save_evaluation(store, project, name=name, source=source, predictions=predictions)


def test_an_evaluation_is_stored_with_its_predictions_and_test_hash(store: Store, project: Project) -> None:
    made = predict(store, project, 0.8, 1)
    evaluation = save(store, project, "small", made)
    test = load_test_set(store, project)
    assert evaluation.test_hash == hash_test_ids(test.sample_ids) == evaluation.metrics[OVERALL]["test_hash"]
    assert evaluation.test_size == len(test.sample_ids) == 72 and evaluation.languages == ["en", "sw"]
    assert load_predictions(store, evaluation.id) == sorted(made, key=lambda p: p.sample_id)
    again = save(store, project, "small", predict(store, project, 0.5, 2))  # same thing, same test set: replaced
    assert [e.id for e in list_evaluations(store, project.id)] == [again.id]
    assert latest_evaluation(store, project.id, "small").mean_macro_f1 == again.mean_macro_f1
    fewer = save(store, project, "small", predict(store, project, 0.5, 2, ("sw",)))  # another test set: kept apart
    assert len(list_evaluations(store, project.id)) == 2 and latest_evaluations(store, project.id)[0].id == fewer.id
    with pytest.raises(InvalidInput, match="twice"):
        save(store, project, "dup", [*made, made[0]])


def test_comparison_pairs_the_same_test_samples_and_refuses_other_test_sets(store: Store, project: Project) -> None:
    good = save(store, project, "small model", predict(store, project, 0.9, 3))
    llm = save(store, project, "llm zero-shot", predict(store, project, 0.5, 4), source="baseline")
    comparison = compare(store, [good, llm], seed=5, resamples=1000)
    assert comparison.names == ["small model", "llm zero-shot"] and comparison.groups == ["en", "sw", "mean"]
    assert comparison == compare(store, [good, llm], seed=5, resamples=1000)  # seeded: the same intervals
    rows = comparison.chart_rows()
    assert len(rows) == 6 and {r["evaluation"] for r in rows} == {"small model", "llm zero-shot"}
    for row in rows:
        source = good if row["evaluation"] == "small model" else llm
        expected = source.mean_macro_f1 if row["group"] == "mean" else source.metrics[row["group"]]["macro_f1"]
        assert row["macro_f1"] == pytest.approx(expected) and row["low"] <= row["macro_f1"] <= row["high"]
    mean = next(d for d in comparison.difference_rows() if d["group"] == "mean")
    assert mean["difference"] == pytest.approx(llm.mean_macro_f1 - good.mean_macro_f1)
    assert mean["verdict"] == "worse" and mean["high"] < 0
    assert re.fullmatch(r"\d\.\d{3} \[\d\.\d{3}, \d\.\d{3}\]", comparison.table()[0]["small model"])

    subset = save(store, project, "swahili only", predict(store, project, 0.9, 6, ("sw",)))
    reason = comparability([good, subset])
    assert reason and "did not see the same test samples" in reason and "72" in reason and "36" in reason
    with pytest.raises(InvalidInput, match="did not see the same test samples"):
        compare(store, [good, subset])
    assert comparability([good]) == "Pick at least two evaluations to compare."

    relabelled = predict(store, project, 0.9, 3)
    relabelled[0] = Prediction(relabelled[0].sample_id, relabelled[0].language, "other", relabelled[0].predicted)
    changed = save(store, project, "old labels", relabelled)
    with pytest.raises(InvalidInput, match="1 test samples had another label"):
        compare(store, [good, changed])


def test_a_matrix_cell_lists_its_test_samples_and_the_weakest_cells_come_first(store: Store, project: Project) -> None:
    made = predict(store, project, 0.6, 7)
    made[0] = Prediction(made[0].sample_id, made[0].language, made[0].true_label, None, None, "unparseable", "no idea")
    evaluation = save(store, project, "llm", made, source="baseline")
    weakest = weak_cells(evaluation, top=3)
    assert len(weakest) == 3 and weakest[0].count >= weakest[1].count >= weakest[2].count
    cell = weakest[0]
    group = evaluation.metrics[cell.language]
    i, j = group["labels"].index(cell.true), group["labels"].index(cell.predicted)
    assert cell.count == group["confusion"][i][j] and cell.true != cell.predicted
    samples = cell_samples(store, evaluation, cell.true, cell.predicted, language=cell.language)
    assert len(samples) == cell.count
    where = (cell.language, cell.true, cell.predicted)
    expected = {p.sample_id for p in made if (p.language, p.true_label, p.predicted) == where}
    assert {s.sample_id for s in samples} == expected
    assert all(s.text.endswith(f" {cell.language}") and " test " in s.text for s in samples)  # the real test texts
    confidences = [s.confidence for s in samples]
    assert confidences == sorted(confidences, reverse=True)  # the most confident mistakes first
    unusable = cell_samples(store, evaluation, made[0].true_label, NO_ANSWER)
    assert [(s.sample_id, s.answer, s.to_row()["predicted"]) for s in unusable] == [
        (made[0].sample_id, "no idea", NO_ANSWER)
    ]
    everywhere = cell_samples(store, evaluation, cell.true, cell.predicted, language=OVERALL)
    assert len(everywhere) >= len(samples)


def test_a_cell_is_read_from_the_database_in_the_order_of_its_confidence(store: Store, project: Project) -> None:
    """The cell's predictions are chosen, sorted and cut by the database (a big test split has tens of thousands):
    the most confident first, ties and missing confidences by sample id, at most `limit`."""
    made = predict(store, project, 0.3, 11)
    for position in range(0, len(made), 3):  # ties, and predictions without a confidence
        p = made[position]
        made[position] = Prediction(p.sample_id, p.language, p.true_label, p.predicted, None if position % 2 else 0.5)
    evaluation = save(store, project, "ties", made)
    for cell in weak_cells(evaluation, top=6):
        for language in (cell.language, OVERALL):
            expected = sorted(
                (
                    p
                    for p in made
                    if p.true_label == cell.true
                    and p.predicted == cell.predicted
                    and (language == OVERALL or p.language == language)
                ),
                key=lambda p: (p.confidence is None, -(p.confidence or 0.0), p.sample_id),
            )
            for limit in (500, 3):
                found = cell_samples(store, evaluation, cell.true, cell.predicted, language=language, limit=limit)
                assert [(s.sample_id, s.confidence) for s in found] == [
                    (p.sample_id, p.confidence) for p in expected[:limit]
                ]


def test_the_intervals_are_resampled_once_when_the_evaluation_is_made(store: Store, project: Project) -> None:
    """The Evaluate page shows the intervals kept with the evaluation: those a resampling now gives."""
    from core.evaluation.evaluations import get_evaluation
    from core.evaluation.intervals import score_intervals
    from core.front.actor import Actor
    from core.front.evaluation import intervals

    evaluation = save(store, project, "kept", predict(store, project, 0.7, 5))
    assert evaluation.intervals is not None and set(evaluation.intervals) == {*evaluation.languages, OVERALL}
    assert "intervals" not in evaluation.overall  # the figures are what they were
    assert get_evaluation(store, evaluation.id).intervals == evaluation.intervals
    resampled = score_intervals(evaluation, load_predictions(store, evaluation.id))
    assert intervals(Actor(store, "tester"), evaluation) == resampled
    assert list(resampled) == [*evaluation.languages, OVERALL]


def test_the_report_is_one_self_contained_html_file_with_the_numbers(
    store: Store, project: Project, tmp_path: Path
) -> None:
    good = save(store, project, "small <model>", predict(store, project, 0.85, 8))
    llm = save(store, project, "llm", predict(store, project, 0.5, 9), source="baseline")
    comparison = compare(store, [good, llm], seed=0)
    html = render_report(project.name, [good, llm], comparison, generated_by="tester")
    out = write_report(html, tmp_path / "report.html")
    text = out.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>") and text.count("<svg") == 1 + 2 * 2  # the chart and 2 x 2 matrices
    assert "small &lt;model&gt;" in text and "<model>" not in text  # names are escaped
    for tag in ("<script", "<link", "src=", "url("):
        assert tag not in text
    assert set(re.findall(r"https?://[^\s\"']+", text)) == {"http://www.w3.org/2000/svg"}  # a namespace, not a fetch
    for evaluation in (good, llm):
        assert f"{evaluation.mean_macro_f1:.3f}" in text and evaluation.test_hash[:12] in text
        for language in ("en", "sw"):
            group = evaluation.metrics[language]
            assert f"{group['macro_f1']:.3f}" in text and f"{group['accuracy']:.3f}" in text
            for i, true in enumerate(group["labels"]):
                for j, predicted in enumerate(group["labels"]):
                    count, support = group["confusion"][i][j], group["per_label"][true]["support"]
                    assert f"true {true} → predicted {predicted}: {count} of {support}" in text
    assert comparison.table()[0]["small <model>"] in text  # the comparison table with its intervals


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_compare_report_and_evaluations_commands(
    store: Store, project: Project, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    save(store, project, "small", predict(store, project, 0.9, 10))
    save(store, project, "llm", predict(store, project, 0.4, 11), source="baseline")
    save(store, project, "sw only", predict(store, project, 0.9, 12, ("sw",)))
    code, out, err = cli(capsys, "compare", "--project", "crops", "--runs", "small,llm", "--seed", "3", "--json")
    assert code == 0, err
    data = json.loads(out)
    expected = compare_by_name(store, "crops", ["small", "llm"], seed=3).to_dict()
    assert data == json.loads(json.dumps(expected)) and data["resamples"] == 1000
    code, out, err = cli(capsys, "compare", "--project", "crops", "--runs", "small,llm")
    assert code == 0 and "against 'small':" in out and "mean of languages" in out
    code, out, err = cli(capsys, "compare", "--project", "crops", "--runs", "small,sw only")
    assert code == 1 and "did not see the same test samples" in err and len(err.strip().splitlines()) == 1

    code, out, err = cli(capsys, "report", "--project", "crops", "--runs", "small,llm", str(tmp_path / "r.html"))
    assert code == 0, err
    assert "<svg" in (tmp_path / "r.html").read_text(encoding="utf-8")
    code, out, err = cli(capsys, "evaluations", "--project", "crops", "--json")
    assert code == 0 and [row["name"] for row in json.loads(out)] == ["sw only", "llm", "small"]


def test_the_migration_creates_exactly_the_orm_tables_and_goes_back(sqlite_store: Store) -> None:
    from alembic import command
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext
    from sqlalchemy import inspect

    from core.store.database import _head_revision, alembic_config
    from core.store.schema import Base

    ours = ("baseline_runs", "llm_requests", "evaluations", "evaluation_predictions")
    with sqlite_store.engine.connect() as connection:
        assert MigrationContext.configure(connection).get_current_revision() == _head_revision(
            alembic_config(sqlite_store.url)
        )
        assert [d for d in compare_metadata(MigrationContext.configure(connection), Base.metadata)] == []
    config = alembic_config(sqlite_store.url)
    command.downgrade(config, "0004")
    assert not set(ours) & set(inspect(sqlite_store.engine).get_table_names())
    command.upgrade(config, "head")
    assert set(ours) <= set(inspect(sqlite_store.engine).get_table_names())

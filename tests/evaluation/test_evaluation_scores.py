"""The typed scores of an evaluation (read from the stored metrics, whose shape stays as it is), the weakest label of
a group, and whether the test split changed since an evaluation."""

from __future__ import annotations

import pytest

from core.evaluation.evaluations import save_evaluation
from core.evaluation.metrics import OVERALL, Prediction
from core.evaluation.model_scores import load_test_set
from core.evaluation.scores import LabelScores, LanguageScores, WeakLabel, evaluation_scores, weakest_label
from core.evaluation.staleness import check_test_split
from core.store import Store
from core.store.projects import Project
from tests.training_support import make_project


@pytest.fixture
def project(sqlite_store: Store) -> Project:
    return make_project(sqlite_store, "bundled:multilingual-e5-small", test_per_cell=3)


def _truths(store: Store, project: Project) -> list[Prediction]:
    test = load_test_set(store, project)
    return [
        Prediction(i, code, label, label)
        for i, code, label in zip(test.sample_ids, test.languages, test.labels, strict=True)
    ]


def test_the_scores_carry_every_figure_of_the_stored_metrics(sqlite_store: Store) -> None:
    project = make_project(sqlite_store, "x", name="words")
    truths = [("en", "weather"), ("en", "price"), ("en", "price"), ("sw", "weather")]
    predictions = [Prediction(1000 + i, code, label, "weather") for i, (code, label) in enumerate(truths)]
    predictions.append(Prediction(2000, "en", "price", None, None, "unparseable", "?"))
    evaluation = save_evaluation(sqlite_store, project, name="b", source="baseline", predictions=predictions)
    scores = evaluation_scores(evaluation)
    assert [s.code for s in scores.groups] == ["en", "sw", OVERALL]
    assert scores.mean_macro_f1 == pytest.approx(evaluation.mean_macro_f1)
    for group in scores.groups:
        stored = evaluation.metrics[group.code]
        assert group.macro_f1 == pytest.approx(stored["macro_f1"]) and group.accuracy == pytest.approx(
            stored["accuracy"]
        )
        assert group.n == stored["n"] and list(group.labels) == stored["labels"]
        assert [list(row) for row in group.confusion] == stored["confusion"]
        assert group.per_label == {
            label: LabelScores(s["precision"], s["recall"], s["f1"], s["support"])
            for label, s in stored["per_label"].items()
        }
        assert group.unparsed == stored["unparsed"] and dict(group.unparsed_by_label) == stored["unparsed_by_label"]
        assert dict(group.outcomes) == stored["outcomes"]
    assert scores.of("en").unparsed == 1 and scores.of("en").unparsed_by_label == {"price": 1}
    assert scores.of(OVERALL) is scores.overall and scores.overall.pooled and not scores.of("sw").pooled


def test_the_weakest_label_has_the_lowest_f1_and_a_perfect_group_has_none() -> None:
    def group(f1: dict[str, float]) -> LanguageScores:
        per_label = {label: LabelScores(1.0, 1.0, value, 2) for label, value in f1.items()}
        return LanguageScores("en", 0.5, 0.5, 6, tuple(f1), (), per_label, 0, {}, {})

    weakest = weakest_label(group({"weather": 0.8, "price": 0.0, "disease": 0.5}))
    assert weakest == WeakLabel("price", 0.0) and weakest.text == "price (F1 0.00)"
    assert weakest_label(group({"weather": 0.5, "price": 0.5})) == WeakLabel("price", 0.5)  # a tie: the first name
    assert weakest_label(group({"weather": 1.0, "price": 1.0})) is None  # every label perfect: none is weak
    assert weakest_label(group({})) is None


def test_an_evaluation_of_the_whole_test_split_is_not_stale(sqlite_store: Store, project: Project) -> None:
    predictions = _truths(sqlite_store, project)
    evaluation = save_evaluation(sqlite_store, project, name="run", source="run", predictions=predictions)
    check = check_test_split(sqlite_store, project, evaluation)
    assert not check.stale and not check.warn and check.message == "" and check.samples_now == len(predictions)


def test_a_changed_test_split_asks_for_a_new_evaluation_but_a_file_only_gets_a_note(
    sqlite_store: Store, project: Project
) -> None:
    predictions = _truths(sqlite_store, project)
    fewer = predictions[1:]  # scored before a test sample was added
    evaluation = save_evaluation(sqlite_store, project, name="run", source="run", predictions=fewer)
    check = check_test_split(sqlite_store, project, evaluation)
    assert check.stale and check.warn and check.samples_now == len(predictions)
    assert check.message == (
        f"The test split has changed since this evaluation ({len(predictions)} test samples in its languages now, "
        f"{len(fewer)} then): evaluate it again to score the current test split."
    )
    checked = save_evaluation(sqlite_store, project, name="file", source="file", predictions=fewer)
    note = check_test_split(sqlite_store, project, checked)
    assert note.stale and not note.warn
    assert note.message.startswith(f"This check scored the {len(fewer)} rows of its file;")

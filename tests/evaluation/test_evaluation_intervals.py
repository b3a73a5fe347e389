"""How sure an evaluation's scores are: bootstrap intervals per language and pooled around the stored figures, and
the warning for languages with too few test samples (real SQLite, real evaluations)."""

from __future__ import annotations

import pytest

from core.evaluation.evaluations import load_predictions, save_evaluation
from core.evaluation.intervals import MIN_TEST_SAMPLES, perfect_score_notes, score_intervals, small_test_warnings
from core.evaluation.metrics import OVERALL, Prediction
from core.store import Store
from tests.training_support import make_project

LABELS = ("weather", "price", "disease")


def _predictions(language: str, n: int, wrong_every: int, start: int) -> list[Prediction]:
    """n test samples of a language, cycling through the labels; every `wrong_every`-th one taken for another."""
    rows = []
    for i in range(n):
        truth = LABELS[i % 3]
        guess = LABELS[(i + 1) % 3] if wrong_every and i % wrong_every == 0 else truth
        rows.append(Prediction(start + i, language, truth, guess))
    return rows


def test_intervals_surround_the_stored_scores_and_narrow_with_more_samples(sqlite_store: Store) -> None:
    project = make_project(sqlite_store, "x")
    predictions = _predictions("en", 300, 4, 10_000) + _predictions("sw", 30, 4, 20_000)
    evaluation = save_evaluation(sqlite_store, project, name="b", source="baseline", predictions=predictions)
    intervals = score_intervals(evaluation, load_predictions(sqlite_store, evaluation.id), resamples=400)
    assert list(intervals) == ["en", "sw", OVERALL]
    for group, interval in intervals.items():
        assert interval.estimate == pytest.approx(evaluation.metrics[group]["macro_f1"])
        assert interval.low < interval.estimate < interval.high
        assert interval.samples == evaluation.metrics[group]["n"]
    width = {group: i.high - i.low for group, i in intervals.items()}
    assert width["en"] < width["sw"]  # ten times the samples: a narrower interval
    assert intervals["en"].text == f"{intervals['en'].low:.3f} – {intervals['en'].high:.3f}"
    again = score_intervals(evaluation, load_predictions(sqlite_store, evaluation.id), resamples=400)
    assert again == intervals  # seeded: the same every time
    assert small_test_warnings(evaluation) == []  # 30 in Swahili: enough


def test_a_perfect_score_on_few_samples_is_called_what_it_is(sqlite_store: Store) -> None:
    project = make_project(sqlite_store, "x")
    predictions = _predictions("en", 6, 0, 10_000) + _predictions("sw", MIN_TEST_SAMPLES - 1, 5, 20_000)
    evaluation = save_evaluation(sqlite_store, project, name="b", source="baseline", predictions=predictions)
    intervals = score_intervals(evaluation, load_predictions(sqlite_store, evaluation.id), resamples=200)
    assert intervals["en"].estimate == intervals["en"].high == 1.0  # no resample of right answers is better
    english, swahili = small_test_warnings(evaluation)
    assert english.startswith("English has only 6 test samples: its scores mean little.")
    assert "wrong on fewer than about 50% of such texts" in english
    assert swahili.startswith(f"Swahili has only {MIN_TEST_SAMPLES - 1} test samples")
    tiny = save_evaluation(
        sqlite_store, project, name="c", source="baseline", predictions=_predictions("en", 2, 0, 30_000)
    )
    [warning] = small_test_warnings(tiny)
    assert "no mistake at all on so few shows almost nothing" in warning


def test_a_perfect_score_on_enough_samples_gets_a_note_of_what_it_shows(sqlite_store: Store) -> None:
    project = make_project(sqlite_store, "x")
    predictions = _predictions("en", 30, 0, 10_000) + _predictions("sw", 400, 0, 20_000)
    evaluation = save_evaluation(sqlite_store, project, name="b", source="baseline", predictions=predictions)
    assert small_test_warnings(evaluation) == []
    [note] = perfect_score_notes(evaluation)  # 400 samples: "fewer than 1%" says enough
    assert note.startswith("English: no mistake on 30 test samples. That only shows that the model is wrong on ")
    assert "fewer than about 10% of such texts" in note

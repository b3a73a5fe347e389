"""The metric maths of core.training.metrics agree with scikit-learn's on random and corner cases."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics as sk

from core.training.metrics import (
    accuracy,
    confusion_matrix,
    macro_f1,
    mean_macro_f1,
    score,
    score_by_language,
)

LABELS = ["alarm", "music", "weather", "news"]


def random_predictions(seed: int, n: int = 300) -> tuple[list[str], list[str]]:
    rng = np.random.default_rng(seed)
    truth = list(rng.choice(LABELS, size=n, p=[0.4, 0.3, 0.2, 0.1]))
    noisy = rng.random(n) < 0.35
    predicted = [str(rng.choice(LABELS[:3])) if flip else t for t, flip in zip(truth, noisy, strict=True)]
    return [str(t) for t in truth], predicted


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_scores_match_scikit_learn(seed: int) -> None:
    truth, predicted = random_predictions(seed)
    ours = score(truth, predicted)
    assert ours.macro_f1 == pytest.approx(sk.f1_score(truth, predicted, average="macro"))
    assert ours.accuracy == pytest.approx(sk.accuracy_score(truth, predicted))
    assert ours.labels == sorted(LABELS)
    assert ours.confusion == sk.confusion_matrix(truth, predicted, labels=ours.labels).tolist()
    precision, recall, f1, support = sk.precision_recall_fscore_support(
        truth, predicted, labels=ours.labels, zero_division=0
    )
    for i, label_score in enumerate(ours.per_label):
        assert label_score.label == ours.labels[i]
        assert label_score.precision == pytest.approx(precision[i])
        assert label_score.recall == pytest.approx(recall[i])
        assert label_score.f1 == pytest.approx(f1[i])
        assert label_score.support == support[i]


def test_a_label_never_predicted_or_never_true_counts_as_zero_like_scikit_learn() -> None:
    truth = ["a", "a", "b", "b", "c"]
    predicted = ["a", "b", "b", "b", "d"]  # c never predicted, d never true
    expected = sk.f1_score(truth, predicted, average="macro", zero_division=0)
    assert macro_f1(truth, predicted) == pytest.approx(expected)
    given = ["a", "b", "c", "e"]  # e appears nowhere: scored as 0, as scikit-learn does with labels=
    assert macro_f1(truth, predicted, given) == pytest.approx(
        sk.f1_score(truth, predicted, labels=given, average="macro", zero_division=0)
    )


def test_per_language_scores_and_their_unweighted_mean() -> None:
    truth, predicted = random_predictions(5, n=400)
    languages = ["sw" if i % 3 else "en" for i in range(len(truth))]
    by_language = score_by_language(truth, predicted, languages)
    assert list(by_language) == ["en", "sw"]
    for language, scores in by_language.items():
        t = [x for x, lang in zip(truth, languages, strict=True) if lang == language]
        p = [x for x, lang in zip(predicted, languages, strict=True) if lang == language]
        assert scores.samples == len(t)
        assert scores.macro_f1 == pytest.approx(sk.f1_score(t, p, average="macro"))
    assert mean_macro_f1(by_language) == pytest.approx((by_language["en"].macro_f1 + by_language["sw"].macro_f1) / 2)


def test_confusion_matrix_ignores_labels_outside_the_list_and_lengths_must_agree() -> None:
    assert confusion_matrix(["a", "b", "x"], ["a", "a", "a"], ["a", "b"]) == [[1, 0], [1, 0]]
    assert accuracy([], []) == 0.0
    with pytest.raises(ValueError):
        accuracy(["a"], [])

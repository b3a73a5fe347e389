"""Evaluation maths without a store: per-language figures equal scikit-learn's (also with answers that gave no
label), the JSON shape of `evaluate --json`, the test hash, the paired seeded bootstrap, matrix cells."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics as sk

from core.evaluation.bootstrap import MEAN, paired_bootstrap
from core.evaluation.error_cells import NO_ANSWER, matrix_cells
from core.evaluation.metrics import OVERALL, Prediction, evaluation_metrics, hash_test_ids

LABELS = ["weather", "price", "disease", "other"]
LANGUAGES = ["sw", "en", "th"]
GROUP_KEYS = {"macro_f1", "accuracy", "n", "labels", "confusion", "per_label"}
NONE = "(none)"  # how these tests spell "no label" for scikit-learn


def predictions(seed: int, n: int = 240, unparsed: float = 0.0, accuracy: float = 0.7) -> list[Prediction]:
    rng = np.random.default_rng(seed)
    made = []
    for i in range(n):
        truth = str(rng.choice(LABELS, p=[0.4, 0.3, 0.2, 0.1]))
        roll = rng.random()
        if roll < unparsed:
            predicted, outcome = None, str(rng.choice(["ambiguous", "unparseable", "failed"]))
        elif roll < unparsed + (1 - unparsed) * accuracy:
            predicted, outcome = truth, "label"
        else:
            predicted, outcome = str(rng.choice(LABELS[:3])), "label"
        made.append(Prediction(1000 + i, LANGUAGES[i % 3], truth, predicted, float(rng.random()), outcome))
    return made


def sklearn_group(group: list[Prediction]) -> tuple[list[str], list[str], list[str]]:
    truth = [p.true_label for p in group]
    predicted = [p.predicted or NONE for p in group]
    labels = [label for label in LABELS if label in set(truth) | set(predicted)]
    return truth, predicted, labels


@pytest.mark.parametrize(("seed", "unparsed"), [(0, 0.0), (1, 0.0), (2, 0.15)])
def test_every_figure_equals_scikit_learn_per_language_and_pooled(seed: int, unparsed: float) -> None:
    made = predictions(seed, unparsed=unparsed)
    metrics = evaluation_metrics(made, LABELS, ["en", "sw"])
    assert list(metrics) == ["en", "sw", "th", OVERALL]  # project order first, then the rest
    for key in ["en", "sw", "th", OVERALL]:
        group = [p for p in made if key == OVERALL or p.language == key]
        truth, predicted, labels = sklearn_group(group)
        ours = metrics[key]
        assert ours["labels"] == labels
        assert ours["n"] == len(group)
        assert ours["macro_f1"] == pytest.approx(
            sk.f1_score(truth, predicted, labels=labels, average="macro", zero_division=0)
        )
        assert ours["accuracy"] == pytest.approx(sk.accuracy_score(truth, predicted))
        assert ours["confusion"] == sk.confusion_matrix(truth, predicted, labels=labels).tolist()
        p, r, f, s = sk.precision_recall_fscore_support(truth, predicted, labels=labels, zero_division=0)
        for i, label in enumerate(labels):
            assert ours["per_label"][label] == pytest.approx(
                {"precision": p[i], "recall": r[i], "f1": f[i], "support": int(s[i])}
            )
        # a row of the matrix plus its answers without a label is the label's support; rates are row-normalised
        for i, label in enumerate(labels):
            row_total = sum(ours["confusion"][i]) + ours["unparsed_by_label"].get(label, 0)
            assert row_total == ours["per_label"][label]["support"]
            assert ours["confusion_normalized"][i] == pytest.approx([c / row_total for c in ours["confusion"][i]])
        assert ours["unparsed"] == sum(1 for g in group if g.predicted is None)
        assert sum(ours["outcomes"].values()) == ours["unparsed"]
    if unparsed == 0.0:  # without unusable answers these are scikit-learn's defaults exactly
        truth = [p.true_label for p in made]
        predicted = [str(p.predicted) for p in made]
        assert metrics[OVERALL]["macro_f1"] == pytest.approx(sk.f1_score(truth, predicted, average="macro"))
    languages = [metrics[code]["macro_f1"] for code in ["en", "sw", "th"]]
    assert metrics[OVERALL]["mean_macro_f1"] == pytest.approx(sum(languages) / 3)


def test_the_json_shape_of_evaluate_is_plain_json() -> None:
    import json

    metrics = json.loads(json.dumps(evaluation_metrics(predictions(3, unparsed=0.1), LABELS)))
    for key, group in metrics.items():
        assert set(group) >= GROUP_KEYS, key
        assert isinstance(group["macro_f1"], float) and isinstance(group["n"], int)
        assert len(group["confusion"]) == len(group["labels"]) == len(group["per_label"])
        assert all(len(row) == len(group["labels"]) for row in group["confusion"])
        assert all(set(s) == {"precision", "recall", "f1", "support"} for s in group["per_label"].values())
    assert "mean_macro_f1" in metrics[OVERALL] and "mean_macro_f1" not in metrics["sw"]


def test_the_test_hash_depends_on_the_set_of_ids_only() -> None:
    assert hash_test_ids([3, 1, 2]) == hash_test_ids([1, 2, 3, 3])
    assert hash_test_ids([1, 2, 3]) != hash_test_ids([1, 2, 4])
    assert len(hash_test_ids([1])) == 64


def test_matrix_cells_carry_counts_rates_and_a_column_for_answers_without_a_label() -> None:
    group = evaluation_metrics(predictions(4, unparsed=0.2), LABELS)["sw"]
    cells = matrix_cells(group)
    labels = group["labels"]
    assert len(cells) == len(labels) * (len(labels) + 1)
    assert [c.predicted for c in cells[: len(labels) + 1]] == [*labels, NO_ANSWER]
    for cell in cells:
        expected = group["confusion"][cell.row][cell.column] if cell.predicted != NO_ANSWER else None
        if expected is not None:
            assert cell.count == expected
        assert cell.rate == pytest.approx(cell.count / cell.support)
        assert f"{cell.count} of {cell.support}" in cell.hover and cell.text == str(cell.count)
    assert sum(c.count for c in cells if c.predicted == NO_ANSWER) == group["unparsed"]
    assert len(matrix_cells(group, include_unparsed=False)) == len(labels) ** 2


def _shifted(made: list[Prediction], seed: int, flip: float) -> list[Prediction]:
    """The same test samples, another model: a share of the predictions changed."""
    rng = np.random.default_rng(seed)
    return [
        Prediction(
            p.sample_id, p.language, p.true_label, str(rng.choice(LABELS)) if rng.random() < flip else p.predicted
        )
        for p in made
    ]


def test_the_paired_bootstrap_is_seeded_and_centred_on_the_full_sample_figures() -> None:
    good = predictions(5, n=300, accuracy=0.85)
    worse = _shifted(good, 6, flip=0.5)
    sets = {"good": good, "worse": worse}
    first = paired_bootstrap(sets, resamples=1000, seed=11)
    again = paired_bootstrap(sets, resamples=1000, seed=11)
    other = paired_bootstrap(sets, resamples=1000, seed=12)
    assert first == again
    assert first.scores["good"]["sw"] != other.scores["good"]["sw"]
    assert first.groups == ["en", "sw", "th", MEAN] and first.resamples == 1000
    metrics = evaluation_metrics(good, LABELS)
    for language in ["en", "sw", "th"]:
        interval = first.scores["good"][language]
        assert interval.estimate == pytest.approx(metrics[language]["macro_f1"])
        assert interval.low < interval.estimate < interval.high
    assert first.scores["good"][MEAN].estimate == pytest.approx(metrics[OVERALL]["mean_macro_f1"])
    difference = first.differences["worse"][MEAN]
    assert difference.estimate == pytest.approx(
        evaluation_metrics(worse, LABELS)[OVERALL]["mean_macro_f1"] - metrics[OVERALL]["mean_macro_f1"]
    )
    assert difference.clear and difference.verdict == "worse" and difference.share_better < 0.05
    assert "good" not in first.differences  # the reference


def test_a_tiny_difference_is_not_called_clear() -> None:
    made = predictions(7, n=300)
    twin = _shifted(made, 8, flip=0.01)
    result = paired_bootstrap({"a": made, "b": twin}, resamples=1000, seed=0)
    difference = result.differences["b"][MEAN]
    assert difference.low <= 0 <= difference.high and difference.verdict == "no clear difference"


def test_the_bootstrap_pairs_only_the_same_test_samples() -> None:
    made = predictions(9, n=30)
    with pytest.raises(ValueError, match="same test samples"):
        paired_bootstrap({"a": made, "b": made[1:]})

"""Active learning's choice of texts (issue 21): least sure first by margin or entropy, never near-repeats of one
doubt, with a reason a person can read."""

from __future__ import annotations

import numpy as np
import pytest

from core.training.uncertainty import most_uncertain, uncertainty

CLASSES = ["sports", "travel", "health"]
PROBA = np.array(
    [
        [0.90, 0.05, 0.05],  # sure
        [0.45, 0.44, 0.11],  # torn between two
        [0.34, 0.33, 0.33],  # unsure of everything
        [0.60, 0.30, 0.10],
    ]
)


def test_margin_puts_the_text_torn_between_two_first_and_entropy_the_one_unsure_of_all() -> None:
    assert np.allclose(uncertainty(PROBA, "margin"), [0.85, 0.01, 0.01, 0.30])
    assert [u.position for u in most_uncertain(PROBA, CLASSES, 2)] == [1, 2]  # ties keep their order
    assert [u.position for u in most_uncertain(PROBA, CLASSES, 4, measure="entropy")] == [2, 1, 3, 0]
    with pytest.raises(ValueError):
        uncertainty(PROBA, "confusion")


def test_a_near_repeat_of_a_picked_text_is_skipped() -> None:
    vectors = np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 1.0], [0.6, 0.8]])  # rows 1 and 2: the same text
    picked = most_uncertain(PROBA, CLASSES, 3, vectors=vectors)
    assert [u.position for u in picked] == [1, 3, 0]


def test_the_reason_names_the_two_labels_the_model_hesitates_between() -> None:
    [first] = most_uncertain(PROBA, CLASSES, 1)
    assert (first.top, first.second) == ("sports", "travel")
    assert first.reason() == ("The model is torn: “sports” 0.45, “travel” 0.44. A person's label here teaches it most.")

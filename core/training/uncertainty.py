"""Where a human label pays most (active learning): the texts the current model is least sure of.

Uncertainty is the margin between the model's two most probable labels (small: torn between two) or the entropy
of its probabilities (high: unsure of everything). Picking by uncertainty alone picks the same doubt many times
over (near-repeats of one confusing text), so a pick skips a text too close to one picked already.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MEASURES = ("margin", "entropy")
TOO_CLOSE = 0.95  # cosine: a text this close to one picked already adds little


@dataclass(frozen=True)
class Uncertain:
    position: int
    score: float  # the lower, the less sure the model is (margin; or minus the entropy)
    top: str
    top_probability: float
    second: str
    second_probability: float

    def reason(self) -> str:
        return (
            f"The model is torn: “{self.top}” {self.top_probability:.2f}, “{self.second}” "
            f"{self.second_probability:.2f}. A person's label here teaches it most."
        )


def uncertainty(proba: np.ndarray, measure: str = "margin") -> np.ndarray:
    """One score per row, lower = less sure: the margin between the two best labels, or minus the entropy."""
    if measure not in MEASURES:
        raise ValueError(f"unknown measure {measure!r}")
    if proba.shape[1] < 2:
        return np.ones(len(proba))
    if measure == "margin":
        two = np.partition(proba, -2, axis=1)[:, -2:]
        return two[:, 1] - two[:, 0]
    clipped = np.clip(proba, 1e-12, 1.0)
    return (clipped * np.log(clipped)).sum(axis=1)  # minus the entropy


def most_uncertain(
    proba: np.ndarray,
    classes: list[str],
    count: int,
    *,
    vectors: np.ndarray | None = None,
    measure: str = "margin",
) -> list[Uncertain]:
    """The `count` rows the model is least sure of, least sure first; with `vectors` (normalised), none within
    TOO_CLOSE of one picked before it."""
    scores = uncertainty(proba, measure)
    picked: list[int] = []
    for row in np.argsort(scores, kind="stable"):
        if len(picked) >= count:
            break
        if vectors is not None and picked and float((vectors[picked] @ vectors[row]).max()) >= TOO_CLOSE:
            continue
        picked.append(int(row))
    result = []
    for row in picked:
        order = np.argsort(-proba[row], kind="stable")
        second = int(order[1]) if len(order) > 1 else int(order[0])
        result.append(
            Uncertain(
                position=row,
                score=float(scores[row]),
                top=classes[int(order[0])],
                top_probability=float(proba[row, order[0]]),
                second=classes[second],
                second_probability=float(proba[row, second]),
            )
        )
    return result

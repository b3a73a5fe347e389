"""The `label_doubt` check: samples whose label the other samples contradict.

A cheap model (a logistic regression on the cached sentence vectors) predicts each training sample's label from
the samples of the other folds (k-fold, so no sample is judged by a model that saw it); `cleanlab` then finds the
label issues in those out-of-fold probabilities (its confident-learning filter: a sample is doubtful when the model
is surer of another label than the samples of that label usually are of their own). The flag says which label the
other samples suggest and how sure the model is; its `quality` (cleanlab's self-confidence: the probability of the
given label) orders the queue "most doubtful first": the flag's score is 1 minus it.

Each fold's model is fitted on at most `FIT_CAP` samples of the other folds, so a million samples cost five small
fits and one matrix product per sample.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from core.curation.duplicate_flags import Findings, Item

FOLDS = 5
FIT_CAP = 40_000  # samples each fold's model is fitted on, at most
MIN_PER_LABEL = 5  # a label with fewer training samples is not judged (nor suggested)
C = 1.0
# the other label must be the model's clear choice: where the labels cannot be learned from the vectors (too few
# samples, labels the texts do not show) out-of-fold probabilities are flat, and confident learning alone would
# flag a large share of the samples (41% of a million samples with random labels, measured)
MIN_SUGGESTED = 0.5
# and the model must have learnt the labels at all: below this share of the samples predicted as labelled, the
# labels are not what the vectors show, and no single sample is more doubtful than the rest
MIN_AGREEMENT = 0.5
# vectors read at a time (and their float64 copies, for the moments): 8,192 x 384 x 8 bytes = 25 MB a temporary;
# 65,536 took 200 MB each (the check's peak at 100,000 samples fell by 190 MB)
CHUNK = 8_192


@dataclass(frozen=True)
class Doubt:
    position: int  # in the samples given
    given: str
    suggested: str
    suggested_probability: float
    given_probability: float  # cleanlab's label quality (self-confidence): lower is more doubtful

    def reason(self) -> str:
        return (
            f"The other samples suggest “{self.suggested}” ({self.suggested_probability:.2f}) for this "
            f"“{self.given}” sample."
        )


def out_of_fold_probabilities(
    vectors: np.ndarray,
    targets: np.ndarray,
    classes: int,
    *,
    rows: np.ndarray | None = None,
    folds: int = FOLDS,
    seed: int = 0,
) -> np.ndarray:
    """(samples, classes) probabilities, each row from a model fitted on the other folds only. `rows`: the vectors'
    rows the targets belong to (default: all); they are read in chunks, never copied whole."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold

    rows = np.arange(len(vectors)) if rows is None else rows
    rng = np.random.default_rng(seed)
    mean, scale = _moments(vectors, rows)
    result = np.zeros((len(targets), classes), dtype=np.float64)
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    for fit_rows, judged in splitter.split(np.zeros(len(targets)), targets):
        if len(fit_rows) > FIT_CAP:
            fit_rows = np.sort(rng.choice(fit_rows, FIT_CAP, replace=False))
        model = LogisticRegression(C=C, max_iter=500)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.fit((vectors[rows[fit_rows]] - mean) / scale, targets[fit_rows])
        for start in range(0, len(judged), CHUNK):
            part = judged[start : start + CHUNK]
            result[np.ix_(part, model.classes_)] = model.predict_proba((vectors[rows[part]] - mean) / scale)
    return result


def _moments(vectors: np.ndarray, rows: np.ndarray, chunk: int = CHUNK) -> tuple[np.ndarray, np.float32]:
    """The rows' mean vector and the standard deviation of all their values (around their one mean), a chunk at a
    time: numpy's std of the whole array would make a float64 copy of it, 3 GB at a million 384-d vectors."""
    total = np.zeros(vectors.shape[1], dtype=np.float64)
    squares = 0.0
    for start in range(0, len(rows), chunk):
        part = vectors[rows[start : start + chunk]].astype(np.float64)
        total += part.sum(axis=0)
        squares += float((part * part).sum())
    count = max(len(rows), 1)
    mean = total / count
    variance = squares / (count * vectors.shape[1]) - float(mean.mean()) ** 2  # around the mean of all values
    return mean.astype(np.float32), np.float32(np.sqrt(variance) if variance > 0 else 1.0)


def find_label_doubts(
    labels: list[str], vectors: np.ndarray, *, rows: np.ndarray | None = None, seed: int = 0
) -> list[Doubt]:
    """The samples whose given label the out-of-fold model doubts, most doubtful first (`position`: the index in
    `labels`). `vectors`: normalised sentence vectors, one per label, or the rows `rows` of it. Labels with fewer
    than MIN_PER_LABEL samples are left out."""
    from cleanlab.filter import find_label_issues

    rows = np.arange(len(labels)) if rows is None else np.asarray(rows)
    names, counts = np.unique(np.asarray(labels, dtype=object), return_counts=True)
    judged_names = [str(n) for n, c in zip(names, counts, strict=True) if c >= MIN_PER_LABEL]
    if len(judged_names) < 2:
        return []
    index = {name: i for i, name in enumerate(judged_names)}
    positions = np.array([p for p, label in enumerate(labels) if label in index])
    targets = np.array([index[labels[p]] for p in positions])
    folds = min(FOLDS, int(np.bincount(targets).min()))
    proba = out_of_fold_probabilities(vectors, targets, len(judged_names), rows=rows[positions], folds=folds, seed=seed)
    proba = np.clip(proba, 1e-9, 1.0)
    proba /= proba.sum(axis=1, keepdims=True)
    if float((proba.argmax(axis=1) == targets).mean()) < MIN_AGREEMENT:
        return []
    issues = find_label_issues(targets, proba, filter_by="prune_by_noise_rate", n_jobs=1)
    doubts = []
    for row in np.flatnonzero(issues):
        suggested = int(proba[row].argmax())
        if suggested == targets[row] or proba[row, suggested] < MIN_SUGGESTED:
            continue
        doubts.append(
            Doubt(
                position=int(positions[row]),
                given=judged_names[targets[row]],
                suggested=judged_names[suggested],
                suggested_probability=float(proba[row, suggested]),
                given_probability=float(proba[row, targets[row]]),
            )
        )
    return sorted(doubts, key=lambda d: (d.given_probability, d.position))


def find_label_doubt_flags(items: list[Item], vectors: np.ndarray, findings: Findings) -> int:
    """Flag `label_doubt` on the labelled TRAIN samples the others contradict (test samples are never judged: the
    evaluation must not be tuned to them). Returns how many were flagged."""
    judged = [p for p, i in enumerate(items) if i.split == "train" and i.label]
    doubts = find_label_doubts([str(items[p].label) for p in judged], vectors, rows=np.asarray(judged, dtype=np.int64))
    for rank, doubt in enumerate(doubts):
        findings.add(
            items[judged[doubt.position]].id,
            "label_doubt",
            doubt.reason(),
            suggested=doubt.suggested,
            probability=round(doubt.suggested_probability, 4),
            given_probability=round(doubt.given_probability, 4),
            rank=rank,  # 0: the most doubtful
            score=1.0 - doubt.given_probability,  # the queue "most doubtful first" (core/store/ranked_queue.py)
        )
    return len(doubts)

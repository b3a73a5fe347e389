"""Paired, seeded bootstrap confidence intervals on macro-F1 and on differences of macro-F1.

Paired: every evaluation is scored on the SAME resampled test samples (they must share their test samples), so a
difference's interval reflects the models, not luck in the draw. Resampling is done within each language
(n draws with replacement from its n test samples); the mean over languages uses those same draws. The seed fixes
every draw: the same inputs and seed give the same intervals. Each evaluation's macro-F1 keeps its own definition
on every resample (the labels it scored on the full test set), so the point estimate is the full-sample figure.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from core.evaluation.metrics import Prediction, ordered_labels

MEAN = "mean"  # the group holding the mean of the languages' macro-F1
RESAMPLES = 1000
CHUNK = 100  # resamples scored at once (bounds the memory)


@dataclass(frozen=True)
class Interval:
    estimate: float
    low: float
    high: float


@dataclass(frozen=True)
class Difference:
    """`estimate` = this evaluation's macro-F1 minus the reference's; `share_better` = the share of resamples in
    which this one scored higher."""

    estimate: float
    low: float
    high: float
    share_better: float

    @property
    def clear(self) -> bool:
        """The interval excludes 0: a difference a test set like this one would show again."""
        return self.low > 0 or self.high < 0

    @property
    def verdict(self) -> str:
        if not self.clear:
            return "no clear difference"
        return "better" if self.estimate > 0 else "worse"


@dataclass(frozen=True)
class BootstrapResult:
    names: list[str]
    groups: list[str]  # the languages, then MEAN
    reference: str
    scores: dict[str, dict[str, Interval]]  # {name: {group: macro-F1 interval}}
    differences: dict[str, dict[str, Difference]]  # {name other than the reference: {group: name - reference}}
    resamples: int
    seed: int
    confidence: float


def _aligned(sets: Mapping[str, Sequence[Prediction]]) -> dict[str, list[Prediction]]:
    aligned = {name: sorted(predictions, key=lambda p: p.sample_id) for name, predictions in sets.items()}
    ids = [[p.sample_id for p in predictions] for predictions in aligned.values()]
    if any(other != ids[0] for other in ids[1:]):
        raise ValueError("paired bootstrap needs evaluations of the same test samples")
    return aligned


def _macro_f1(truth: np.ndarray, predicted: np.ndarray, scored: np.ndarray, width: int) -> np.ndarray:
    """Macro-F1 of each row (one resample per row) over the label columns `scored`; code `width - 1` = no label."""
    rows = truth.shape[0]
    offsets = (np.arange(rows, dtype=np.int64) * width)[:, None]
    size = rows * width
    true_n = np.bincount((truth + offsets).ravel(), minlength=size).reshape(rows, width)
    pred_n = np.bincount((predicted + offsets).ravel(), minlength=size).reshape(rows, width)
    hits = np.bincount((truth + offsets)[truth == predicted], minlength=size).reshape(rows, width)
    denominator = true_n + pred_n
    f1 = np.divide(2.0 * hits, denominator, out=np.zeros(denominator.shape), where=denominator > 0)
    return f1[:, scored].mean(axis=1) if len(scored) else np.zeros(rows)


def paired_bootstrap(
    sets: Mapping[str, Sequence[Prediction]],
    *,
    reference: str | None = None,
    resamples: int = RESAMPLES,
    seed: int = 0,
    confidence: float = 0.95,
    label_order: Sequence[str] = (),
    language_order: Sequence[str] = (),
) -> BootstrapResult:
    """Intervals of each evaluation's macro-F1 per language and for the mean, and of each one's difference with the
    reference (default: the first)."""
    if not sets:
        raise ValueError("nothing to bootstrap")
    aligned = _aligned(sets)
    names = list(aligned)
    reference = reference if reference is not None else names[0]
    if reference not in aligned:
        raise ValueError(f"unknown reference {reference!r}")
    first = aligned[names[0]]
    languages = ordered_labels({p.language for p in first}, language_order)  # the project's order, then the rest
    all_labels = ordered_labels(
        {p.true_label for p in first} | {p.predicted for s in aligned.values() for p in s if p.predicted}, label_order
    )
    code = {label: i for i, label in enumerate(all_labels)}
    width = len(all_labels) + 1
    truth = np.array([code[p.true_label] for p in first], dtype=np.int64)
    predicted = {
        name: np.array([code[p.predicted] if p.predicted else width - 1 for p in s], dtype=np.int64)
        for name, s in aligned.items()
    }
    language_of = np.array([p.language for p in first])
    rng = np.random.default_rng(seed)
    full: dict[str, dict[str, float]] = {name: {} for name in names}
    draws: dict[str, dict[str, np.ndarray]] = {name: {} for name in names}
    for language in languages:
        at = np.flatnonzero(language_of == language)
        picks = rng.integers(0, len(at), size=(resamples, len(at)))
        t_full = truth[at]
        for name in names:
            p_full = predicted[name][at]
            present = set(t_full.tolist()) | set(p_full.tolist())
            scored = np.array(sorted(present - {width - 1}), dtype=np.int64)
            full[name][language] = float(_macro_f1(t_full[None, :], p_full[None, :], scored, width)[0])
            chunks = [
                _macro_f1(t_full[picks[s : s + CHUNK]], p_full[picks[s : s + CHUNK]], scored, width)
                for s in range(0, resamples, CHUNK)
            ]
            draws[name][language] = np.concatenate(chunks)
    for name in names:
        full[name][MEAN] = float(np.mean([full[name][g] for g in languages]))
        draws[name][MEAN] = np.mean([draws[name][g] for g in languages], axis=0)
    groups = [*languages, MEAN]
    tail = (1.0 - confidence) / 2 * 100
    bounds = (tail, 100 - tail)

    def interval(values: np.ndarray, estimate: float) -> Interval:
        low, high = np.percentile(values, bounds)
        return Interval(estimate, float(low), float(high))

    scores = {name: {g: interval(draws[name][g], full[name][g]) for g in groups} for name in names}
    differences: dict[str, dict[str, Difference]] = {}
    for name in names:
        if name == reference:
            continue
        differences[name] = {}
        for g in groups:
            delta = draws[name][g] - draws[reference][g]
            low, high = np.percentile(delta, bounds)
            differences[name][g] = Difference(
                full[name][g] - full[reference][g], float(low), float(high), float(np.mean(delta > 0))
            )
    return BootstrapResult(names, groups, reference, scores, differences, resamples, seed, confidence)

"""Agreement between annotators, from their judgements: Cohen's kappa for each pair of annotators
(`sklearn.metrics.cohen_kappa_score`) and Krippendorff's alpha, nominal, over everyone (the `krippendorff`
package), overall, per language and per label, each with the number of items behind it and a 95% bootstrap
interval (items resampled); each annotator's agreement with what the review decided, their throughput and, when
the project has gold samples, their accuracy on them.

A judgement's value is what it says of the sample: "rejected", or the label it gives (accepting or editing a
sample gives it the label it has). The items are the samples; the label an item counts under is the one the sample
had when it was judged. The export's `judgements` column carries all of it, so the figures can be recomputed.
"""

from __future__ import annotations

import statistics
import warnings
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from itertools import combinations
from typing import Any

import krippendorff
import numpy as np
from sklearn.metrics import cohen_kappa_score

from core.review.gold import gold_accuracy
from core.store import judgements as stored
from core.store.database import Store
from core.store.judgements import Outcome, ProjectJudgement

RESAMPLES = 500
NO_LABEL = "(no label)"


@dataclass(frozen=True)
class Figure:
    """An agreement figure: None when the items cannot give one (too few, or a single value everywhere)."""

    value: float | None
    low: float | None  # 95% bootstrap interval
    high: float | None
    n_items: int

    def interval(self) -> list[float] | None:
        return None if self.low is None or self.high is None else [self.low, self.high]


@dataclass(frozen=True)
class PairKappa:
    a: str
    b: str
    kappa: Figure


@dataclass(frozen=True)
class GroupAgreement:
    alpha: Figure
    pairs: list[PairKappa]
    n_judgements: int

    def to_public(self) -> dict[str, Any]:
        return {
            "alpha": self.alpha.value,
            "alpha_interval": self.alpha.interval(),
            "n_items": self.alpha.n_items,
            "n_judgements": self.n_judgements,
            "pairs": [
                {
                    "annotators": [pair.a, pair.b],
                    "kappa": pair.kappa.value,
                    "kappa_interval": pair.kappa.interval(),
                    "n_items": pair.kappa.n_items,
                }
                for pair in self.pairs
            ],
        }


@dataclass(frozen=True)
class AnnotatorFigures:
    annotator: str
    judgements: int
    agreement_with_resolved: float | None  # share of their judgements that match what the review decided
    n_resolved: int  # their judgements of samples the review decided
    judgements_per_hour: float | None  # over the time their timed judgements took
    median_seconds: float | None
    gold_accuracy: float | None
    n_gold: int


@dataclass(frozen=True)
class AgreementReport:
    overall: GroupAgreement
    per_language: dict[str, GroupAgreement]
    per_label: dict[str, GroupAgreement]
    annotators: list[AnnotatorFigures]
    resamples: int

    @property
    def n_items(self) -> int:
        return self.overall.alpha.n_items

    def to_public(self) -> dict[str, Any]:
        """The CLI's `agreement --json` shape (a public contract: `alpha`, `pairs` with `kappa`, `per_language`,
        `n_items`)."""
        return {
            **self.overall.to_public(),
            "per_language": {code: group.to_public() for code, group in self.per_language.items()},
            "per_label": {label: group.to_public() for label, group in self.per_label.items()},
            "annotators": [asdict(figures) for figures in self.annotators],
            "resamples": self.resamples,
        }


def _finite(value: float) -> float | None:
    return float(value) if np.isfinite(value) else None


def _interval(values: np.ndarray) -> tuple[float | None, float | None]:
    kept = values[np.isfinite(values)]
    if len(kept) < 10:
        return None, None
    low, high = np.percentile(kept, [2.5, 97.5])
    return float(low), float(high)


def kappa_figure(a: Sequence[int], b: Sequence[int], categories: int, resamples: int, seed: int = 0) -> Figure:
    """Cohen's kappa of two annotators over the items both judged (sklearn), with a bootstrap interval: resampling
    the items is drawing the pair's confusion counts from a multinomial, evaluated for all resamples at once."""
    n = len(a)
    if n < 2:
        return Figure(None, None, None, n)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        value = _finite(cohen_kappa_score(a, b))
    if value is None or resamples <= 0:
        return Figure(value, None, None, n)
    cells = np.bincount(np.asarray(a) * categories + np.asarray(b), minlength=categories * categories)
    draws = np.random.default_rng(seed).multinomial(n, cells / n, size=resamples).reshape(-1, categories, categories)
    observed = np.trace(draws, axis1=1, axis2=2) / n
    expected = (draws.sum(axis=2) * draws.sum(axis=1)).sum(axis=1) / (n * n)
    with np.errstate(divide="ignore", invalid="ignore"):
        kappas = (observed - expected) / (1 - expected)
    low, high = _interval(kappas)
    return Figure(value, low, high, n)


def _alpha(counts: np.ndarray) -> float | None:
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")  # a single value everywhere: no expected disagreement, no alpha
            return _finite(krippendorff.alpha(value_counts=counts, level_of_measurement="nominal"))
    except (ValueError, ZeroDivisionError):
        return None


def alpha_figure(counts: np.ndarray, resamples: int, seed: int = 0) -> Figure:
    """Krippendorff's alpha (nominal) of items x values counts (the krippendorff package), over the items with at
    least two judgements, with a bootstrap interval (items resampled)."""
    pairable = counts[counts.sum(axis=1) >= 2]
    n = len(pairable)
    value = _alpha(pairable) if n else None
    if value is None or resamples <= 0:
        return Figure(value, None, None, n)
    rng = np.random.default_rng(seed)
    values = np.array([_alpha(pairable[rng.integers(0, n, n)]) for _ in range(resamples)], dtype=float)
    low, high = _interval(values)
    return Figure(value, low, high, n)


def _group(entries: Sequence[ProjectJudgement], codes: dict[Outcome, int], resamples: int) -> GroupAgreement:
    ratings: dict[int, dict[str, int]] = defaultdict(dict)
    for entry in entries:
        ratings[entry.judgement.sample_id][entry.judgement.annotator] = codes[entry.judgement.outcome]
    counts = np.zeros((len(ratings), len(codes)), dtype=float)
    for row, given in enumerate(ratings.values()):
        for code in given.values():
            counts[row, code] += 1
    annotators = sorted({name for given in ratings.values() for name in given})
    pairs = []
    for first, second in combinations(annotators, 2):
        both = [(given[first], given[second]) for given in ratings.values() if first in given and second in given]
        if not both:
            continue
        a, b = zip(*both, strict=True)
        pairs.append(PairKappa(first, second, kappa_figure(a, b, len(codes), resamples)))
    return GroupAgreement(alpha_figure(counts, resamples), pairs, len(entries))


def _annotator_figures(
    entries: Sequence[ProjectJudgement], outcomes: dict[int, Outcome], gold: dict[str, tuple[int, int]]
) -> list[AnnotatorFigures]:
    by_annotator: dict[str, list[ProjectJudgement]] = defaultdict(list)
    for entry in entries:
        by_annotator[entry.judgement.annotator].append(entry)
    for name in gold:
        by_annotator.setdefault(name, [])
    figures = []
    for name, own in sorted(by_annotator.items()):
        decided = [e for e in own if not e.judgement.gold and e.judgement.sample_id in outcomes]
        matching = sum(e.judgement.outcome == outcomes[e.judgement.sample_id] for e in decided)
        timed = [e.judgement.seconds for e in own if e.judgement.seconds is not None]
        correct, checked = gold.get(name, (0, 0))
        figures.append(
            AnnotatorFigures(
                annotator=name,
                judgements=len(own),
                agreement_with_resolved=matching / len(decided) if decided else None,
                n_resolved=len(decided),
                judgements_per_hour=len(timed) * 3600 / sum(timed) if timed and sum(timed) > 0 else None,
                median_seconds=statistics.median(timed) if timed else None,
                gold_accuracy=correct / checked if checked else None,
                n_gold=checked,
            )
        )
    return figures


def agreement_report(store: Store, project_id: int, *, resamples: int = RESAMPLES) -> AgreementReport:
    """Every figure of the project's agreement, from its judgements (gold checks included: they are judgements of
    samples like any other)."""
    entries = stored.project_judgements(store, project_id)
    values = sorted({entry.judgement.outcome for entry in entries}, key=lambda o: (o[0], o[1] or ""))
    codes = {outcome: code for code, outcome in enumerate(values)}
    by_language: dict[str, list[ProjectJudgement]] = defaultdict(list)
    by_label: dict[str, list[ProjectJudgement]] = defaultdict(list)
    item_label: dict[int, str] = {}
    for entry in entries:
        by_language[entry.language].append(entry)
        label = item_label.setdefault(entry.judgement.sample_id, entry.judgement.shown_label or NO_LABEL)
        by_label[label].append(entry)
    accuracy = {row.annotator: (row.correct, row.checked) for row in gold_accuracy(store, project_id)}
    return AgreementReport(
        overall=_group(entries, codes, resamples),
        per_language={code: _group(group, codes, resamples) for code, group in sorted(by_language.items())},
        per_label={label: _group(group, codes, resamples) for label, group in sorted(by_label.items())},
        annotators=_annotator_figures(entries, stored.final_outcomes(store, project_id), accuracy),
        resamples=resamples,
    )

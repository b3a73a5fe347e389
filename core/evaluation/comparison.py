"""Runs and baselines side by side per language, with paired bootstrap intervals on macro-F1 and on differences.

Only evaluations of the same test set (same hash of test-sample ids, same true labels) are compared; otherwise
`comparability` says why not, in words a person can act on.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from core.errors import InvalidInput
from core.evaluation.bootstrap import MEAN, RESAMPLES, BootstrapResult, paired_bootstrap
from core.evaluation.evaluations import Evaluation, latest_evaluation, load_predictions
from core.language_names import language_name
from core.store.database import Store
from core.store.projects import get_project


def display_name(evaluation: Evaluation) -> str:
    return evaluation.name if evaluation.point is None else f"{evaluation.name} @ {evaluation.point}"


def group_title(group: str) -> str:
    return "mean of languages" if group == MEAN else f"{language_name(group)} ({group})"


def comparability(evaluations: Sequence[Evaluation]) -> str | None:
    """None when these evaluations can be compared, else the reason why not."""
    if len(evaluations) < 2:
        return "Pick at least two evaluations to compare."
    names = [display_name(e) for e in evaluations]
    if len(set(names)) < len(names):
        return "The same evaluation is picked twice."
    first = evaluations[0]
    for other in evaluations[1:]:
        if other.test_hash != first.test_hash:
            return (
                f"'{display_name(first)}' was scored on {first.test_size:,} test samples (test set "
                f"{first.test_hash[:12]}) and '{display_name(other)}' on {other.test_size:,} (test set "
                f"{other.test_hash[:12]}): they did not see the same test samples, so their scores cannot be compared. "
                "Evaluate them again on the current test split."
            )
    return None


@dataclass(frozen=True)
class ScoreBar:
    """One evaluation's macro-F1 in one group (a language, or the mean) with its 95% interval: a bar of the chart."""

    group: str
    language: str  # the group as people read it
    evaluation: str
    macro_f1: float
    low: float
    high: float


@dataclass(frozen=True)
class ScoreDifference:
    """One evaluation against the reference in one group: the difference, its interval and a plain verdict."""

    group: str
    language: str
    evaluation: str
    reference: str
    difference: float
    low: float
    high: float
    share_better: float  # the share of resamples in which it scored higher
    verdict: str


@dataclass(frozen=True)
class Comparison:
    names: list[str]
    reference: str
    result: BootstrapResult

    @property
    def groups(self) -> list[str]:
        return self.result.groups

    def table(self) -> list[dict[str, Any]]:
        """One row per language (and the mean): each evaluation's macro-F1 with its interval, as text."""
        rows = []
        for group in self.groups:
            row: dict[str, Any] = {"language": group_title(group)}
            for name in self.names:
                s = self.result.scores[name][group]
                row[name] = f"{s.estimate:.3f} [{s.low:.3f}, {s.high:.3f}]"
            rows.append(row)
        return rows

    def bars(self) -> list[ScoreBar]:
        """The bars of a grouped bar chart with error bars, group by group."""
        return [
            ScoreBar(
                group=group,
                language=group_title(group),
                evaluation=name,
                macro_f1=self.result.scores[name][group].estimate,
                low=self.result.scores[name][group].low,
                high=self.result.scores[name][group].high,
            )
            for group in self.groups
            for name in self.names
        ]

    def differences(self) -> list[ScoreDifference]:
        """Each evaluation against the reference per language: the difference, its interval and a plain verdict."""
        return [
            ScoreDifference(
                group=group,
                language=group_title(group),
                evaluation=name,
                reference=self.reference,
                difference=by_group[group].estimate,
                low=by_group[group].low,
                high=by_group[group].high,
                share_better=by_group[group].share_better,
                verdict=by_group[group].verdict,
            )
            for name, by_group in self.result.differences.items()
            for group in self.groups
        ]

    def chart_rows(self) -> list[dict[str, Any]]:
        """`bars` as long rows: group, language, evaluation, macro_f1, low, high."""
        return [asdict(bar) for bar in self.bars()]

    def difference_rows(self) -> list[dict[str, Any]]:
        """`differences` as rows."""
        return [asdict(difference) for difference in self.differences()]

    def to_dict(self) -> dict[str, Any]:
        return {
            "evaluations": self.names,
            "reference": self.reference,
            "resamples": self.result.resamples,
            "seed": self.result.seed,
            "confidence": self.result.confidence,
            "scores": self.chart_rows(),
            "differences": self.difference_rows(),
        }


def compare(
    store: Store,
    evaluations: Sequence[Evaluation],
    *,
    reference: str | None = None,
    resamples: int = RESAMPLES,
    seed: int = 0,
) -> Comparison:
    """Raises InvalidInput with the reason when they cannot be compared (see `comparability`)."""
    reason = comparability(evaluations)
    if reason:
        raise InvalidInput(reason)
    names = [display_name(e) for e in evaluations]
    if reference is not None and reference not in names:
        raise InvalidInput(f"The reference '{reference}' is not among the evaluations compared: {', '.join(names)}.")
    sets = {name: load_predictions(store, e.id) for name, e in zip(names, evaluations, strict=True)}
    truths = {name: {p.sample_id: p.true_label for p in predictions} for name, predictions in sets.items()}
    for name in names[1:]:
        changed = sum(1 for i, label in truths[names[0]].items() if truths[name].get(i) != label)
        if changed:
            raise InvalidInput(
                f"{changed} test samples had another label when '{name}' was scored than when '{names[0]}' was: "
                "evaluate both again on the current test split."
            )
    project = get_project(store, evaluations[0].project_id)
    result = paired_bootstrap(
        sets,
        reference=reference or names[0],
        resamples=resamples,
        seed=seed,
        label_order=project.label_names,
        language_order=project.language_codes,
    )
    return Comparison(names, reference or names[0], result)


def compare_by_name(
    store: Store,
    project_ref: int | str,
    names: Sequence[str],
    *,
    reference: str | None = None,
    resamples: int = RESAMPLES,
    seed: int = 0,
) -> Comparison:
    """The newest evaluation of each named run or baseline, compared."""
    project = get_project(store, project_ref)
    evaluations = [latest_evaluation(store, project.id, name) for name in names]
    return compare(store, evaluations, reference=reference, resamples=resamples, seed=seed)

"""Per language: what the next 100 synthetic or 10 human samples are likely to buy, from the project's own
learning curves (a finished curve run trained on synthetic samples only, and one on human samples only), at the
number of samples the language has now. See core/evaluation/data_budget.py for the fit and the interval."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from core.evaluation.data_budget import Gain, expected_gain
from core.store.database import Store
from core.store.projects import Project
from core.store.training_runs import TrainingRun
from core.training.run_store import list_runs

NEXT_SYNTHETIC = 100
NEXT_HUMAN = 10


@dataclass(frozen=True)
class LanguageAdvice:
    language: str
    synthetic_now: int  # accepted synthetic TRAIN samples of the language
    synthetic: Gain | None  # None: no synthetic learning curve with two sizes of this language yet
    human_now: int
    human: Gain | None
    synthetic_run: str | None  # the curve runs the figures come from
    human_run: str | None

    def better_buy(self) -> str | None:
        """ "synthetic", "human" or None (unknown or too close to call: the intervals overlap)."""
        if self.synthetic is None or self.human is None:
            return None
        if self.human.low > self.synthetic.high:
            return "human"
        if self.synthetic.low > self.human.high:
            return "synthetic"
        return None


def _origins(run: TrainingRun) -> tuple[str, ...]:
    return tuple(sorted(run.options.get("origins") or ()))


def newest_curve(runs: list[TrainingRun], origin: str) -> TrainingRun | None:
    """The newest finished learning-curve run trained on samples of this origin only."""
    for run in runs:  # newest first
        if run.status == "done" and run.mode == "curve" and _origins(run) == (origin,) and len(run.curve) >= 2:
            return run
    return None


def _points(run: TrainingRun, language: str) -> tuple[list[int], list[float], int]:
    """(samples of the language at each point, its macro-F1 there, its test samples)."""
    sizes, scores = [], []
    for point in run.curve:
        f1 = (point.get("test_macro_f1") or {}).get(language)
        count = (point.get("per_language") or {}).get(language)
        if f1 is not None and count:
            sizes.append(int(count))
            scores.append(float(f1))
    test: dict[str, Any] = ((run.metrics or {}).get("test") or {}).get("languages", {}).get(language) or {}
    return sizes, scores, int(test.get("samples") or 0)


def _gain(run: TrainingRun | None, language: str, now: int, extra: int) -> Gain | None:
    if run is None:
        return None
    sizes, scores, tests = _points(run, language)
    if len(set(sizes)) < 2 or not tests:
        return None
    return expected_gain(sizes, scores, max(now, 1), extra, tests)


def budget_advice(store: Store, project: Project, counts: dict[tuple[str, str], int]) -> list[LanguageAdvice]:
    """One row per project language. `counts`: accepted TRAIN samples per (language, origin)."""
    runs = list_runs(store, project.id)
    synthetic_run, human_run = newest_curve(runs, "synthetic"), newest_curve(runs, "human")
    rows = []
    for language in project.language_codes:
        synthetic_now = counts.get((language, "synthetic"), 0)
        human_now = counts.get((language, "human"), 0)
        rows.append(
            LanguageAdvice(
                language=language,
                synthetic_now=synthetic_now,
                synthetic=_gain(synthetic_run, language, synthetic_now, NEXT_SYNTHETIC),
                human_now=human_now,
                human=_gain(human_run, language, human_now, NEXT_HUMAN),
                synthetic_run=synthetic_run.name if synthetic_run else None,
                human_run=human_run.name if human_run else None,
            )
        )
    return rows

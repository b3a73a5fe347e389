"""How sure an evaluation's scores are: a bootstrap interval of each language's macro-F1 (and of the pooled one),
and a plain warning for languages with too few test samples for their score to mean much.

Why 30 (MIN_TEST_SAMPLES): with fewer test samples in a language, one sample more or less moves its accuracy by
more than 0.03, and the 95% interval of an accuracy near 0.8 is wider than +-0.14: the differences between
models that matter (a few points) cannot be seen. A perfect score says least of all: no mistake on n samples only
shows that the model is wrong on fewer than about 3/n of such texts (the "rule of three", 95% confidence): 10% at
30 samples, half of them at 6. And the bootstrap interval cannot warn by itself: resampling 6 right answers only
ever gives right answers, so its width then comes from labels a resample happens to miss, not from how often the
model could be wrong.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from core.evaluation.bootstrap import RESAMPLES, paired_bootstrap
from core.evaluation.metrics import OVERALL, Prediction
from core.language_names import language_name
from core.store.evaluations import Evaluation

MIN_TEST_SAMPLES = 30
PERFECT_NOTE_BELOW = 0.01  # a perfect score gets its note while 3/n is at least 1% (up to 300 test samples)
NAME = "evaluation"


@dataclass(frozen=True)
class ScoreInterval:
    group: str  # a language code, or OVERALL (every test sample pooled)
    estimate: float  # the macro-F1 on the whole test split
    low: float
    high: float
    samples: int

    @property
    def text(self) -> str:
        return f"{self.low:.3f} – {self.high:.3f}"


def score_intervals(
    evaluation: Evaluation, predictions: list[Prediction], *, resamples: int = RESAMPLES, seed: int = 0
) -> dict[str, ScoreInterval]:
    """95% bootstrap intervals of the macro-F1 of each language of the evaluation and of the pooled test split
    (the test samples of each language drawn again with replacement, `resamples` times, with a fixed seed)."""
    if not predictions:
        return {}
    labels = evaluation.overall.get("labels", [])
    by_language = paired_bootstrap(
        {NAME: predictions}, resamples=resamples, seed=seed, label_order=labels, language_order=evaluation.languages
    ).scores[NAME]
    pooled = paired_bootstrap(
        {NAME: [replace(p, language=OVERALL) for p in predictions]}, resamples=resamples, seed=seed, label_order=labels
    ).scores[NAME][OVERALL]
    result = {}
    for group, interval in [*((code, by_language[code]) for code in evaluation.languages), (OVERALL, pooled)]:
        samples = int(evaluation.metrics[group]["n"])
        result[group] = ScoreInterval(group, interval.estimate, interval.low, interval.high, samples)
    return result


def small_test_warnings(evaluation: Evaluation) -> list[str]:
    """One plain sentence per language with fewer than MIN_TEST_SAMPLES test samples (none: an empty list)."""
    warnings = []
    for code in evaluation.languages:
        n = int(evaluation.metrics[code]["n"])
        if n >= MIN_TEST_SAMPLES:
            continue
        few = "1 test sample" if n == 1 else f"{n} test samples"
        if 3 / n < 1:
            perfect = (
                f"even no mistake at all on {n} samples only shows that the model is wrong on fewer than about "
                f"{3 / n:.0%} of such texts"
            )
        else:
            perfect = "even no mistake at all on so few shows almost nothing"
        warnings.append(
            f"{language_name(code)} has only {few}: its scores mean little. One sample more or less moves its "
            f"accuracy by {1 / n:.2f}, and {perfect}. Add human test samples: {MIN_TEST_SAMPLES} or more per language."
        )
    return warnings


def perfect_score_notes(evaluation: Evaluation) -> list[str]:
    """A plain note for each language scored without a single mistake on enough test samples not to be warned
    about: what "perfect" shows there (the rule of three), which its interval cannot show."""
    notes = []
    for code in evaluation.languages:
        group = evaluation.metrics[code]
        n = int(group["n"])
        if n < MIN_TEST_SAMPLES or float(group["accuracy"]) < 1.0 or 3 / n < PERFECT_NOTE_BELOW:
            continue
        notes.append(
            f"{language_name(code)}: no mistake on {n:,} test samples. That only shows that the model is wrong on "
            f"fewer than about {3 / n:.0%} of such texts; its interval cannot show it (resampling right answers only "
            "gives right answers)."
        )
    return notes

"""Where a project stands in the loop, and the one step to take next: the first screen a newcomer reads.

The loop: test samples written by people (what every score is measured on) -> synthetic samples from an LLM -> the
checks -> review -> a trained model -> its per-language scores -> more samples where it is weak. Each step says
what is there now, per language where that matters, and whether it is done; the suggestion is the first step that
is not, in that order (a score needs a test split, a model needs accepted samples, ...).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from core.curation.overview import flag_counts, last_check
from core.evaluation.error_cells import weak_cells
from core.evaluation.evaluations import Evaluation, latest_evaluations
from core.evaluation.metrics import OVERALL
from core.language_names import language_name
from core.store.database import Store
from core.store.projects import Project
from core.store.sample_stats import grouped_counts
from core.store.sample_texts import newest_sample_time
from core.store.samples import SampleFilter, count_samples
from core.training.run_store import list_runs

StepState = Literal["done", "todo", "attention"]
PAGES = {
    "test": "pages/data.py",
    "generate": "pages/generate.py",
    "check": "pages/curate.py",
    "review": "pages/curate.py",
    "train": "pages/train.py",
    "evaluate": "pages/evaluate.py",
    "improve": "pages/evaluate.py",
}


@dataclass(frozen=True)
class Step:
    key: str  # test | generate | check | review | train | evaluate | improve
    title: str
    state: StepState
    summary: str  # what is there now, in a line
    per_language: dict[str, str] = field(default_factory=dict)  # code -> a count or a score, as text
    next_action: str = ""  # what to do when this is the step to take next

    @property
    def page(self) -> str:
        return PAGES[self.key]


@dataclass(frozen=True)
class LoopStatus:
    steps: list[Step]

    @property
    def next_step(self) -> Step:
        """The first step that is not done (attention before todo when both come before it); the last one when all
        are done: improving where the model is weak never ends."""
        return next((step for step in self.steps if step.state != "done"), self.steps[-1])


def loop_status(store: Store, project: Project) -> LoopStatus:
    counts = _language_counts(store, project)
    codes = project.language_codes
    evaluation = _latest_run_evaluation(store, project.id)
    steps = [
        _test_step(codes, counts),
        _generate_step(codes, counts),
        _check_step(store, project),
        _review_step(store, project, codes, counts),
        _train_step(store, project),
        _evaluate_step(codes, evaluation),
        _improve_step(evaluation),
    ]
    return LoopStatus(steps)


def _language_counts(store: Store, project: Project) -> dict[str, Counter[str]]:
    """Per language: "human test", "synthetic train", ... and the statuses of the train split."""
    counts: dict[str, Counter[str]] = {code: Counter() for code in project.language_codes}
    for language, origin, split, status, n in grouped_counts(store, project.id):
        counter = counts.setdefault(language, Counter())
        counter[f"{origin} {split}"] += n
        if split == "train":
            counter[status] += n
    return counts


def _per_language(codes: list[str], counts: dict[str, Counter[str]], key: str) -> dict[str, str]:
    return {code: f"{counts.get(code, Counter())[key]:,}" for code in codes}


def _names(codes: list[str]) -> str:
    return ", ".join(language_name(code) for code in codes)


def _test_step(codes: list[str], counts: dict[str, Counter[str]]) -> Step:
    missing = [code for code in codes if not counts.get(code, Counter())["human test"]]
    total = sum(counts.get(code, Counter())["human test"] for code in codes)
    if not missing:
        state: StepState = "done"
    else:
        state = "attention" if total else "todo"
    return Step(
        "test",
        "Test samples by people",
        state,
        f"{total:,} human test samples" + (f"; none yet in {_names(missing)}" if missing else ""),
        _per_language(codes, counts, "human test"),
        "Import texts labelled by people as the test split (Data → Import, split: test): every score is measured "
        "on them, and they never go into prompts or training."
        + (f" Missing: {_names(missing)}." if missing and total else ""),
    )


def _generate_step(codes: list[str], counts: dict[str, Counter[str]]) -> Step:
    missing = [code for code in codes if not counts.get(code, Counter())["synthetic train"]]
    total = sum(counts.get(code, Counter())["synthetic train"] for code in codes)
    state: StepState = "done" if not missing else ("attention" if total else "todo")
    return Step(
        "generate",
        "Samples from an LLM",
        state,
        f"{total:,} synthetic samples" + (f"; none yet in {_names(missing)}" if missing else ""),
        _per_language(codes, counts, "synthetic train"),
        "Generate labelled samples with an LLM (Generate): a server with a key, a local server such as Ollama, or "
        "the recorded answers of the demo." + (f" Missing: {_names(missing)}." if missing and total else ""),
    )


def _check_step(store: Store, project: Project) -> Step:
    check = last_check(store, project.id)
    flags = flag_counts(store, project.id)
    newest = newest_sample_time(store, project.id)
    if check is None:
        return Step(
            "check",
            "Checks",
            "todo",
            "not run yet",
            next_action="Run the checks (Curate → Check samples): repeats, wrong language, label names in the text, "
            "texts that are no message.",
        )
    finished = check.finished_at if isinstance(check.finished_at, datetime) else None
    stale = bool(finished and newest and newest > finished)
    flagged = sum(flags.values())
    return Step(
        "check",
        "Checks",
        "attention" if stale else "done",
        (f"last run {finished:%Y-%m-%d %H:%M} UTC" if finished else "run")
        + f"; {flagged:,} flags on samples not rejected"
        + ("; samples were added since" if stale else ""),
        next_action="Run the checks again (Curate → Check samples): samples were added since the last check.",
    )


def _review_step(store: Store, project: Project, codes: list[str], counts: dict[str, Counter[str]]) -> Step:
    pending = sum(counts.get(code, Counter())["pending"] for code in codes)
    flagged = count_samples(store, project.id, SampleFilter(statuses=("pending",), flags=("any",), splits=("train",)))
    accepted = sum(counts.get(code, Counter())["accepted"] for code in codes)
    state: StepState = "attention" if pending else ("done" if accepted else "todo")
    return Step(
        "review",
        "Review",
        state,
        f"{accepted:,} accepted for training, {pending:,} to review ({flagged:,} of them flagged)",
        _per_language(codes, counts, "accepted"),
        (
            f"Review the {pending:,} pending samples (Curate → Review; the {flagged:,} flagged ones first): a "
            "model learns only from accepted samples, unless you tick *Also pending samples* on the Train page."
        )
        if pending
        else "Generate or import samples to review.",
    )


def _train_step(store: Store, project: Project) -> Step:
    runs = list_runs(store, project.id)
    done = [run for run in runs if run.status == "done"]
    active = [run for run in runs if run.active]
    if active:
        return Step("train", "A small model", "attention", f"{active[0].name} is training", next_action="")
    if not done:
        return Step(
            "train",
            "A small model",
            "todo",
            "none trained yet",
            next_action="Train a first model (Train): the linear probe takes seconds.",
        )
    newest = max(done, key=lambda run: run.created_at)
    return Step("train", "A small model", "done", f"{len(done)} trained; newest: {newest.name} ({newest.trainer})")


def _latest_run_evaluation(store: Store, project_id: int) -> Evaluation | None:
    # the loop's scores are those of a small model trained here; a quick check (source "file" or "model") scores a
    # classifier from elsewhere, so it neither counts as the loop's evaluation nor points at cells to generate for
    runs = [e for e in latest_evaluations(store, project_id) if e.source == "run"]
    return max(runs, key=lambda e: e.created_at) if runs else None


def _evaluate_step(codes: list[str], evaluation: Evaluation | None) -> Step:
    if evaluation is None:
        return Step(
            "evaluate",
            "Scores per language",
            "todo",
            "no trained model evaluated yet",
            next_action="Evaluate the trained model on the human test split (Evaluate).",
        )
    scores = {code: f"{evaluation.metrics[code]['macro_f1']:.2f}" for code in codes if code in evaluation.metrics}
    return Step(
        "evaluate",
        "Scores per language",
        "done",
        f"{evaluation.name}: mean macro-F1 {evaluation.mean_macro_f1:.3f} on {evaluation.test_size:,} test samples",
        scores,
    )


def _improve_step(evaluation: Evaluation | None) -> Step:
    if evaluation is None:
        return Step("improve", "More where it is weak", "todo", "after the first scores")
    weakest = weak_cells(evaluation, top=1)
    languages = [code for code in evaluation.languages if code != OVERALL]
    worst = min(languages, key=lambda code: evaluation.metrics[code]["macro_f1"]) if languages else None
    if not weakest or worst is None:
        return Step("improve", "More where it is weak", "done", "no confusion left on the test split")
    cell = weakest[0]
    score = evaluation.metrics[worst]["macro_f1"]
    return Step(
        "improve",
        "More where it is weak",
        "attention",
        f"weakest language: {language_name(worst)} (macro-F1 {score:.2f})",
        next_action=(
            f"Generate more where the model is weak (Evaluate → Where it is weak): in {language_name(cell.language)}, "
            f"{cell.count} test samples of '{cell.true}' were taken for '{cell.predicted}'."
        ),
    )

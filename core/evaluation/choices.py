"""What can be evaluated in a project, for a picker: finished training runs and baselines, with their newest
evaluation when they have one; and which evaluation and language the Evaluate page opens on."""

from __future__ import annotations

from dataclasses import dataclass

from core.evaluation.baseline_store import list_baselines
from core.evaluation.evaluations import Evaluation, latest_evaluations
from core.store.database import Store
from core.training.run_store import list_runs

EVALUABLE_BASELINE = ("done", "incomplete")


@dataclass(frozen=True)
class Choice:
    name: str
    kind: str  # run | baseline
    detail: str  # the trainer, or the baseline's mode and model
    evaluation: Evaluation | None  # the newest one (of any curve point), None when not evaluated yet

    @property
    def label(self) -> str:
        score = f" · mean macro-F1 {self.evaluation.mean_macro_f1:.3f}" if self.evaluation else " · not evaluated yet"
        return f"{self.name} ({self.detail}){score}"


def evaluation_choices(store: Store, project_id: int) -> list[Choice]:
    """Finished runs, then finished (or incomplete) baselines, newest first."""
    newest: dict[str, Evaluation] = {}
    for evaluation in latest_evaluations(store, project_id):
        newest.setdefault(evaluation.name, evaluation)
    choices = [
        Choice(run.name, "run", run.trainer + (" curve" if run.mode == "curve" else ""), newest.get(run.name))
        for run in list_runs(store, project_id)
        if run.status == "done"
    ]
    choices += [
        Choice(b.name, "baseline", f"LLM {b.mode}{f' k={b.k}' if b.k else ''}, {b.model}", newest.get(b.name))
        for b in list_baselines(store, project_id)
        if b.status in EVALUABLE_BASELINE
    ]
    return choices


def newest_stamp(evaluations: list[Evaluation]) -> str:
    """What identifies the newest evaluation (newest first in `evaluations`): it changes when one is added."""
    return f"{evaluations[0].id}@{evaluations[0].created_at.isoformat()}" if evaluations else ""


def evaluation_to_show(evaluations: list[Evaluation], requested: int | None, seen: str | None) -> int:
    """The evaluation the page shows first: the newest when one arrived since the page last looked (`seen`: the
    newest stamp it saw then), else the one asked for (a link) when it exists, else the newest."""
    ids = [e.id for e in evaluations]
    if seen is not None and seen != newest_stamp(evaluations):
        return ids[0]
    return requested if requested in ids else ids[0]


def weakest_language(evaluation: Evaluation) -> str:
    """The language with the lowest macro-F1 (the first of them in the project's order on a tie): where to look."""
    languages = evaluation.languages
    return min(languages, key=lambda code: (evaluation.metrics[code]["macro_f1"], languages.index(code)))

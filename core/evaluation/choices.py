"""What can be evaluated in a project, for a picker: finished training runs and baselines, with their newest
evaluation when they have one."""

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

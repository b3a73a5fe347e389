"""LLM baselines: finding and listing them with their status kept true when the worker behind one died, and
recording an answer with the label it was mapped to. The rows (the run, one request per test sample, saved before
any is sent) are read and written by `core.store.baselines`."""

from __future__ import annotations

from core.errors import NotFound
from core.evaluation.answer_mapping import MappedAnswer
from core.store import baselines as stored
from core.store.baselines import (
    ACTIVE,
    BaselineAnswer,
    BaselineRun,
    PendingRequest,
    baseline_predictions,
    create_baseline,
    get_baseline_by_id,
    request_counts,
    request_rows,
    set_baseline,
    unanswered_requests,
)
from core.store.database import Store

__all__ = [
    "ACTIVE",
    "BaselineAnswer",
    "BaselineRun",
    "PendingRequest",
    "baseline_predictions",
    "create_baseline",
    "find_baseline",
    "get_baseline",
    "get_baseline_by_id",
    "list_baselines",
    "record_answer",
    "request_counts",
    "request_rows",
    "set_baseline",
    "sync_baselines",
    "unanswered_requests",
]


def find_baseline(store: Store, project_id: int, name: str) -> BaselineRun | None:
    return stored.find_stored_baseline(store, project_id, name)


def get_baseline(store: Store, project_id: int, name: str) -> BaselineRun:
    found = find_baseline(store, project_id, name)
    if found is None:
        raise NotFound(f"This project has no baseline called '{name}'.")
    return found


def list_baselines(store: Store, project_id: int) -> list[BaselineRun]:
    """Newest first."""
    return stored.project_baselines(store, project_id)


def sync_baselines(store: Store, project_id: int | None = None) -> None:
    """A baseline left running by a job that is no longer active (its worker was killed) becomes failed or cancelled;
    its answered requests stay, so a resume asks only the rest. The `baseline` job's settle hook calls it when a job
    ends (core.jobs.registry); dead workers are the reaper's."""
    stored.end_baselines_of_ended_jobs(store, project_id)


def record_answer(
    store: Store,
    baseline_id: int,
    request_id: int,
    answer: str,
    mapped: MappedAnswer,
    tokens: tuple[int | None, int | None],
    cost: float | None,
) -> None:
    """The raw answer (kept even when unusable), its label or outcome, and the run's token totals: one transaction."""
    stored.record_answer(store, baseline_id, request_id, answer, mapped.label, mapped.outcome, tokens, cost)

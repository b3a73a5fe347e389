"""Baselines in the store: the run (settings, never an API key) and one request per test sample, saved before any
is sent; each answer is saved with its mapped label when it arrives, so a resume never pays twice."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, update

from core.errors import NotFound
from core.evaluation.answer_mapping import MappedAnswer
from core.evaluation.metrics import Prediction
from core.generation.run_store import storable
from core.store.bulk import bulk_insert
from core.store.database import Store
from core.store.schema import JOB_ACTIVE_STATUSES, BaselineRequestRow, BaselineRunRow, JobRow, utcnow

ACTIVE = ("planned", "running")
_OUTCOME_KEYS = ("label", "ambiguous", "unparseable")


@dataclass(frozen=True)
class BaselineRun:
    id: int
    project_id: int
    name: str
    job_id: int | None
    mode: str
    k: int
    backend: str
    model: str
    base_url: str | None
    params: dict[str, Any]
    test_hash: str
    status: str
    message: str
    prompt_tokens: int
    completion_tokens: int
    cost: float | None
    created_at: datetime
    created_by: str
    finished_at: datetime | None

    @property
    def active(self) -> bool:
        return self.status in ACTIVE

    def to_public(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "mode": self.mode,
            "k": self.k,
            "backend": self.backend,
            "model": self.model,
            "base_url": self.base_url,
            "params": self.params,
            "test_hash": self.test_hash,
            "status": self.status,
            "message": self.message,
            "job_id": self.job_id,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "cost": self.cost,
            "created_by": self.created_by,
            "created_at": self.created_at.isoformat(),
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
        }


@dataclass(frozen=True)
class PendingRequest:
    id: int
    sample_id: int
    language: str
    true_label: str
    seed: int
    messages: list[dict[str, str]]


def _to_run(row: BaselineRunRow) -> BaselineRun:
    return BaselineRun(
        row.id,
        row.project_id,
        row.name,
        row.job_id,
        row.mode,
        row.k,
        row.backend,
        row.model,
        row.base_url,
        dict(row.params or {}),
        row.test_hash,
        row.status,
        row.message,
        row.prompt_tokens,
        row.completion_tokens,
        row.cost,
        row.created_at,
        row.created_by,
        row.finished_at,
    )


def create_baseline(store: Store, requests: list[dict[str, Any]], **values: Any) -> BaselineRun:
    """The run and all its requests (dicts with sample_id, language, true_label, seed, messages) in one transaction."""
    with store.session() as session:
        row = BaselineRunRow(**values, status="planned", message="Waiting to start", created_by=store.user)
        session.add(row)
        session.flush()
        bulk_insert(
            session,
            BaselineRequestRow.__table__,
            [
                {**r, "baseline_id": row.id, "status": "planned", "attempts": 0, "error": ""}
                for r in sorted(requests, key=lambda r: r["sample_id"])
            ],
        )
        return _to_run(row)


def get_baseline_by_id(store: Store, baseline_id: int) -> BaselineRun:
    with store.session() as session:
        row = session.get(BaselineRunRow, baseline_id)
        if row is None:
            raise NotFound(f"There is no baseline #{baseline_id}.")
        return _to_run(row)


def find_baseline(store: Store, project_id: int, name: str) -> BaselineRun | None:
    sync_baselines(store, project_id)
    with store.session() as session:
        row = session.scalar(
            select(BaselineRunRow).where(BaselineRunRow.project_id == project_id, BaselineRunRow.name == name.strip())
        )
        return _to_run(row) if row is not None else None


def get_baseline(store: Store, project_id: int, name: str) -> BaselineRun:
    found = find_baseline(store, project_id, name)
    if found is None:
        raise NotFound(f"This project has no baseline called '{name}'.")
    return found


def list_baselines(store: Store, project_id: int) -> list[BaselineRun]:
    """Newest first (baselines whose worker died are marked failed first)."""
    sync_baselines(store, project_id)
    with store.session() as session:
        rows = session.scalars(
            select(BaselineRunRow).where(BaselineRunRow.project_id == project_id).order_by(BaselineRunRow.id.desc())
        )
        return [_to_run(r) for r in rows]


def set_baseline(store: Store, baseline_id: int, **values: Any) -> None:
    with store.session() as session:
        session.execute(update(BaselineRunRow).where(BaselineRunRow.id == baseline_id).values(**values))


def delete_baseline(store: Store, baseline_id: int) -> None:
    with store.session() as session:
        session.execute(delete(BaselineRunRow).where(BaselineRunRow.id == baseline_id))


def sync_baselines(store: Store, project_id: int | None = None) -> None:
    """A baseline left running by a job that is no longer active (its worker was killed) becomes failed or cancelled;
    its answered requests stay, so a resume asks only the rest."""
    from core.jobs.queue import reap_dead_workers

    reap_dead_workers(store)
    with store.session() as session:
        query = (
            select(BaselineRunRow, JobRow)
            .join(JobRow, JobRow.id == BaselineRunRow.job_id)
            .where(BaselineRunRow.status.in_(ACTIVE))
        )
        if project_id is not None:
            query = query.where(BaselineRunRow.project_id == project_id)
        for run, job in session.execute(query).all():
            if job.status in JOB_ACTIVE_STATUSES:
                continue
            run.status = "cancelled" if job.status == "cancelled" else "failed"
            run.message = job.message if job.status != "done" else "The job ended without finishing the baseline."
            run.finished_at = run.finished_at or utcnow()


def unanswered_requests(store: Store, baseline_id: int) -> list[PendingRequest]:
    """Requests without an answer (never sent, in flight at a crash, or failed): what a run or a resume sends."""
    with store.session() as session:
        rows = session.scalars(
            select(BaselineRequestRow)
            .where(BaselineRequestRow.baseline_id == baseline_id, BaselineRequestRow.status != "answered")
            .order_by(BaselineRequestRow.id)
        )
        return [
            PendingRequest(r.id, r.sample_id, r.language, r.true_label, r.seed, list(r.messages or [])) for r in rows
        ]


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
    prompt_tokens, completion_tokens = tokens
    with store.session() as session:
        session.execute(
            update(BaselineRequestRow)
            .where(BaselineRequestRow.id == request_id)
            .values(
                status="answered",
                answer=storable(answer),
                predicted=mapped.label,
                outcome=mapped.outcome,
                prompt_tokens=prompt_tokens,
                completion_tokens=completion_tokens,
                error="",
                answered_at=utcnow(),
                attempts=BaselineRequestRow.attempts + 1,
            )
        )
        values: dict[str, Any] = {
            "prompt_tokens": BaselineRunRow.prompt_tokens + (prompt_tokens or 0),
            "completion_tokens": BaselineRunRow.completion_tokens + (completion_tokens or 0),
        }
        if cost is not None:
            values["cost"] = func.coalesce(BaselineRunRow.cost, 0.0) + cost
        session.execute(update(BaselineRunRow).where(BaselineRunRow.id == baseline_id).values(**values))


def record_failure(store: Store, request_id: int, error: str, attempts: int) -> None:
    with store.session() as session:
        session.execute(
            update(BaselineRequestRow)
            .where(BaselineRequestRow.id == request_id)
            .values(status="failed", error=storable(error), attempts=BaselineRequestRow.attempts + attempts)
        )


def request_counts(store: Store, baseline_id: int) -> dict[str, int]:
    """{planned, answered, failed, label, ambiguous, unparseable, total}."""
    counts: Counter[str] = Counter()
    with store.session() as session:
        for status, outcome, n in session.execute(
            select(BaselineRequestRow.status, BaselineRequestRow.outcome, func.count(BaselineRequestRow.id))
            .where(BaselineRequestRow.baseline_id == baseline_id)
            .group_by(BaselineRequestRow.status, BaselineRequestRow.outcome)
        ):
            counts[status] += int(n)
            if outcome:
                counts[outcome] += int(n)
            counts["total"] += int(n)
    return {key: counts.get(key, 0) for key in ("total", "planned", "answered", "failed", *_OUTCOME_KEYS)}


def baseline_predictions(store: Store, baseline_id: int) -> list[Prediction]:
    """One prediction per test sample: the mapped label, or none (ambiguous, unparseable, or no answer: failed)."""
    with store.session() as session:
        rows = session.scalars(
            select(BaselineRequestRow)
            .where(BaselineRequestRow.baseline_id == baseline_id)
            .order_by(BaselineRequestRow.sample_id)
        )
        return [
            Prediction(
                r.sample_id,
                r.language,
                r.true_label,
                r.predicted if r.status == "answered" else None,
                None,
                (r.outcome or "unparseable") if r.status == "answered" else "failed",
                r.answer,
            )
            for r in rows
        ]


def request_rows(store: Store, baseline_id: int, limit: int = 200, outcome: str | None = None) -> list[dict[str, Any]]:
    """Requests for inspection: the raw answer, the label it was mapped to, and any error."""
    with store.session() as session:
        query = select(BaselineRequestRow).where(BaselineRequestRow.baseline_id == baseline_id)
        if outcome == "failed":
            query = query.where(BaselineRequestRow.status == "failed")
        elif outcome:
            query = query.where(BaselineRequestRow.outcome == outcome)
        rows = session.scalars(query.order_by(BaselineRequestRow.id).limit(limit))
        return [
            {
                "sample_id": r.sample_id,
                "language": r.language,
                "true": r.true_label,
                "status": r.status,
                "answer": r.answer or "",
                "predicted": r.predicted,
                "outcome": r.outcome,
                "error": r.error,
            }
            for r in rows
        ]

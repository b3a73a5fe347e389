"""LLM baselines in the store: the run (settings, never an API key) and one request per test sample in the ledger
(`core.store.llm_requests`), saved before any is sent; each answer is saved with its mapped label when it arrives,
so a resume never pays twice."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update

from core.errors import NotFound
from core.store import llm_requests as ledger
from core.store.database import Store
from core.store.evaluations import Prediction
from core.store.llm_requests import LedgerRun, LlmAnswer, LlmRequest
from core.store.schema import JOB_ACTIVE_STATUSES, BaselineRunRow, JobRow, utcnow

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


def create_baseline(
    store: Store,
    requests: list[dict[str, Any]],
    *,
    project_id: int,
    name: str,
    mode: str,
    k: int,
    backend: str,
    model: str,
    base_url: str | None,
    params: dict[str, Any],
    test_hash: str,
) -> BaselineRun:
    """The run and all its requests (dicts with sample_id, language, true_label, seed, messages) in one transaction."""
    with store.session() as session:
        row = BaselineRunRow(
            project_id=project_id,
            name=name,
            mode=mode,
            k=k,
            backend=backend,
            model=model,
            base_url=base_url,
            params=params,
            test_hash=test_hash,
            status="planned",
            message="Waiting to start",
            created_by=store.user,
        )
        session.add(row)
        session.flush()
        ledger.plan_requests_in(
            session,
            _ledger(row.id),
            project_id,
            [
                LlmRequest(
                    r["language"],
                    r["true_label"],
                    0,
                    0,
                    int(r["seed"]),
                    1,
                    r["messages"],
                    kind="classify",
                    sample_id=int(r["sample_id"]),
                )
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


def find_stored_baseline(store: Store, project_id: int, name: str) -> BaselineRun | None:
    """The project's baseline called `name` as stored, None when there is none."""
    with store.session() as session:
        row = session.scalar(
            select(BaselineRunRow).where(BaselineRunRow.project_id == project_id, BaselineRunRow.name == name.strip())
        )
        return _to_run(row) if row is not None else None


def project_baselines(store: Store, project_id: int) -> list[BaselineRun]:
    """The project's baselines as stored, newest first."""
    with store.session() as session:
        rows = session.scalars(
            select(BaselineRunRow).where(BaselineRunRow.project_id == project_id).order_by(BaselineRunRow.id.desc())
        )
        return [_to_run(r) for r in rows]


def set_baseline(store: Store, baseline_id: int, **values: Any) -> None:
    with store.session() as session:
        session.execute(update(BaselineRunRow).where(BaselineRunRow.id == baseline_id).values(**values))


def end_baselines_of_ended_jobs(store: Store, project_id: int | None = None) -> None:
    """A baseline left running by a job that is no longer active becomes cancelled (the job was) or failed (with
    the job's message); its answered requests stay, so a resume asks only the rest."""
    with store.session() as session:
        query = (
            select(BaselineRunRow, JobRow)
            .join(JobRow, JobRow.id == BaselineRunRow.job_id)
            .where(BaselineRunRow.status.in_(ACTIVE))
        )
        if project_id is not None:
            query = query.where(BaselineRunRow.project_id == project_id)
        for run, job in session.execute(query).tuples().all():
            if job.status in JOB_ACTIVE_STATUSES:
                continue
            run.status = "cancelled" if job.status == "cancelled" else "failed"
            run.message = job.message if job.status != "done" else "The job ended without finishing the baseline."
            run.finished_at = run.finished_at or utcnow()


def _ledger(baseline_id: int) -> LedgerRun:
    return LedgerRun("baseline", baseline_id)


def unanswered_requests(store: Store, baseline_id: int) -> list[PendingRequest]:
    """Requests without an answer (never sent, in flight at a crash, or failed): what a run or a resume sends."""
    return [
        PendingRequest(int(r.id or 0), int(r.sample_id or 0), r.language, r.label, r.seed, r.messages)
        for r in ledger.pending_requests(store, _ledger(baseline_id))
    ]


def record_answer(
    store: Store,
    baseline_id: int,
    request_id: int,
    answer: str,
    predicted: str | None,
    outcome: str,
    tokens: tuple[int | None, int | None],
    cost: float | None,
) -> None:
    """The raw answer (kept even when unusable), the label it was mapped to (None: see `outcome`), and the run's
    token totals: one transaction."""
    prompt_tokens, completion_tokens = tokens
    answered = LlmAnswer(answer, prompt_tokens, completion_tokens, predicted=predicted, outcome=outcome)
    ledger.record_answer(store, _ledger(baseline_id), request_id, answered, cost)


def request_counts(store: Store, baseline_id: int) -> dict[str, int]:
    """{planned, answered, failed, label, ambiguous, unparseable, total}."""
    counts: Counter[str] = Counter()
    for count in ledger.count_requests(store, _ledger(baseline_id)):
        counts[count.status] += count.n
        if count.outcome:
            counts[count.outcome] += count.n
        counts["total"] += count.n
    return {key: counts.get(key, 0) for key in ("total", "planned", "answered", "failed", *_OUTCOME_KEYS)}


def baseline_predictions(store: Store, baseline_id: int) -> list[Prediction]:
    """One prediction per test sample: the mapped label, or none (ambiguous, unparseable, or no answer: failed)."""
    return [
        Prediction(
            int(r.sample_id or 0),
            r.language,
            r.label,
            r.predicted if r.status == "answered" else None,
            None,
            (r.outcome or "unparseable") if r.status == "answered" else "failed",
            r.answer,
        )
        for r in sorted(ledger.list_requests(store, _ledger(baseline_id)), key=lambda r: r.sample_id or 0)
    ]


@dataclass(frozen=True)
class BaselineAnswer:
    """One request of a baseline, for inspection: the raw answer, the label it was mapped to, and any error."""

    sample_id: int | None  # the test sample it asked about
    language: str
    true: str  # the sample's true label
    status: str  # planned | answered | failed
    answer: str  # the raw answer as it came (empty: none yet)
    predicted: str | None  # the label the answer was mapped to
    outcome: str | None  # label | ambiguous | unparseable (None: not answered)
    error: str


def request_rows(store: Store, baseline_id: int, limit: int = 200, outcome: str | None = None) -> list[BaselineAnswer]:
    """Requests for inspection: the raw answer, the label it was mapped to, and any error."""
    rows = ledger.list_requests(
        store,
        _ledger(baseline_id),
        status="failed" if outcome == "failed" else None,
        outcome=outcome if outcome and outcome != "failed" else None,
        limit=limit,
    )
    return [
        BaselineAnswer(
            sample_id=r.sample_id,
            language=r.language,
            true=r.label,
            status=r.status,
            answer=r.answer or "",
            predicted=r.predicted,
            outcome=r.outcome,
            error=r.error,
        )
        for r in rows
    ]

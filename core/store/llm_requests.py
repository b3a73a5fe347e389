"""The ledger of LLM requests: every request a generation run or an LLM baseline puts to a model, saved before it
is sent and answered (or failed) in place. It is what makes a resume free: a request whose answer was stored is
never sent again (`pending_requests` leaves it out), and what makes failures countable (`record_failure`).

The runs themselves (`core.store.generation_runs`, `core.store.baselines`) keep their settings and running token
totals; the answer of a request and the totals of its run are written in one transaction (`record_answer_in`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, cast

from sqlalchemy import ColumnElement, Table, func, select, update
from sqlalchemy.orm import Session

from core.store.bulk import bulk_insert
from core.store.database import Store
from core.store.schema import BaselineRunRow, GenerationRunRow, LlmRequestRow, utcnow

RunKind = Literal["generation", "baseline"]
_RUN_ROWS: dict[str, type[GenerationRunRow] | type[BaselineRunRow]] = {
    "generation": GenerationRunRow,
    "baseline": BaselineRunRow,
}


@dataclass(frozen=True)
class LedgerRun:
    """The run a request belongs to: which kind (which run table) and its id there."""

    kind: RunKind
    id: int


@dataclass
class LlmRequest:
    """A request as planned (its `id` is filled in once it is saved) or as read back to be sent."""

    language: str
    label: str  # generation: the cell's label; baseline: the sample's true label
    round: int
    index: int
    seed: int
    n_asked: int
    messages: list[dict[str, str]]
    id: int | None = None
    kind: str = "generate"  # generate | revise | classify
    sample_ids: list[int] = field(default_factory=list)  # revise: the samples it checks, in order
    sample_id: int | None = None  # baseline: the test sample it asks about


@dataclass(frozen=True)
class LlmAnswer:
    """What is stored with an answered request (the fields a kind does not use keep their defaults)."""

    text: str
    prompt_tokens: int | None
    completion_tokens: int | None
    finish_reason: str | None = None
    parsed: int = 0
    dropped: list[dict[str, str]] = field(default_factory=list)
    predicted: str | None = None
    outcome: str | None = None


@dataclass(frozen=True)
class StoredRequest:
    """A request as stored, for inspection and scoring."""

    id: int
    kind: str
    language: str
    label: str
    sample_id: int | None
    sample_ids: list[int]
    round: int
    index: int
    n_asked: int
    status: str
    attempts: int
    answer: str | None
    parsed: int
    dropped: list[dict[str, str]]
    predicted: str | None
    outcome: str | None
    error: str


@dataclass(frozen=True)
class RequestCount:
    language: str
    label: str
    status: str
    outcome: str | None
    n: int


def storable(text: str) -> str:
    """PostgreSQL refuses NUL characters in text (a random model can produce them): they become U+FFFD."""
    return text.replace("\x00", "\ufffd")


def _of_run(run: LedgerRun) -> ColumnElement[bool]:
    return (LlmRequestRow.run_kind == run.kind) & (LlmRequestRow.run_id == run.id)


def _key(run_kind: str, language: str, label: str, round_: int, index: int, sample_id: int | None) -> tuple[Any, ...]:
    """What identifies a request within its run (the unique index of its kind)."""
    return (sample_id,) if run_kind == "baseline" else (language, label, round_, index)


def plan_requests_in(session: Session, run: LedgerRun, project_id: int, requests: list[LlmRequest]) -> None:
    """Save the requests a run (of the project) will send, before any is sent: those already saved (same key) are
    left as they are, so planning twice adds nothing. Fills in every request's id."""
    if not requests:
        return
    key_columns = (
        LlmRequestRow.id,
        LlmRequestRow.language,
        LlmRequestRow.label,
        LlmRequestRow.round,
        LlmRequestRow.index,
        LlmRequestRow.sample_id,
    )

    def saved() -> dict[tuple[Any, ...], int]:
        return {
            _key(run.kind, language, label, round_, index, sample_id): int(request_id)
            for request_id, language, label, round_, index, sample_id in session.execute(
                select(*key_columns).where(_of_run(run))
            ).tuples()
        }

    existing = saved()
    now = utcnow()
    missing = [
        r for r in requests if _key(run.kind, r.language, r.label, r.round, r.index, r.sample_id) not in existing
    ]
    bulk_insert(
        session,
        cast(Table, LlmRequestRow.__table__),
        [
            {
                "run_kind": run.kind,
                "run_id": run.id,
                "project_id": project_id,
                "kind": r.kind,
                "language": r.language,
                "label": r.label,
                "sample_id": r.sample_id,
                "sample_ids": list(r.sample_ids),
                "round": r.round,
                "index": r.index,
                "seed": r.seed,
                "n_asked": r.n_asked,
                "messages": r.messages,
                "status": "planned",
                "attempts": 0,
                "answer": None,
                "finish_reason": None,
                "prompt_tokens": None,
                "completion_tokens": None,
                "parsed": 0,
                "dropped": [],
                "predicted": None,
                "outcome": None,
                "error": "",
                "created_at": now,
                "answered_at": None,
            }
            for r in missing
        ],
    )
    ids = saved() if missing else existing
    for r in requests:
        r.id = ids[_key(run.kind, r.language, r.label, r.round, r.index, r.sample_id)]


def plan_requests(store: Store, run: LedgerRun, project_id: int, requests: list[LlmRequest]) -> None:
    with store.session() as session:
        plan_requests_in(session, run, project_id, requests)


def pending_requests(store: Store, run: LedgerRun) -> list[LlmRequest]:
    """Requests saved but without a stored answer (never sent, in flight at a crash, or failed), in the order they
    were planned: what a run or a resume sends. An answered request is never among them."""
    with store.session() as session:
        rows = session.scalars(
            select(LlmRequestRow).where(_of_run(run), LlmRequestRow.status != "answered").order_by(LlmRequestRow.id)
        )
        return [
            LlmRequest(
                r.language,
                r.label,
                r.round,
                r.index,
                r.seed,
                r.n_asked,
                list(r.messages or []),
                r.id,
                r.kind,
                list(r.sample_ids or []),
                r.sample_id,
            )
            for r in rows
        ]


def record_answer_in(
    session: Session, run: LedgerRun, request_id: int, answer: LlmAnswer, cost: float | None = None
) -> None:
    """The answer of one request (the raw text kept, even when unusable) and its run's token totals (and cost,
    when known), inside the caller's transaction."""
    session.execute(
        update(LlmRequestRow)
        .where(LlmRequestRow.id == request_id)
        .values(
            status="answered",
            answer=storable(answer.text),
            finish_reason=answer.finish_reason,
            prompt_tokens=answer.prompt_tokens,
            completion_tokens=answer.completion_tokens,
            parsed=answer.parsed,
            dropped=[{k: storable(str(v)) for k, v in d.items()} for d in answer.dropped],
            predicted=answer.predicted,
            outcome=answer.outcome,
            error="",
            answered_at=utcnow(),
            attempts=LlmRequestRow.attempts + 1,
        )
    )
    row = _RUN_ROWS[run.kind]
    values: dict[str, Any] = {
        "prompt_tokens": row.prompt_tokens + (answer.prompt_tokens or 0),
        "completion_tokens": row.completion_tokens + (answer.completion_tokens or 0),
    }
    if cost is not None:
        values["cost"] = func.coalesce(row.cost, 0.0) + cost
    session.execute(update(row).where(row.id == run.id).values(**values))


def record_answer(store: Store, run: LedgerRun, request_id: int, answer: LlmAnswer, cost: float | None = None) -> None:
    with store.session() as session:
        record_answer_in(session, run, request_id, answer, cost)


def record_failure(store: Store, request_id: int, error: str, attempts: int) -> None:
    """A request that got no answer after `attempts` tries: failed, with the error, and asked again by a resume."""
    with store.session() as session:
        session.execute(
            update(LlmRequestRow)
            .where(LlmRequestRow.id == request_id)
            .values(status="failed", error=storable(error), attempts=LlmRequestRow.attempts + attempts)
        )


def count_requests(store: Store, run: LedgerRun, kind: str | None = None) -> list[RequestCount]:
    """How many requests of the run (of one kind, or all) there are per language, label, status and outcome."""
    query = select(
        LlmRequestRow.language,
        LlmRequestRow.label,
        LlmRequestRow.status,
        LlmRequestRow.outcome,
        func.count(LlmRequestRow.id),
    ).where(_of_run(run))
    if kind is not None:
        query = query.where(LlmRequestRow.kind == kind)
    query = query.group_by(LlmRequestRow.language, LlmRequestRow.label, LlmRequestRow.status, LlmRequestRow.outcome)
    with store.session() as session:
        return [
            RequestCount(language, label, status, outcome, int(n))
            for language, label, status, outcome, n in session.execute(query).tuples()
        ]


def highest_round(store: Store, run: LedgerRun, kind: str) -> int | None:
    with store.session() as session:
        highest = session.scalar(select(func.max(LlmRequestRow.round)).where(_of_run(run), LlmRequestRow.kind == kind))
        return None if highest is None else int(highest)


def list_requests(
    store: Store,
    run: LedgerRun,
    *,
    kind: str | None = None,
    status: str | None = None,
    outcome: str | None = None,
    limit: int | None = None,
) -> list[StoredRequest]:
    """The run's requests in the order they were planned (optionally of one kind, status or outcome)."""
    query = select(LlmRequestRow).where(_of_run(run))
    if kind is not None:
        query = query.where(LlmRequestRow.kind == kind)
    if status is not None:
        query = query.where(LlmRequestRow.status == status)
    if outcome is not None:
        query = query.where(LlmRequestRow.outcome == outcome)
    query = query.order_by(LlmRequestRow.id)
    if limit is not None:
        query = query.limit(limit)
    with store.session() as session:
        return [
            StoredRequest(
                r.id,
                r.kind,
                r.language,
                r.label,
                r.sample_id,
                list(r.sample_ids or []),
                r.round,
                r.index,
                r.n_asked,
                r.status,
                r.attempts,
                r.answer,
                r.parsed,
                list(r.dropped or []),
                r.predicted,
                r.outcome,
                r.error,
            )
            for r in session.scalars(query)
        ]

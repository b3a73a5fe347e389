"""Generation runs in the store. Their requests live in the ledger (`core.store.llm_requests`): saved before
sending, answered in one transaction with the samples they produced (so a crash loses at most what is in flight,
and a resume never pays twice). Why a run failed is decided in `core.generation.run_failures`; this module only
stores it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, func, select, update

from core.errors import NotFound
from core.store import llm_requests as ledger
from core.store.bulk import bulk_insert
from core.store.database import Store
from core.store.llm_requests import LedgerRun, LlmAnswer, LlmRequest, storable
from core.store.samples import content_key
from core.store.schema import GenerationRunRow, SampleRow, utcnow

Cell = tuple[str, str]  # (language, label)
PlannedRequest = LlmRequest  # a generate or revise request of a run (core.store.llm_requests)


@dataclass(frozen=True)
class GenerationRun:
    id: int
    project_id: int
    job_id: int | None
    template_id: int | None
    strategy: str
    backend: str
    model: str
    base_url: str | None
    params: dict[str, Any]
    plan: dict[str, dict[str, int]]
    status: str
    message: str
    prompt_tokens: int
    completion_tokens: int
    cost: float | None
    created_at: datetime
    created_by: str
    finished_at: datetime | None
    failure_kind: str | None = None  # why a failed run failed (core.generation.run_failures)

    def cells(self) -> list[tuple[Cell, int]]:
        return [((language, label), n) for language, labels in self.plan.items() for label, n in labels.items()]

    @property
    def planned_samples(self) -> int:
        return sum(n for _, n in self.cells())

    @property
    def cost_text(self) -> str:
        """The cost for a table: never empty or None (recorded answers cost nothing; some prices are unknown)."""
        if self.backend == "replay":
            return "none (recorded)"
        return "unknown" if self.cost is None else f"{self.cost:.4f}"


@dataclass
class RunCounts:
    samples: dict[Cell, int] = field(default_factory=dict)
    requests: dict[Cell, int] = field(default_factory=dict)
    answered: int = 0
    failed: int = 0
    unsent: int = 0


def to_run(row: GenerationRunRow) -> GenerationRun:
    return GenerationRun(
        row.id,
        row.project_id,
        row.job_id,
        row.template_id,
        row.strategy,
        row.backend,
        row.model,
        row.base_url,
        dict(row.params or {}),
        dict(row.plan or {}),
        row.status,
        row.message,
        row.prompt_tokens,
        row.completion_tokens,
        row.cost,
        row.created_at,
        row.created_by,
        row.finished_at,
        row.failure_kind,
    )


def create_run(
    store: Store,
    project_id: int,
    *,
    template_id: int | None,
    strategy: str,
    backend: str,
    model: str,
    base_url: str | None,
    params: dict[str, Any],
    plan: dict[str, dict[str, int]],
) -> GenerationRun:
    with store.session() as session:
        row = GenerationRunRow(
            project_id=project_id,
            template_id=template_id,
            strategy=strategy,
            backend=backend,
            model=model,
            base_url=base_url,
            params=params,
            plan=plan,
            status="planned",
            created_by=store.user,
        )
        session.add(row)
        session.flush()
        return to_run(row)


def get_run(store: Store, run_id: int) -> GenerationRun:
    with store.session() as session:
        row = session.get(GenerationRunRow, run_id)
        if row is None:
            raise NotFound(f"There is no generation run #{run_id}.")
        return to_run(row)


def list_runs(store: Store, project_id: int) -> list[GenerationRun]:
    with store.session() as session:
        rows = session.scalars(
            select(GenerationRunRow)
            .where(GenerationRunRow.project_id == project_id)
            .order_by(GenerationRunRow.id.desc())
        )
        return [to_run(r) for r in rows]


def set_run(store: Store, run_id: int, **values: Any) -> None:
    with store.session() as session:
        session.execute(update(GenerationRunRow).where(GenerationRunRow.id == run_id).values(**values))


def mark_failed(store: Store, run_id: int, message: str, failure_kind: str) -> None:
    """Mark a run failed, with a message and the kind of failure (what the page advises from)."""
    set_run(store, run_id, status="failed", message=message, failure_kind=failure_kind, finished_at=utcnow())


def _ledger(run_id: int) -> LedgerRun:
    return LedgerRun("generation", run_id)


def save_requests(store: Store, run: GenerationRun, planned: list[PlannedRequest]) -> None:
    """Persist requests before any is sent; fills in their ids."""
    ledger.plan_requests(store, _ledger(run.id), run.project_id, planned)


def unanswered_requests(store: Store, run_id: int) -> list[PlannedRequest]:
    """Requests saved but without an answer (never sent, in flight at a crash, or failed): what a resume sends."""
    return ledger.pending_requests(store, _ledger(run_id))


def run_counts(store: Store, run_id: int) -> RunCounts:
    counts = RunCounts()
    with store.session() as session:
        for language, label, n in session.execute(
            select(SampleRow.language, SampleRow.label, func.count(SampleRow.id))
            .where(SampleRow.generation_run_id == run_id)
            .group_by(SampleRow.language, SampleRow.label)
        ):
            counts.samples[(language, cast(str, label))] = int(n)  # generated samples carry their cell's label
    for count in ledger.count_requests(store, _ledger(run_id), kind="generate"):
        cell = (count.language, count.label)
        counts.requests[cell] = counts.requests.get(cell, 0) + count.n
        if count.status == "answered":
            counts.answered += count.n
        elif count.status == "failed":
            counts.failed += count.n
        else:
            counts.unsent += count.n
    return counts


def failed_request_ids(store: Store, run_id: int) -> list[int]:
    """Requests whose last attempt failed (a resume asks them again)."""
    return [int(r.id) for r in ledger.list_requests(store, _ledger(run_id), kind="generate", status="failed")]


def next_round(store: Store, run_id: int) -> int:
    highest = ledger.highest_round(store, _ledger(run_id), "generate")
    return 0 if highest is None else highest + 1


def cell_outputs(store: Store, run_id: int, cell: Cell) -> list[str]:
    with store.session() as session:
        return list(
            session.scalars(
                select(SampleRow.text)
                .where(SampleRow.generation_run_id == run_id, SampleRow.language == cell[0], SampleRow.label == cell[1])
                .order_by(SampleRow.id)
            )
        )


@dataclass(frozen=True)
class AnswerRecord:
    text: str
    finish_reason: str | None
    prompt_tokens: int | None
    completion_tokens: int | None
    samples: list[str]
    dropped: list[dict[str, str]]
    model: str | None = None  # the model as the server names it (None: the run's)


def record_answer(
    store: Store,
    run: GenerationRun,
    request: PlannedRequest,
    answer: AnswerRecord,
    prompt_version: str,
    cost: float | None,
) -> None:
    """The answer, its samples and the run's token totals in ONE transaction."""
    now = utcnow()
    with store.session() as session:
        rows = [
            {
                "project_id": run.project_id,
                "text": text,
                "label": request.label,
                "language": request.language,
                "origin": "synthetic",
                "split": "train",
                "status": "pending",
                "content_key": content_key(text, request.label, request.language, "train", "synthetic"),
                "source": f"generation run {run.id}",
                "generation_run_id": run.id,
                "generation_request_id": request.id,
                "prompt_version": prompt_version,
                "model": answer.model or run.model,
                "version": 1,
                "created_at": now,
                "created_by": run.created_by,
                "updated_at": now,
                "updated_by": run.created_by,
            }
            for text in (storable(t) for t in answer.samples)
        ]
        bulk_insert(session, cast(Table, SampleRow.__table__), rows)
        ledger.record_answer_in(
            session,
            _ledger(run.id),
            int(request.id or 0),
            LlmAnswer(
                answer.text,
                answer.prompt_tokens,
                answer.completion_tokens,
                finish_reason=answer.finish_reason,
                parsed=len(answer.samples),
                dropped=answer.dropped,
            ),
            cost,
        )


def request_rows(store: Store, run_id: int, limit: int = 200) -> list[dict[str, Any]]:
    """The run's requests for inspection (raw answers included)."""
    return [
        {
            "id": r.id,
            "language": r.language,
            "label": r.label,
            "round": r.round,
            "index": r.index,
            "status": r.status,
            "asked": r.n_asked,
            "parsed": r.parsed,
            "dropped": len(r.dropped),
            "error": r.error,
            "answer": r.answer or "",
        }
        for r in ledger.list_requests(store, _ledger(run_id), limit=limit)
    ]


def samples_to_revise(store: Store, run_id: int) -> dict[Cell, list[tuple[int, str]]]:
    """Pending samples of the run that no revise request covers yet, per cell."""
    covered = {i for r in ledger.list_requests(store, _ledger(run_id), kind="revise") for i in r.sample_ids}
    with store.session() as session:
        todo: dict[Cell, list[tuple[int, str]]] = {}
        for sample_id, text, language, label in session.execute(
            select(SampleRow.id, SampleRow.text, SampleRow.language, SampleRow.label)
            .where(SampleRow.generation_run_id == run_id, SampleRow.status == "pending")
            .order_by(SampleRow.id)
        ):
            if sample_id not in covered:
                todo.setdefault((language, cast(str, label)), []).append((sample_id, text))
        return todo


@dataclass(frozen=True)
class Verdict:
    sample_id: int
    action: str  # keep | fix | drop | missing
    text: str = ""
    reason: str = ""


def record_revision(
    store: Store,
    run: GenerationRun,
    request: PlannedRequest,
    answer_text: str,
    prompt_tokens: int | None,
    completion_tokens: int | None,
    verdicts: list[Verdict],
) -> None:
    """The revise answer and its verdicts in one transaction: fixes edit the text, drops reject with a flag."""
    from core.store import action_log
    from core.store.schema import FlagRow

    now = utcnow()
    with store.session() as session:
        for verdict in verdicts:
            sample = session.get(SampleRow, verdict.sample_id)
            if sample is None or sample.status != "pending":
                continue
            before = {"text": sample.text, "status": sample.status}
            if verdict.action == "fix" and verdict.text.strip() and verdict.text.strip() != sample.text:
                sample.text = storable(verdict.text.strip())
                sample.content_key = content_key(
                    sample.text, sample.label, sample.language, sample.split, sample.origin
                )
            elif verdict.action == "drop":
                sample.status = "rejected"
                session.add(
                    FlagRow(
                        sample_id=sample.id,
                        project_id=sample.project_id,
                        kind="revise_dropped",
                        reason=f"The LLM's revision pass dropped it: {verdict.reason or 'no reason'}",
                        details={"run": run.id},
                    )
                )
            else:
                continue
            sample.version += 1
            sample.updated_at, sample.updated_by = now, f"revise (run {run.id})"
            action_log.record(
                session,
                who=run.created_by,
                action=f"sample.revise.{verdict.action}",
                project_id=run.project_id,
                target=f"sample:{sample.id}",
                before=before,
                after={"text": sample.text, "status": sample.status},
            )
        ledger.record_answer_in(
            session,
            _ledger(run.id),
            int(request.id or 0),
            LlmAnswer(
                answer_text,
                prompt_tokens,
                completion_tokens,
                parsed=len(verdicts),
                dropped=[{"text": str(v.sample_id), "reason": v.action} for v in verdicts],
            ),
        )


def revision_summary(store: Store, run_id: int) -> dict[str, int]:
    summary: dict[str, int] = {}
    for request in ledger.list_requests(store, _ledger(run_id), kind="revise", status="answered"):
        for entry in request.dropped:
            summary[entry["reason"]] = summary.get(entry["reason"], 0) + 1
    return summary

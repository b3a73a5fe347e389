"""Judgements: one annotator's decision on one sample, recorded against their assignment, and what follows from the
judgements of a sample — its status and label by the project's rule, or the adjudication queue, where a lead
decides. Undoing an annotator's last judgement, and reading the judgements (for agreement and the export).

Each change is one transaction that locks the sample's row first (judging, undoing, adjudicating and a direct
decision all do), under the project's review lock shared (distribution and re-balancing take it alone), so that the
last two judgements of a sample arriving at once resolve it exactly once.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Collection, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.errors import EditConflict, InvalidInput, NotFound
from core.store import action_log
from core.store.database import Store
from core.store.review_settings import review_lock, settings_in
from core.store.samples import content_key
from core.store.schema import (
    JUDGEMENT_DECISIONS,
    AssignmentRow,
    JudgementRow,
    LabelRow,
    ReviewItemRow,
    SampleRow,
    utcnow,
)

Outcome = tuple[str, str | None]  # ("accepted", label) or ("rejected", None)
Rule = Callable[[Sequence[Outcome], int, str], Outcome | None]  # (judgements' outcomes, overlap, rule) -> answer


@dataclass(frozen=True)
class Judgement:
    id: int
    sample_id: int
    annotator: str
    decision: str  # accept | reject | label | edit
    label: str | None  # the label it gives (accept and edit: the sample's); None: rejected
    shown_label: str | None  # the sample's label when it was judged
    text: str | None  # an edit's new text
    seconds: float | None
    gold: bool
    at: datetime

    @property
    def outcome(self) -> Outcome:
        return outcome_of(self.decision, self.label)


def outcome_of(decision: str, label: str | None) -> Outcome:
    return ("rejected", None) if decision == "reject" else ("accepted", label)


def _judgement(row: JudgementRow) -> Judgement:
    return Judgement(
        row.id,
        row.sample_id,
        row.annotator,
        row.decision,
        row.label,
        row.shown_label,
        row.text,
        row.seconds,
        row.gold,
        row.at,
    )


@dataclass(frozen=True)
class Recorded:
    judgement: Judgement
    state: str  # the sample's review after it: open | resolved | adjudication ("gold" for a gold check)
    outcome: Outcome | None  # what the rule decided, when it did


def _labels(session: Session, project_id: int) -> list[str]:
    return list(session.scalars(select(LabelRow.name).where(LabelRow.project_id == project_id)))


def _given_label(session: Session, sample: SampleRow, decision: str, label: str | None, text: str | None) -> str | None:
    """The label the judgement gives, or InvalidInput saying why it cannot be made."""
    if decision not in JUDGEMENT_DECISIONS:
        raise InvalidInput(f"Unknown decision '{decision}': use one of {', '.join(JUDGEMENT_DECISIONS)}.")
    if decision == "reject":
        return None
    if decision == "label":
        known = _labels(session, sample.project_id)
        if not label or label not in known:
            raise InvalidInput(f"'{label or ''}' is not a label of this project. Its labels are: {', '.join(known)}.")
        return label
    if not sample.label:
        raise InvalidInput(f"Sample #{sample.id} has no label yet: choose one for it instead.")
    if decision == "edit" and not (text or "").strip():
        raise InvalidInput("The text cannot be empty. Reject the sample instead if it is of no use.")
    return sample.label


def _locked_sample(session: Session, project_id: int, sample_id: int) -> SampleRow:
    sample = session.get(SampleRow, sample_id, with_for_update=True)
    if sample is None or sample.project_id != project_id:
        raise NotFound(f"Sample #{sample_id} is not in this project (any more).")
    return sample


def _locked_item(session: Session, sample_id: int) -> ReviewItemRow | None:
    return session.scalar(select(ReviewItemRow).where(ReviewItemRow.sample_id == sample_id).with_for_update())


def _apply_outcome(session: Session, sample: SampleRow, outcome: Outcome, who: str, now: datetime) -> dict[str, Any]:
    """Give the sample its status and label; returns its state before."""
    before = {"status": sample.status, "label": sample.label, "version": sample.version}
    status, label = outcome
    if status == "accepted" and label != sample.label:
        sample.label = label
        sample.content_key = content_key(sample.text, label, sample.language, sample.split, sample.origin)
    sample.status = status
    sample.version += 1
    sample.updated_at, sample.updated_by = now, who
    return before


def _sample_judgements(session: Session, sample_id: int) -> list[Judgement]:
    query = select(JudgementRow).where(JudgementRow.sample_id == sample_id).order_by(JudgementRow.id)
    return [_judgement(row) for row in session.scalars(query)]


def _brief(judgements: Sequence[Judgement]) -> list[dict[str, Any]]:
    """Judgements as the action log keeps them."""
    return [
        {"id": j.id, "annotator": j.annotator, "decision": j.decision, "label": j.label, "seconds": j.seconds}
        for j in judgements
    ]


def _maybe_resolve(
    session: Session, item: ReviewItemRow, sample: SampleRow, rule: Rule, who: str, now: datetime
) -> Outcome | None:
    """When the sample has all its judgements (k: the most any of its assignments asks for, as a top-up raises it):
    its status and label by the rule, or the adjudication queue."""
    still_open, overlap = session.execute(
        select(
            func.count(AssignmentRow.id).filter(AssignmentRow.state == "open"), func.max(AssignmentRow.overlap)
        ).where(AssignmentRow.sample_id == sample.id, AssignmentRow.state != "removed", AssignmentRow.gold.is_(False))
    ).one()
    judgements = [j for j in _sample_judgements(session, sample.id) if not j.gold]
    item.overlap = max(item.overlap, int(overlap or 0))
    if still_open or len(judgements) < item.overlap:
        return None
    settings = settings_in(session, sample.project_id)
    outcome = rule([j.outcome for j in judgements], item.overlap, settings.rule)
    item.closed_at, item.closed_by = now, who
    before: dict[str, Any]
    after: dict[str, Any]
    if outcome is None:
        item.state = "adjudication"
        action = "review.to adjudication"
        before, after = {"state": "open"}, {"state": "adjudication", "rule": settings.rule}
    else:
        item.state, (item.outcome_status, item.outcome_label) = "resolved", outcome
        before = _apply_outcome(session, sample, outcome, who, now)
        item.before, item.after_version = before, sample.version
        action = "review.resolve"
        after = {"status": sample.status, "label": sample.label, "version": sample.version, "rule": settings.rule}
    action_log.record(
        session,
        who=who,
        action=action,
        project_id=sample.project_id,
        target=f"sample:{sample.id}",
        before=before,
        after=after | {"judgements": _brief(judgements)},
    )
    return outcome


def record_judgement(
    store: Store,
    project_id: int,
    sample_id: int,
    decision: str,
    *,
    rule: Rule,
    label: str | None = None,
    text: str | None = None,
    seconds: float | None = None,
) -> Recorded:
    """This store's user judges a sample of their queue; when it was the sample's last judgement, `rule` decides."""
    annotator, now = store.user, utcnow()
    with store.session() as session:
        review_lock(session, project_id, shared=True)
        sample = _locked_sample(session, project_id, sample_id)
        assignment = session.scalar(
            select(AssignmentRow).where(
                AssignmentRow.sample_id == sample_id,
                AssignmentRow.annotator == annotator,
                AssignmentRow.state != "removed",
            )
        )
        if assignment is None:
            raise NotFound(f"Sample #{sample_id} is not in your queue.")
        if assignment.state == "done":
            raise InvalidInput(f"You have judged sample #{sample_id} already (undo your judgement to change it).")
        given = _given_label(session, sample, decision, label, text)
        row = JudgementRow(
            project_id=project_id,
            sample_id=sample_id,
            assignment_id=assignment.id,
            annotator=annotator,
            decision=decision,
            label=given,
            shown_label=sample.label,
            text=(text or "").strip() if decision == "edit" else None,
            seconds=seconds,
            gold=assignment.gold,
            at=now,
        )
        session.add(row)
        assignment.state, assignment.closed_at, assignment.closed_reason = "done", now, "judged"
        session.flush()
        judgement = _judgement(row)
        action_log.record(
            session,
            who=annotator,
            action="review.judge",
            project_id=project_id,
            target=f"sample:{sample_id}",
            after={"judgement": row.id, "decision": decision, "label": given, "seconds": seconds},
        )
        if assignment.gold:
            return Recorded(judgement, "gold", None)
        item = _locked_item(session, sample_id)
        if item is None:  # the sample's first judgement
            item = ReviewItemRow(project_id=project_id, sample_id=sample_id, overlap=assignment.overlap)
            item.state, item.created_at, item.created_by = "open", now, annotator
            session.add(item)
        if item.state != "open":
            return Recorded(judgement, item.state, None)
        outcome = _maybe_resolve(session, item, sample, rule, annotator, now)
        return Recorded(judgement, item.state, outcome)


@dataclass(frozen=True)
class UndoneJudgement:
    judgement: Judgement
    reopened: bool  # the rule had decided the sample (or sent it to adjudication): that is undone too


def undo_last_judgement(store: Store, project_id: int) -> UndoneJudgement:
    """Take back this store's user's last judgement in the project: the sample is back in their queue, and what the
    rule had made of it is undone (unless a lead decided it since, or it changed since: refused)."""
    annotator, now = store.user, utcnow()
    with store.session() as session:
        review_lock(session, project_id, shared=True)
        last = session.scalar(
            select(JudgementRow)
            .where(JudgementRow.project_id == project_id, JudgementRow.annotator == annotator)
            .order_by(JudgementRow.id.desc())
            .limit(1)
        )
        if last is None:
            raise InvalidInput("You have no judgement to undo in this project.")
        sample = _locked_sample(session, project_id, last.sample_id)
        item = None if last.gold else _locked_item(session, sample.id)
        reopened = _reopen(session, item, sample, store.user, now)
        assignment = session.get(AssignmentRow, last.assignment_id) if last.assignment_id is not None else None
        if assignment is not None and assignment.state == "done":
            assignment.state, assignment.closed_at, assignment.closed_reason = "open", None, None
        undone = _judgement(last)
        session.delete(last)
        action_log.record(
            session,
            who=annotator,
            action="review.undo judgement",
            project_id=project_id,
            target=f"sample:{sample.id}",
            before={"judgement": undone.id, "decision": undone.decision, "label": undone.label},
            after={"reopened": reopened},
        )
        return UndoneJudgement(undone, reopened)


def _reopen(session: Session, item: ReviewItemRow | None, sample: SampleRow, who: str, now: datetime) -> bool:
    if item is None or item.state == "open":
        return False
    if item.state in ("adjudicated", "decided"):
        raise InvalidInput(f"A lead has decided sample #{sample.id} already: your judgement can no longer be undone.")
    if item.state == "resolved":
        if sample.version != item.after_version:
            raise EditConflict(
                f"Sample #{sample.id} was changed by {sample.updated_by} after the judgements decided it: your "
                "judgement was not undone."
            )
        was = item.before or {}
        label = was.get("label")
        if label != sample.label:
            sample.label = label
            sample.content_key = content_key(sample.text, label, sample.language, sample.split, sample.origin)
        sample.status = str(was.get("status") or ("pending" if label else "unlabeled"))
        sample.version += 1
        sample.updated_at, sample.updated_by = now, who
        item.before, item.after_version, item.outcome_status, item.outcome_label = None, None, None, None
    item.state, item.closed_at, item.closed_by = "open", None, None
    return True


# --- adjudication ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DisputedSample:
    sample_id: int
    text: str
    label: str | None
    language: str
    judgements: list[Judgement]  # every judgement, side by side


def adjudication_queue(store: Store, project_id: int, limit: int | None = None) -> list[DisputedSample]:
    """The samples the rule gave no answer for, oldest first, each with all its judgements."""
    query = (
        select(SampleRow.id, SampleRow.text, SampleRow.label, SampleRow.language)
        .join(ReviewItemRow, ReviewItemRow.sample_id == SampleRow.id)
        .where(ReviewItemRow.project_id == project_id, ReviewItemRow.state == "adjudication")
        .order_by(ReviewItemRow.closed_at, ReviewItemRow.sample_id)  # the order of its index: a page reads a page
    )
    if limit is not None:
        query = query.limit(limit)
    with store.session() as session:
        rows = list(session.execute(query).tuples())
        by_sample = _judgements_of(session, [row[0] for row in rows])
    return [DisputedSample(*row, judgements=by_sample.get(row[0], [])) for row in rows]


@dataclass(frozen=True)
class Adjudicated:
    sample_id: int
    outcome: Outcome
    overrode: list[Judgement]  # the judgements that said otherwise


def adjudicate(store: Store, project_id: int, sample_id: int, decision: str, label: str | None = None) -> Adjudicated:
    """A lead decides a sample of the adjudication queue (accept its label, reject it, or give it a label); logged
    with every judgement and the ones it overrode."""
    now = utcnow()
    with store.session() as session:
        review_lock(session, project_id, shared=True)
        sample = _locked_sample(session, project_id, sample_id)
        item = _locked_item(session, sample_id)
        if item is None or item.state != "adjudication":
            where = "is not under review" if item is None else f"is not waiting for a decision (it is {item.state})"
            raise InvalidInput(f"Sample #{sample_id} {where}.")
        if decision == "edit":
            raise InvalidInput("Decide with accept, reject or a label; edit the text afterwards if it needs it.")
        outcome = outcome_of(decision, _given_label(session, sample, decision, label, None))
        judgements = [j for j in _sample_judgements(session, sample_id) if not j.gold]
        overrode = [j for j in judgements if j.outcome != outcome]
        before = _apply_outcome(session, sample, outcome, store.user, now)
        item.state, (item.outcome_status, item.outcome_label) = "adjudicated", outcome
        item.closed_at, item.closed_by = now, store.user
        action_log.record(
            session,
            who=store.user,
            action="review.adjudicate",
            project_id=project_id,
            target=f"sample:{sample_id}",
            before=before,
            after={
                "status": sample.status,
                "label": sample.label,
                "version": sample.version,
                "judgements": _brief(judgements),
                "overrode": [j.id for j in overrode],
            },
        )
    return Adjudicated(sample_id, outcome, overrode)


# --- reading -----------------------------------------------------------------------------------------------------


def _judgements_of(session: Session, sample_ids: Collection[int]) -> dict[int, list[Judgement]]:
    found: dict[int, list[Judgement]] = defaultdict(list)
    ids = sorted(set(sample_ids))
    for start in range(0, len(ids), 5000):
        query = (
            select(JudgementRow)
            .where(JudgementRow.sample_id.in_(ids[start : start + 5000]))
            .order_by(JudgementRow.sample_id, JudgementRow.id)
        )
        for row in session.scalars(query):
            found[row.sample_id].append(_judgement(row))
    return found


def judgements_of_sample(store: Store, sample_id: int) -> list[Judgement]:
    with store.session() as session:
        return _sample_judgements(session, sample_id)


def has_judged(store: Store, sample_id: int, annotator: str) -> bool:
    with store.session() as session:
        query = select(JudgementRow.id).where(JudgementRow.sample_id == sample_id, JudgementRow.annotator == annotator)
        return session.scalar(query) is not None


@dataclass(frozen=True)
class ProjectJudgement:
    judgement: Judgement
    language: str


def project_judgements(store: Store, project_id: int) -> list[ProjectJudgement]:
    """Every judgement of the project with its sample's language, by sample then time."""
    query = (
        select(JudgementRow, SampleRow.language)
        .join(SampleRow, SampleRow.id == JudgementRow.sample_id)
        .where(JudgementRow.project_id == project_id)
        .order_by(JudgementRow.sample_id, JudgementRow.id)
    )
    with store.session() as session:
        return [ProjectJudgement(_judgement(row), language) for row, language in session.execute(query).tuples()]


def final_outcomes(store: Store, project_id: int) -> dict[int, Outcome]:
    """sample id -> what the review made of it (by the rule, a lead's adjudication or a lead's direct decision)."""
    query = select(ReviewItemRow.sample_id, ReviewItemRow.outcome_status, ReviewItemRow.outcome_label).where(
        ReviewItemRow.project_id == project_id,
        ReviewItemRow.state.in_(("resolved", "adjudicated", "decided")),
        ReviewItemRow.outcome_status.is_not(None),
    )
    with store.session() as session:
        return {sample_id: (str(status), label) for sample_id, status, label in session.execute(query).tuples()}


def judgements_for_export(store: Store, project_id: int) -> dict[int, list[dict[str, Any]]]:
    """sample id -> its judgements as plain records (the export's `judgements` column)."""
    found: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for entry in project_judgements(store, project_id):
        record = asdict(entry.judgement)
        record["at"] = entry.judgement.at.isoformat()
        del record["sample_id"]
        found[entry.judgement.sample_id].append(record)
    return found

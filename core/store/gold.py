"""Gold samples: human samples a lead marked with their right label, mixed into the review queues unannounced."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field

from sqlalchemy import delete, select

from core.store import action_log
from core.store.database import Store
from core.store.schema import AssignmentRow, GoldSampleRow, SampleRow, utcnow


@dataclass(frozen=True)
class GoldMarks:
    marked: int
    already: int = 0
    refused: dict[str, int] = field(default_factory=dict)  # reason -> samples


def mark_gold(store: Store, project_id: int, ids: Collection[int]) -> GoldMarks:
    """Mark these samples of the project as gold, each with its current label; only labelled human samples that are
    not under review qualify (the others are counted with the reason)."""
    wanted = sorted(set(ids))
    refused: dict[str, int] = {}
    marked = already = 0
    now = utcnow()
    with store.session() as session:
        rows = session.execute(
            select(SampleRow.id, SampleRow.origin, SampleRow.label, GoldSampleRow.id)
            .outerjoin(GoldSampleRow, GoldSampleRow.sample_id == SampleRow.id)
            .where(SampleRow.project_id == project_id, SampleRow.id.in_(wanted))
        ).tuples()
        reviewed = set(
            session.scalars(
                select(AssignmentRow.sample_id).where(
                    AssignmentRow.sample_id.in_(wanted), AssignmentRow.state != "removed", AssignmentRow.gold.is_(False)
                )
            )
        )
        found = 0
        for sample_id, origin, label, gold_id in rows:
            found += 1
            reason = None
            if gold_id is not None:
                already += 1
                continue
            if origin != "human":
                reason = "not written by a person (only human samples can be gold)"
            elif not label:
                reason = "without a label"
            elif sample_id in reviewed:
                reason = "under review by annotators"
            if reason:
                refused[reason] = refused.get(reason, 0) + 1
                continue
            row = GoldSampleRow(project_id=project_id, sample_id=sample_id, label=label, marked_at=now)
            row.marked_by = store.user
            session.add(row)
            marked += 1
        if len(wanted) > found:
            refused["not in this project"] = len(wanted) - found
        if marked:
            action_log.record(
                session, who=store.user, action="review.gold", project_id=project_id, after={"marked": marked}
            )
    return GoldMarks(marked, already, refused)


def unmark_gold(store: Store, project_id: int, ids: Collection[int]) -> int:
    """The samples are gold no more (judgements already made of them stay); returns how many were."""
    with store.session() as session:
        result = session.execute(
            delete(GoldSampleRow).where(
                GoldSampleRow.project_id == project_id, GoldSampleRow.sample_id.in_(sorted(set(ids)))
            )
        )
        count = int(getattr(result, "rowcount", 0) or 0)
        if count:
            action_log.record(
                session, who=store.user, action="review.gold", project_id=project_id, after={"unmarked": count}
            )
        return count


def gold_labels(store: Store, project_id: int) -> dict[int, str]:
    """sample id -> its right label, for every gold sample of the project."""
    with store.session() as session:
        query = select(GoldSampleRow.sample_id, GoldSampleRow.label).where(GoldSampleRow.project_id == project_id)
        return {sample_id: label for sample_id, label in session.execute(query).tuples()}

"""The review queues read a page in their own order, ties in the sort key broken by the sample, on SQLite and
PostgreSQL: an annotator's queue (position, then assignment) with its counts, and the adjudication queue (oldest
first, then the sample)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update

from core.front.review import adjudication_queue, assign, judge, my_queue
from core.store import Store
from core.store.schema import AssignmentRow, ReviewItemRow
from tests.review.support import make_project, make_team


def test_ties_in_the_sort_key_keep_one_order_page_after_page(store: Store) -> None:
    team = make_team(store, {"anna": ["en"], "ben": ["en"]})
    project = make_project(team, {"en": 6})
    assign(team.lead, project, ["anna", "ben"], overlap=2)
    with store.session() as session:  # every open assignment of anna at the same place of her queue
        session.execute(update(AssignmentRow).where(AssignmentRow.annotator == "anna").values(position=7))
        anna = list(
            session.scalars(
                select(AssignmentRow.sample_id).where(AssignmentRow.annotator == "anna").order_by(AssignmentRow.id)
            )
        )
    mine = my_queue(team["anna"], project, 4)
    assert [e.sample_id for e in mine.entries] == anna[:4] and (mine.open, mine.done) == (6, 0)

    for sample_id in anna:  # anna and ben disagree on every sample: each waits for a lead
        judge(team["anna"], project, sample_id, "accept")
        judge(team["ben"], project, sample_id, "reject")
    mine = my_queue(team["anna"], project)
    assert (mine.entries, mine.open, mine.done) == ([], 0, 6)
    same, older = datetime(2026, 1, 2), datetime(2026, 1, 1)
    with store.session() as session:  # closed at the same time, but for the last one, closed earlier
        session.execute(update(ReviewItemRow).values(closed_at=same))
        session.execute(update(ReviewItemRow).where(ReviewItemRow.sample_id == anna[-1]).values(closed_at=older))
    expected = [anna[-1], *sorted(anna[:-1])]
    assert [d.sample_id for d in adjudication_queue(team.lead, project)] == expected
    assert [d.sample_id for d in adjudication_queue(team.lead, project, 3)] == expected[:3]
    [first] = adjudication_queue(team.lead, project, 1)
    assert [(j.annotator, j.decision) for j in first.judgements] == [("anna", "accept"), ("ben", "reject")]

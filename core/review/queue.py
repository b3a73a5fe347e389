"""An annotator's queue: their open assignments in order, with nothing of anyone else's judgement (nor whether a
sample is a gold check); and who may see the judgements of a sample."""

from __future__ import annotations

from core.store import assignments, judgements
from core.store.assignments import QueueEntry
from core.store.database import Store
from core.store.judgements import Judgement

__all__ = ["QueueEntry", "judgements_for", "next_sample", "queue"]


def queue(store: Store, project_id: int, annotator: str, limit: int | None = None) -> list[QueueEntry]:
    """Every open assignment of the annotator in the project, in queue order (the first `limit` of them)."""
    return assignments.open_queue(store, project_id, annotator, limit)


def next_sample(store: Store, project_id: int, annotator: str) -> QueueEntry | None:
    found = assignments.open_queue(store, project_id, annotator, 1)
    return found[0] if found else None


def judgements_for(store: Store, sample_id: int, viewer: str, *, sees_all: bool) -> list[Judgement]:
    """The judgements of a sample as `viewer` may see them: all of them for whoever leads the review
    (`sees_all`) or has judged the sample; none for an annotator who has not given theirs yet."""
    if sees_all or judgements.has_judged(store, sample_id, viewer):
        return judgements.judgements_of_sample(store, sample_id)
    return []

"""Gold checks: a lead marks human samples with their right label as gold; when the project has gold checks on,
distributing work mixes them into the queues unannounced, and leads see each annotator's accuracy on them."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from core.store import gold as stored
from core.store import judgements
from core.store.database import Store
from core.store.gold import GoldMarks

__all__ = ["GoldAccuracy", "GoldMarks", "gold_accuracy", "mark", "marks_message", "unmark"]


def mark(store: Store, project_id: int, ids: Collection[int]) -> GoldMarks:
    return stored.mark_gold(store, project_id, ids)


def unmark(store: Store, project_id: int, ids: Collection[int]) -> int:
    return stored.unmark_gold(store, project_id, ids)


def marks_message(marks: GoldMarks) -> str:
    text = f"Marked {marks.marked:,} sample{'' if marks.marked == 1 else 's'} as gold."
    if marks.already:
        text += f" {marks.already:,} were gold already."
    for reason, n in marks.refused.items():
        text += f" {n:,} left as they are: {reason}."
    return text


@dataclass(frozen=True)
class GoldAccuracy:
    annotator: str
    checked: int  # gold samples they judged
    correct: int  # ... giving the right label

    @property
    def accuracy(self) -> float | None:
        return self.correct / self.checked if self.checked else None


def gold_accuracy(store: Store, project_id: int) -> list[GoldAccuracy]:
    """Each annotator's judgements of gold samples: right when they give the gold label (a rejection never is)."""
    right = stored.gold_labels(store, project_id)
    tally: dict[str, list[int]] = {}
    for entry in judgements.project_judgements(store, project_id):
        judgement = entry.judgement
        if not judgement.gold or judgement.sample_id not in right:
            continue
        counts = tally.setdefault(judgement.annotator, [0, 0])
        counts[0] += 1
        counts[1] += judgement.decision != "reject" and judgement.label == right[judgement.sample_id]
    return [GoldAccuracy(name, checked, correct) for name, (checked, correct) in sorted(tally.items())]

"""What a sample's judgements decide: the project's rule (unanimous, or a majority of at least k judgements), an
annotator's judgement and its undo, and a lead's adjudication of the samples the rule gave no answer for."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from core.errors import InvalidInput
from core.store import judgements as stored
from core.store.database import Store
from core.store.judgements import Adjudicated, Judgement, Outcome, UndoneJudgement
from core.store.schema import REVIEW_RULES

__all__ = ["JudgeResult", "adjudicate", "decide_by_rule", "describe", "judge", "undo_last"]


def decide_by_rule(outcomes: Sequence[Outcome], overlap: int, rule: str) -> Outcome | None:
    """The answer of k judgements (each an outcome: ("accepted", label) or ("rejected", None)); None when the rule
    gives none (the sample goes to adjudication) or there are fewer than k.

    unanimous: every judgement the same. majority: one outcome in more than half of them."""
    if rule not in REVIEW_RULES:
        raise InvalidInput(f"Unknown rule '{rule}': use one of {', '.join(REVIEW_RULES)}.")
    if not outcomes or len(outcomes) < overlap:
        return None
    top, count = Counter(outcomes).most_common(1)[0]
    if rule == "unanimous":
        return top if count == len(outcomes) else None
    return top if count * 2 > len(outcomes) else None


def describe(outcome: Outcome) -> str:
    status, label = outcome
    return "rejected" if status == "rejected" else f"accepted as '{label}'"


@dataclass(frozen=True)
class JudgeResult:
    judgement: Judgement
    state: str  # the sample's review: open | resolved | adjudication | gold (a check: never said to the annotator)
    outcome: Outcome | None

    @property
    def message(self) -> str:
        """What the annotator is told: their judgement is saved; nothing of the others' (nor of gold checks)."""
        return f"Saved your judgement of sample #{self.judgement.sample_id}."


_DECISIONS = {"accept": "accept", "reject": "reject", "label": "label", "relabel": "label", "edit": "edit"}


def judge(
    store: Store,
    project_id: int,
    sample_id: int,
    decision: str,
    *,
    label: str | None = None,
    text: str | None = None,
    seconds: float | None = None,
) -> JudgeResult:
    """This store's user judges a sample of their queue."""
    if decision not in _DECISIONS:
        raise InvalidInput(f"Unknown decision '{decision}': accept, reject, label (with a label) or edit (a text).")
    if seconds is not None and not 0 <= seconds < 86_400:
        raise InvalidInput("The time taken must be between 0 seconds and a day.")
    recorded = stored.record_judgement(
        store, project_id, sample_id, _DECISIONS[decision], rule=decide_by_rule, label=label, text=text, seconds=seconds
    )
    return JudgeResult(recorded.judgement, recorded.state, recorded.outcome)


def undo_last(store: Store, project_id: int) -> UndoneJudgement:
    """Take back this store's user's last judgement in the project (the sample is back in their queue)."""
    return stored.undo_last_judgement(store, project_id)


def adjudicate(store: Store, project_id: int, sample_id: int, decision: str, label: str | None = None) -> Adjudicated:
    """A lead decides a sample of the adjudication queue: accept (its label), reject, or label (with a label)."""
    if decision not in ("accept", "reject", "label", "relabel"):
        raise InvalidInput(f"Unknown decision '{decision}': accept, reject or label (with a label).")
    return stored.adjudicate(store, project_id, sample_id, _DECISIONS[decision], label)

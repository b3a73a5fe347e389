"""What curators do to samples: accept, reject, relabel, edit the text, label an unlabeled one.

One by one (with optimistic locking: a change names the version it was made on, and a sample changed meanwhile
by someone else is refused with a readable message, never silently overwritten) or in bulk (by a selection of
ids or by a filter). Every change is one row in the action log (who, when, before -> after); a bulk change shares
one batch id, which is what "undo the last bulk action" reverts. A single decision is undone by its log row (see
`undo_decision`): the sample goes back to the state before it, unless it changed again since. The rows are read
and written, and the rules checked, by `core.store.sample_changes`; this module says what happened in words.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from core.errors import InvalidInput, PermissionDenied
from core.store import accounts, sample_changes
from core.store.database import Store
from core.store.sample_changes import BulkAction, decision_noun, describe_state, last_bulk_action
from core.store.samples import Sample, SampleFilter, get_sample

__all__ = [
    "BulkAction",
    "BulkResult",
    "Decision",
    "UndoResult",
    "UndoneDecision",
    "bulk_change",
    "change_sample",
    "decide",
    "last_bulk_action",
    "undo_decision",
    "undo_last_bulk",
]


@dataclass(frozen=True)
class BulkResult:
    batch: str | None  # None when nothing changed
    action: str
    changed: int
    unchanged: int = 0  # already in the asked state
    refused: list[str] = field(default_factory=list)  # readable reasons, one per kind of refusal
    conflicts: int = 0  # changed by someone else since the caller read them

    @property
    def message(self) -> str:
        parts = [f"{self.changed:,} sample{'s' if self.changed != 1 else ''} {_past(self.action)}"]
        if self.unchanged:
            parts.append(f"{self.unchanged:,} already were")
        if self.conflicts:
            parts.append(f"{self.conflicts:,} left as they are because someone else changed them meanwhile")
        return "; ".join(parts) + "." + "".join(f" {r}" for r in self.refused)


@dataclass(frozen=True)
class UndoResult:
    batch: str
    action: str
    restored: int
    skipped: int  # changed again since the bulk action: left as they are

    @property
    def message(self) -> str:
        text = f"Undid '{self.action}': {self.restored:,} sample{'s' if self.restored != 1 else ''} restored."
        if self.skipped:
            text += f" {self.skipped:,} were changed again since then and were left as they are."
        return text


def _past(action: str) -> str:
    return {
        "accept": "accepted",
        "reject": "rejected",
        "relabel": "relabelled",
        "edit": "edited",
        "label": "labelled",
        "reset": "set back to pending",
    }.get(action, action)


@dataclass(frozen=True)
class Decision:
    sample: Sample  # as it is after the change
    action_id: int | None  # its row in the action log (what `undo_decision` takes); None when nothing changed


def change_sample(
    store: Store,
    sample_id: int,
    action: str,
    *,
    version: int,
    label: str | None = None,
    text: str | None = None,
) -> Sample:
    """Change one sample, made on `version` (the version the person saw). Raises EditConflict when it changed."""
    return decide(store, sample_id, action, version=version, label=label, text=text).sample


def decide(
    store: Store,
    sample_id: int,
    action: str,
    *,
    version: int,
    label: str | None = None,
    text: str | None = None,
) -> Decision:
    """`change_sample`, also saying which action-log row recorded the change (so that it can be undone)."""
    action_id = sample_changes.change_one(store, sample_id, action, version=version, label=label, text=text)
    changed = get_sample(store, sample_id)
    assert changed is not None
    return Decision(changed, action_id)


@dataclass(frozen=True)
class UndoneDecision:
    sample: Sample  # as it is after the undo
    action: str  # the decision undone: accept, reject, relabel, label, edit, reset

    @property
    def message(self) -> str:
        what = (
            "its old text is back"
            if self.action == "edit"
            else "it is " + describe_state(self.sample.status, self.sample.label) + " again"
        )
        return f"Undone: your {decision_noun(self.action)} of sample #{self.sample.id}; {what}."


def undo_decision(store: Store, action_id: int, *, team: bool = False, anyones: bool = False) -> UndoneDecision:
    """Undo one decision on one sample (its action-log row `action_id`, made by this store's user): the sample's
    status, label and, for an edit, text go back to what they were before it. Refused with EditConflict when the
    sample changed since (by anyone: the newer change is never silently overwritten). The undo is logged too.

    In team mode (`team`) an annotator may undo only their own decisions (PermissionDenied otherwise), a lead or an
    owner anyone's (`anyones`)."""
    if team and not anyones:
        maker = accounts.action_maker(store, action_id)
        if maker is not None and maker != store.user:
            raise PermissionDenied(
                f"permission denied: undoing someone else's decision needs the role lead or owner; this decision "
                f"was made by {maker}, and {store.user} may undo only their own"
            )
    undone = sample_changes.undo_one(store, action_id, anyones=anyones)
    restored = get_sample(store, undone.sample_id)
    assert restored is not None
    return UndoneDecision(restored, undone.action)


def bulk_change(
    store: Store,
    project_id: int,
    action: str,
    *,
    ids: list[int] | None = None,
    versions: dict[int, int] | None = None,
    flt: SampleFilter | None = None,
    label: str | None = None,
    labels_by_id: dict[int, str] | None = None,
) -> BulkResult:
    """Apply one action to a selection (`ids`, optionally with the `versions` the person saw) or to every sample
    matching `flt`, in one transaction; `labels_by_id` relabels a selection to several labels at once.

    Samples the action cannot apply to (accepting an unlabeled one) and samples changed meanwhile are left alone
    and counted; everything else changes."""
    if action == "edit":
        raise InvalidInput("Texts are edited one at a time.")
    if labels_by_id:
        ids = list(labels_by_id)
    if (ids is None) == (flt is None):
        raise InvalidInput("Say which samples: a selection or a filter.")
    counts = sample_changes.change_many(
        store, project_id, action, ids=ids, versions=versions, flt=flt, label=label, labels_by_id=labels_by_id
    )
    return BulkResult(
        batch=counts.batch if counts.changed else None,
        action=action,
        changed=counts.changed,
        unchanged=counts.unchanged,
        refused=[_refusal_sentence(reason, n) for reason, n in counts.refusals.items()],
        conflicts=counts.conflicts,
    )


def _refusal_sentence(reason: str, n: int) -> str:
    if reason == "no label":
        return f"{n:,} without a label were left as they are (label them first)."
    if reason == "has label":
        return f"{n:,} already had a label and were left as they are (use relabel)."
    return reason


def undo_last_bulk(store: Store, project_id: int) -> UndoResult:
    """Revert the last bulk action: each sample goes back to its state before it, unless it was changed again
    since (its version moved on), in which case it is left as it is and counted."""
    last = last_bulk_action(store, project_id)
    if last is None:
        raise InvalidInput("There is no bulk action to undo in this project.")
    counts = sample_changes.undo_bulk(store, project_id, last)
    return UndoResult(batch=last.batch, action=last.action, restored=counts.restored, skipped=counts.skipped)

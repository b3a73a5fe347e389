"""Changing samples' status, label and text, one at a time or in bulk, with their action-log rows, and undoing them.

The rules a change must keep (accepting needs a label, a text is never empty, a label is one of the project's)
and optimistic locking (a change names the version it was made on; a sample changed meanwhile is refused or left
alone, never silently overwritten) are checked here, inside the transaction that writes. Every change is one row in
the action log (who, when, before -> after); a bulk change shares one batch id. What the curator is told is
`core.curation.sample_actions`'s.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from core.errors import EditConflict, InvalidInput, NotFound
from core.store import action_log, assignments
from core.store.database import Store
from core.store.samples import SampleFilter, content_key
from core.store.schema import ActionRow, FlagRow, LabelRow, SampleRow, utcnow

ACTIONS: tuple[str, ...] = ("accept", "reject", "relabel", "edit", "label", "reset")
BULK_PREFIX = "bulk "  # action-log name of a change made as part of a bulk action, e.g. "bulk accept"
UNDO_ACTION = "undo"
UNDO_PREFIX = "undo "  # action-log name of an undone change, e.g. "undo relabel"
_CHUNK = 2000


def describe_state(status: str, label: str | None) -> str:
    return f"'{status}'" + (f", label '{label}'" if label else "")


def decision_noun(action: str) -> str:
    """A decision in words: 'acceptance', 'new label', ..."""
    return {
        "accept": "acceptance",
        "reject": "rejection",
        "relabel": "new label",
        "label": "label",
        "edit": "text edit",
        "reset": "reset to pending",
    }.get(action, action)


def _labels(session: Session, project_id: int) -> list[str]:
    query = select(LabelRow.name).where(LabelRow.project_id == project_id).order_by(LabelRow.position)
    return list(session.scalars(query))


def _state(row: SampleRow) -> dict[str, Any]:
    return {"status": row.status, "label": row.label, "version": row.version}


def _target_values(action: str, row: SampleRow, label: str | None, text: str | None) -> dict[str, Any]:
    """The new column values for one sample, or an InvalidInput saying why this action cannot apply to it."""
    if action == "accept":
        if not row.label:
            raise InvalidInput(f"Sample #{row.id} has no label yet: give it one before accepting it.")
        return {"status": "accepted"}
    if action == "reject":
        return {"status": "rejected"}
    if action == "reset":
        return {"status": "pending" if row.label else "unlabeled"}
    if action in ("relabel", "label"):
        if action == "label" and row.label:
            raise InvalidInput(f"Sample #{row.id} already has the label '{row.label}': relabel it instead.")
        return {"label": label, "status": "accepted"}  # a person chose the label: that is a decision
    if action == "edit":
        cleaned = (text or "").strip()
        if not cleaned:
            raise InvalidInput("The text cannot be empty. Reject the sample instead if it is of no use.")
        return {"text": cleaned}
    raise InvalidInput(f"Unknown action '{action}'. Use one of: {', '.join(ACTIONS)}.")


def _check_label(action: str, label: str | None, known: list[str]) -> None:
    if action in ("relabel", "label"):
        if not label:
            raise InvalidInput("Pick a label.")
        if label not in known:
            raise InvalidInput(f"'{label}' is not a label of this project. Its labels are: {', '.join(known)}.")


def _changes(row: SampleRow, values: dict[str, Any]) -> bool:
    return any(getattr(row, key) != value for key, value in values.items())


def _apply(session: Session, row: SampleRow, values: dict[str, Any], who: str, now: datetime) -> dict[str, Any]:
    """Write the values (with the next version); returns the log's `after`."""
    if "text" in values or "label" in values:
        text = values.get("text", row.text)
        label = values.get("label", row.label)
        values = {**values, "content_key": content_key(text, label, row.language, row.split, row.origin)}
    if "text" in values:  # the flags described the old text: the next flag run recomputes them
        session.execute(delete(FlagRow).where(FlagRow.sample_id == row.id))
    for key, value in values.items():
        setattr(row, key, value)
    row.version += 1
    row.updated_at = now
    row.updated_by = who
    return {key: value for key, value in values.items() if key != "content_key"} | {"version": row.version}


def _log_one(
    session: Session, who: str, action: str, row: SampleRow, before: dict[str, Any], after: dict[str, Any]
) -> int:
    entry = ActionRow(
        project_id=row.project_id, who=who, action=action, target=f"sample:{row.id}", before=before, after=after
    )
    session.add(entry)
    session.flush()
    return entry.id


def change_one(
    store: Store,
    sample_id: int,
    action: str,
    *,
    version: int,
    label: str | None = None,
    text: str | None = None,
) -> int | None:
    """Change one sample, made on `version` (the version the person saw); returns the action-log row that records
    it (None when nothing changed). Raises EditConflict when the sample changed since."""
    now = utcnow()
    action_id = None
    with store.session() as session:
        row = session.get(SampleRow, sample_id, with_for_update=True)
        if row is None:
            raise NotFound(f"Sample #{sample_id} does not exist (any more).")
        _check_label(action, label, _labels(session, row.project_id))
        if row.version != version:
            raise EditConflict(
                f"Sample #{sample_id} was changed by {row.updated_by} at {row.updated_at:%H:%M:%S} since you opened "
                f"it (it is now '{row.status}'"
                + (f", label '{row.label}'" if row.label else "")
                + "). Your change was not saved: look at the sample again and redo it if it still applies."
            )
        values = _target_values(action, row, label, text)
        if _changes(row, values):
            before = _state(row) | ({"text": row.text} if "text" in values else {})
            after = _apply(session, row, values, store.user, now)
            action_id = _log_one(session, store.user, action, row, before, after)
            assignments.close_for_decisions(session, [row.id], store.user, action)  # out of every review queue
    return action_id


@dataclass(frozen=True)
class UndoneChange:
    sample_id: int
    action: str  # the decision undone: accept, reject, relabel, label, edit, reset


def undo_one(store: Store, action_id: int, *, anyones: bool = False) -> UndoneChange:
    """Undo one decision on one sample (its action-log row `action_id`, made by this store's user unless `anyones`:
    a lead or an owner in team mode): the sample's status, label and, for an edit, text go back to what they were
    before it. Refused with EditConflict when the sample changed since (by anyone: the newer change is never
    silently overwritten). The undo is logged too."""
    now = utcnow()
    with store.session() as session:
        entry = session.get(ActionRow, action_id)
        if (
            entry is None
            or entry.batch is not None
            or entry.action not in ACTIONS
            or not entry.target.startswith("sample:")
        ):
            raise InvalidInput("There is no decision on a sample with that number to undo.")
        if not anyones and entry.who != store.user:
            raise InvalidInput(f"That decision was made by {entry.who}: only they can undo it.")
        undone = session.scalar(
            select(ActionRow.id).where(
                ActionRow.project_id == entry.project_id,
                ActionRow.target == entry.target,
                ActionRow.action == UNDO_PREFIX + entry.action,
                ActionRow.batch.is_(None),
                ActionRow.after["undoes"].as_integer() == action_id,
            )
        )
        sample_id = int(entry.target.split(":", 1)[1])
        if undone is not None:
            raise InvalidInput(f"Your {decision_noun(entry.action)} of sample #{sample_id} was undone already.")
        row = session.get(SampleRow, sample_id, with_for_update=True)
        if row is None:
            raise NotFound(f"Sample #{sample_id} does not exist (any more).")
        if row.version != (entry.after or {}).get("version"):
            raise EditConflict(
                f"Sample #{sample_id} was changed by {row.updated_by} at {row.updated_at:%H:%M:%S} after your "
                f"decision (it is now {describe_state(row.status, row.label)}). Your decision was not undone: look "
                "at the sample again and change it if it still needs it."
            )
        before = entry.before or {}
        values = {key: before[key] for key in ("status", "label", "text") if key in before}
        state = _state(row) | ({"text": row.text} if "text" in values else {})
        after = _apply(session, row, values, store.user, now) | {"undoes": action_id}
        _log_one(session, store.user, UNDO_PREFIX + entry.action, row, state, after)
        return UndoneChange(sample_id, entry.action)


@dataclass(frozen=True)
class BulkCounts:
    batch: str  # shared by the action-log rows of this change
    changed: int
    unchanged: int  # already in the asked state
    conflicts: int  # changed by someone else since the caller read them
    refusals: dict[str, int] = field(default_factory=dict)  # "no label", "has label" or a sentence -> samples


def change_many(
    store: Store,
    project_id: int,
    action: str,
    *,
    ids: list[int] | None = None,
    versions: dict[int, int] | None = None,
    flt: SampleFilter | None = None,
    label: str | None = None,
    labels_by_id: dict[int, str] | None = None,
) -> BulkCounts:
    """Apply one action to the samples `ids` (optionally with the `versions` the person saw; `labels_by_id`: a
    label per sample) or, without ids, to every sample matching `flt`, in one transaction. Samples the action cannot
    apply to and samples changed meanwhile are left alone and counted; everything else changes."""
    now = utcnow()
    batch = action_log.new_batch_id()
    changed = unchanged = conflicts = 0
    refusals: dict[str, int] = {}
    log_rows: list[dict[str, Any]] = []
    with store.session() as session:
        known = _labels(session, project_id)
        wanted_labels: set[str | None] = set(labels_by_id.values()) if labels_by_id else {label}
        for wanted_label in wanted_labels:
            _check_label(action, wanted_label, known)
        if ids is not None:
            wanted = sorted(set(ids))
            chunks = [wanted[i : i + _CHUNK] for i in range(0, len(wanted), _CHUNK)]
            found = 0
            for chunk in chunks:
                query = select(SampleRow).where(SampleRow.project_id == project_id, SampleRow.id.in_(chunk))
                rows = list(session.scalars(query.with_for_update()))
                found += len(rows)
                for row in rows:
                    if versions and row.id in versions and versions[row.id] != row.version:
                        conflicts += 1
                        continue
                    row_label = labels_by_id[row.id] if labels_by_id else label
                    result = _bulk_one(session, row, action, row_label, store.user, now, batch, project_id, log_rows)
                    changed, unchanged = changed + (result == "changed"), unchanged + (result == "unchanged")
                    if result not in ("changed", "unchanged"):
                        refusals[result] = refusals.get(result, 0) + 1
            missing = len(wanted) - found
            if missing:
                refusals[f"{missing:,} of the chosen samples are not in this project (any more)."] = missing
        else:
            assert flt is not None
            last_id = 0
            while True:
                flt_query = (
                    flt.apply(select(SampleRow), project_id)
                    .where(SampleRow.id > last_id)
                    .order_by(SampleRow.id)
                    .limit(_CHUNK)
                )
                rows = list(session.scalars(flt_query.with_for_update()))
                if not rows:
                    break
                last_id = rows[-1].id
                for row in rows:
                    result = _bulk_one(session, row, action, label, store.user, now, batch, project_id, log_rows)
                    changed, unchanged = changed + (result == "changed"), unchanged + (result == "unchanged")
                    if result not in ("changed", "unchanged"):
                        refusals[result] = refusals.get(result, 0) + 1
                session.flush()
        decided = [int(entry["target"].removeprefix("sample:")) for entry in log_rows]
        assignments.close_for_decisions(session, decided, store.user, action)  # out of every review queue
        action_log.record_many(session, log_rows)
    return BulkCounts(batch=batch, changed=changed, unchanged=unchanged, conflicts=conflicts, refusals=refusals)


def _bulk_one(
    session: Session,
    row: SampleRow,
    action: str,
    label: str | None,
    who: str,
    now: datetime,
    batch: str,
    project_id: int,
    log_rows: list[dict[str, Any]],
) -> str:
    if action == "accept" and not row.label:
        return "no label"
    if action == "label" and row.label:
        return "has label"
    values = _target_values(action, row, label, None)
    if not _changes(row, values):
        return "unchanged"
    before = _state(row)
    after = _apply(session, row, values, who, now)
    log_rows.append(
        {
            "project_id": project_id,
            "at": now,
            "who": who,
            "action": BULK_PREFIX + action,
            "target": f"sample:{row.id}",
            "batch": batch,
            "before": before,
            "after": after,
        }
    )
    return "changed"


@dataclass(frozen=True)
class BulkAction:
    batch: str
    action: str
    who: str
    at: datetime
    samples: int


def last_bulk_action(store: Store, project_id: int) -> BulkAction | None:
    """The most recent bulk action of the project that has not been undone (what `undo` would revert)."""
    with store.session() as session:
        undone = set(
            session.scalars(
                select(ActionRow.target).where(ActionRow.project_id == project_id, ActionRow.action == UNDO_ACTION)
            )
        )
        query = (
            select(ActionRow.batch, ActionRow.action, ActionRow.who, ActionRow.at)
            .where(
                ActionRow.project_id == project_id,
                ActionRow.batch.is_not(None),
                ActionRow.action.startswith(BULK_PREFIX),
            )
            .order_by(ActionRow.id.desc())
        )
        for batch, action, who, at in session.execute(query):
            if batch is None or f"batch:{batch}" in undone:
                continue
            count = session.scalar(
                select(func.count(ActionRow.id)).where(ActionRow.project_id == project_id, ActionRow.batch == batch)
            )
            return BulkAction(batch=batch, action=action.removeprefix(BULK_PREFIX), who=who, at=at, samples=count or 0)
    return None


@dataclass(frozen=True)
class BulkUndoCounts:
    restored: int
    skipped: int  # changed again since the bulk action (or deleted): left as they are


def undo_bulk(store: Store, project_id: int, last: BulkAction) -> BulkUndoCounts:
    """Revert the bulk action `last`: each sample goes back to its state before it, unless it was changed again
    since (its version moved on), in which case it is left as it is and counted. Logged as one undo batch."""
    now = utcnow()
    restored = skipped = 0
    log_rows: list[dict[str, Any]] = []
    undo_batch = action_log.new_batch_id()
    with store.session() as session:
        entries = list(
            session.execute(
                select(ActionRow.target, ActionRow.before, ActionRow.after).where(
                    ActionRow.project_id == project_id, ActionRow.batch == last.batch
                )
            ).tuples()
        )
        by_id = {int(target.split(":", 1)[1]): (before, after) for target, before, after in entries}
        ids = sorted(by_id)
        for start in range(0, len(ids), _CHUNK):
            chunk = ids[start : start + _CHUNK]
            rows = session.scalars(select(SampleRow).where(SampleRow.id.in_(chunk)).with_for_update())
            for row in rows:
                before, after = by_id[row.id]
                if row.version != (after or {}).get("version"):
                    skipped += 1
                    continue
                was = before or {}
                values = {key: was[key] for key in ("status", "label") if key in was}
                state = _state(row)
                new_state = _apply(session, row, values, store.user, now)
                log_rows.append(
                    {
                        "project_id": project_id,
                        "at": now,
                        "who": store.user,
                        "action": UNDO_PREFIX + last.action,
                        "target": f"sample:{row.id}",
                        "batch": undo_batch,
                        "before": state,
                        "after": new_state,
                    }
                )
                restored += 1
        skipped += len(ids) - restored - skipped  # deleted samples
        action_log.record_many(session, log_rows)
        action_log.record(
            session,
            who=store.user,
            action=UNDO_ACTION,
            project_id=project_id,
            target=f"batch:{last.batch}",
            before={"action": last.action, "samples": last.samples},
            after={"restored": restored, "skipped": skipped, "batch": undo_batch},
        )
    return BulkUndoCounts(restored=restored, skipped=skipped)

"""Storing an import: new labels and languages, the samples with their flags and the action-log row, in ONE
transaction, one import of a project at a time. Reading and checking the file is `core.io.importer`'s."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, func, insert, select
from sqlalchemy.orm import Session, selectinload

from core.errors import NotFound
from core.language_names import language_name
from core.store import action_log
from core.store.bulk import bulk_insert
from core.store.database import Store
from core.store.locks import hold_write_lock
from core.store.schema import FlagRow, LabelRow, LanguageRow, ProjectRow, SampleRow, utcnow

SAMPLE_COLUMNS = (
    "text",
    "label",
    "language",
    "split",
    "origin",
    "status",
    "content_key",
    "source",
    "generation_run_id",
    "prompt_version",
    "model",
)
LATE_SKIP_REASON = "stored meanwhile by another import"


def stored_content_keys(store: Store, project_id: int) -> set[str]:
    """The content keys of the project's samples (what an import skips as already there)."""
    with store.session() as session:
        return set(session.scalars(select(SampleRow.content_key).where(SampleRow.project_id == project_id)))


@dataclass(frozen=True)
class StoredImport:
    imported: int
    late_skips: int  # rows another import stored after the plan was made: skipped
    labels_added: list[str]
    languages_added: list[str]
    skipped_reasons: dict[str, int]  # as given, with the late skips added


def store_import(
    store: Store,
    project_id: int,
    records: Sequence[Mapping[str, Any]],
    *,
    labels_to_add: list[str],
    languages_to_add: list[str],
    source: str,
    skipped_reasons: dict[str, int],
) -> StoredImport:
    """Store checked rows in one transaction: everything or nothing.

    Each record holds the `SAMPLE_COLUMNS` and `flags` (a list of {kind, reason, details}). Labels and languages
    the project does not have yet are added first. Records whose content key is in the project by now (another
    import stored them after the plan was made) are skipped and counted."""
    now = utcnow()
    who = store.user
    with store.session() as session:
        # one import of this project at a time, across processes: what another import stored before this lock
        # was granted is seen below and skipped
        hold_write_lock(session, "import", project_id)
        row = session.scalar(
            select(ProjectRow)
            .where(ProjectRow.id == project_id)
            .options(selectinload(ProjectRow.labels), selectinload(ProjectRow.languages))
        )
        if row is None:
            raise NotFound(f"There is no project #{project_id}.")
        labels_added = [n for n in labels_to_add if n not in {label.name for label in row.labels}]
        languages_added = [c for c in languages_to_add if c not in {lang.code for lang in row.languages}]
        for name in labels_added:
            row.labels.append(LabelRow(position=len(row.labels), name=name, description="", names={}))
        for code in languages_added:
            row.languages.append(LanguageRow(position=len(row.languages), code=code, name=language_name(code)))
        if labels_added or languages_added:
            row.updated_at, row.updated_by = now, who
        session.flush()
        # a concurrent import may have stored some rows since the plan was made
        existing = set(session.scalars(select(SampleRow.content_key).where(SampleRow.project_id == project_id)))
        kept = [r for r in records if r["content_key"] not in existing]
        late_skips = len(records) - len(kept)
        rows = [
            {
                **{c: r[c] for c in SAMPLE_COLUMNS},
                "project_id": project_id,
                "version": 1,
                "created_at": now,
                "created_by": who,
                "updated_at": now,
                "updated_by": who,
            }
            for r in kept
        ]
        first_id = last_id = None
        if rows:
            want_ids = any(r["flags"] for r in kept)
            first_id, last_id, ids = _insert_samples(session, project_id, rows, now, want_ids)
            flag_rows = [
                {
                    "sample_id": sample_id,
                    "project_id": project_id,
                    "kind": str(f["kind"]),
                    "reason": str(f.get("reason", "")),
                    "details": f.get("details") or {},
                    "created_at": now,
                }
                for sample_id, record in zip(ids, kept, strict=False)
                for f in record["flags"]
            ]
            if flag_rows:
                session.execute(insert(FlagRow), flag_rows)
        reasons = dict(skipped_reasons)
        if late_skips:
            reasons[LATE_SKIP_REASON] = late_skips
        action_log.record(
            session,
            who=who,
            action="samples.import",
            project_id=project_id,
            target=f"project:{project_id}",
            after={
                "source": source,
                "imported": len(rows),
                "first_id": first_id,
                "last_id": last_id,
                "skipped": reasons,
                "labels_added": labels_added,
                "languages_added": languages_added,
            },
        )
    return StoredImport(
        imported=len(rows),
        late_skips=late_skips,
        labels_added=labels_added,
        languages_added=languages_added,
        skipped_reasons=reasons,
    )


def _insert_samples(
    session: Session, project_id: int, rows: list[dict[str, Any]], stamp: datetime, want_ids: bool
) -> tuple[int, int, list[int]]:
    """Bulk insert; returns the first and last new id, and (when asked) every new id in row order.

    The rows of one import share their `created_at` stamp, which finds them again.
    """
    bulk_insert(session, cast(Table, SampleRow.__table__), rows)
    mine = (SampleRow.project_id == project_id, SampleRow.created_at == stamp)
    first, last = session.execute(select(func.min(SampleRow.id), func.max(SampleRow.id)).where(*mine)).one()
    if not want_ids:
        return first, last, []
    by_key: dict[str, list[int]] = defaultdict(list)
    for sample_id, key in session.execute(
        select(SampleRow.id, SampleRow.content_key).where(*mine).order_by(SampleRow.id)
    ):
        by_key[key].append(sample_id)
    return first, last, [by_key[row["content_key"]].pop(0) for row in rows]

"""The near-duplicate threshold and scope a person chose, per (project, encoder): similarity scales differ by
model. Checking the values is `core.curation.threshold_help`'s."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from core.store.database import Store
from core.store.schema import CurationSettingRow, utcnow


@dataclass(frozen=True)
class ThresholdSetting:
    threshold: float
    scope: str
    updated_at: datetime
    updated_by: str


def get_threshold_setting(store: Store, project_id: int, encoder: str) -> ThresholdSetting | None:
    """The choice made for this project and encoder, or None when nobody chose yet."""
    with store.session() as session:
        row = session.scalar(
            select(CurationSettingRow).where(
                CurationSettingRow.project_id == project_id, CurationSettingRow.encoder == encoder
            )
        )
        if row is None:
            return None
        return ThresholdSetting(row.threshold, row.scope, row.updated_at, row.updated_by)


def save_threshold_setting(store: Store, project_id: int, encoder: str, threshold: float, scope: str) -> None:
    """Remember the choice (replacing an earlier one for this project and encoder), by this store's user."""
    with store.session() as session:
        row = session.scalar(
            select(CurationSettingRow).where(
                CurationSettingRow.project_id == project_id, CurationSettingRow.encoder == encoder
            )
        )
        if row is None:
            row = CurationSettingRow(project_id=project_id, encoder=encoder, updated_by=store.user)
            session.add(row)
        row.threshold = threshold
        row.scope = scope
        row.updated_at = utcnow()
        row.updated_by = store.user

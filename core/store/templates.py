"""Prompt templates in the store: every saved edit is a new version; samples record the version that made them.

Checking a template before it is saved, and finding one by `NAME@VERSION`, is `core.generation.prompt_library`'s."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select

from core.errors import NotFound
from core.store import action_log
from core.store.database import Store
from core.store.schema import PromptTemplateRow


@dataclass(frozen=True)
class TemplateVersion:
    id: int
    project_id: int
    name: str
    version: int
    strategy: str
    system: str
    user: str
    note: str
    created_at: datetime
    created_by: str

    @property
    def ref(self) -> str:
        return f"{self.name}@{self.version}"


def _to_version(row: PromptTemplateRow) -> TemplateVersion:
    return TemplateVersion(
        row.id,
        row.project_id,
        row.name,
        row.version,
        row.strategy,
        row.system,
        row.user,
        row.note,
        row.created_at,
        row.created_by,
    )


def save_version(
    store: Store, project_id: int, name: str, *, strategy: str, system: str, user: str, note: str
) -> TemplateVersion:
    """Save the text as the template's next version (none when it is unchanged since the newest one); logged.
    The caller checks the name and the text first (`core.generation.prompt_library.save_template`)."""
    with store.session() as session:
        newest = session.scalar(
            select(PromptTemplateRow)
            .where(PromptTemplateRow.project_id == project_id, PromptTemplateRow.name == name)
            .order_by(PromptTemplateRow.version.desc())
            .limit(1)
        )
        if newest is not None and (newest.system, newest.user, newest.strategy) == (system, user, strategy):
            return _to_version(newest)
        row = PromptTemplateRow(
            project_id=project_id,
            name=name,
            version=(newest.version + 1) if newest else 1,
            strategy=strategy,
            system=system,
            user=user,
            note=note,
            created_by=store.user,
        )
        session.add(row)
        session.flush()
        action_log.record(
            session,
            who=store.user,
            action="template.save",
            project_id=project_id,
            target=f"template:{row.id}",
            before={"ref": f"{name}@{newest.version}"} if newest else None,
            after={"ref": f"{name}@{row.version}", "strategy": strategy},
        )
        return _to_version(row)


def find_template(store: Store, project_id: int, name: str, version: int | None) -> TemplateVersion | None:
    """A version of the named template (None: the newest), or None when there is none."""
    with store.session() as session:
        query = select(PromptTemplateRow).where(
            PromptTemplateRow.project_id == project_id, PromptTemplateRow.name == name
        )
        if version is None:
            query = query.order_by(PromptTemplateRow.version.desc()).limit(1)
        else:
            query = query.where(PromptTemplateRow.version == version)
        row = session.scalar(query)
        return _to_version(row) if row is not None else None


def template_versions(store: Store, project_id: int, name: str) -> list[TemplateVersion]:
    with store.session() as session:
        rows = session.scalars(
            select(PromptTemplateRow)
            .where(PromptTemplateRow.project_id == project_id, PromptTemplateRow.name == name)
            .order_by(PromptTemplateRow.version.desc())
        )
        return [_to_version(r) for r in rows]


def latest_templates(store: Store, project_id: int) -> list[TemplateVersion]:
    with store.session() as session:
        newest = (
            select(PromptTemplateRow.name, func.max(PromptTemplateRow.version).label("version"))
            .where(PromptTemplateRow.project_id == project_id)
            .group_by(PromptTemplateRow.name)
            .subquery()
        )
        rows = session.scalars(
            select(PromptTemplateRow)
            .join(newest, (PromptTemplateRow.name == newest.c.name) & (PromptTemplateRow.version == newest.c.version))
            .where(PromptTemplateRow.project_id == project_id)
            .order_by(PromptTemplateRow.name)
        )
        return [_to_version(r) for r in rows]


def template_by_id(store: Store, template_id: int) -> TemplateVersion:
    with store.session() as session:
        row = session.get(PromptTemplateRow, template_id)
        if row is None:
            raise NotFound(f"There is no prompt template #{template_id}.")
        return _to_version(row)

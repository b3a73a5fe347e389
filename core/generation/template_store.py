"""Prompt templates in the store: every saved edit is a new version; samples record the version that made them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select

from core.errors import InvalidInput, NotFound
from core.store import action_log
from core.store.database import Store
from core.store.schema import PromptTemplateRow

MAX_NAME = 200


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


def split_ref(ref: str) -> tuple[str, int | None]:
    """`NAME[@VERSION]` -> (name, version or None for the newest)."""
    name, separator, version = ref.strip().rpartition("@")
    if not separator:
        return ref.strip(), None
    if not version.isdigit():
        raise InvalidInput(f"'{ref}': the version after '@' must be a number, e.g. {name}@2.")
    return name.strip(), int(version)


def save_template(
    store: Store, project_id: int, name: str, *, strategy: str, user: str, system: str = "", note: str = ""
) -> TemplateVersion:
    """Save a new version (none when the text is unchanged since the newest one)."""
    from core.generation.prompt_render import PromptTemplateText
    from core.generation.prompt_validation import validate

    name = " ".join(name.split())
    if not name or "@" in name or len(name) > MAX_NAME:
        raise InvalidInput("A template needs a name without '@', at most 200 characters.")
    problems = [p for p in validate(PromptTemplateText(system=system, user=user)) if p.is_error]
    if problems:
        raise InvalidInput("The template was not saved: " + "; ".join(str(p) for p in problems))
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
            note=note.strip(),
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


def get_template(store: Store, project_id: int, ref: str) -> TemplateVersion:
    name, version = split_ref(ref)
    with store.session() as session:
        query = select(PromptTemplateRow).where(
            PromptTemplateRow.project_id == project_id, PromptTemplateRow.name == name
        )
        if version is None:
            query = query.order_by(PromptTemplateRow.version.desc()).limit(1)
        else:
            query = query.where(PromptTemplateRow.version == version)
        row = session.scalar(query)
        if row is None:
            raise NotFound(f"There is no prompt template '{ref}' in this project.")
        return _to_version(row)


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


def ensure_builtin_templates(store: Store, project_id: int) -> list[TemplateVersion]:
    """The built-in strategies as editable templates (version 1), added once per project."""
    from core.generation.builtin_templates import BUILTIN_TEMPLATES

    existing = {t.name for t in latest_templates(store, project_id)}
    for key, builtin in BUILTIN_TEMPLATES.items():
        if key not in existing:
            save_template(
                store,
                project_id,
                key,
                strategy=key,
                system=builtin.template.system,
                user=builtin.template.user,
                note="built-in",
            )
    return latest_templates(store, project_id)


def template_by_id(store: Store, template_id: int) -> TemplateVersion:
    with store.session() as session:
        row = session.get(PromptTemplateRow, template_id)
        if row is None:
            raise NotFound(f"There is no prompt template #{template_id}.")
        return _to_version(row)


def template_diff(old: TemplateVersion, new: TemplateVersion) -> str:
    """A unified diff of two versions (system and user parts), for the Prompts page."""
    import difflib

    lines = []
    for part in ("system", "user"):
        before, after = getattr(old, part).splitlines(), getattr(new, part).splitlines()
        lines += difflib.unified_diff(before, after, f"{old.ref} ({part})", f"{new.ref} ({part})", lineterm="")
    return "\n".join(lines) or "(no difference)"

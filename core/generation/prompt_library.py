"""A project's prompt templates as the studio uses them: saving a checked version, finding one by `NAME[@VERSION]`,
the built-in templates, and the difference between two versions. Rows are read and written by
`core.store.templates`."""

from __future__ import annotations

import difflib

from core.errors import InvalidInput, NotFound
from core.store.database import Store
from core.store.templates import (
    TemplateVersion,
    find_template,
    latest_templates,
    save_version,
    template_by_id,
    template_versions,
)

__all__ = [
    "MAX_NAME",
    "TemplateVersion",
    "ensure_builtin_templates",
    "get_template",
    "latest_templates",
    "save_template",
    "split_ref",
    "template_by_id",
    "template_diff",
    "template_versions",
]

MAX_NAME = 200


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
    return save_version(store, project_id, name, strategy=strategy, system=system, user=user, note=note.strip())


def get_template(store: Store, project_id: int, ref: str) -> TemplateVersion:
    name, version = split_ref(ref)
    found = find_template(store, project_id, name, version)
    if found is None:
        raise NotFound(f"There is no prompt template '{ref}' in this project.")
    return found


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


def template_diff(old: TemplateVersion, new: TemplateVersion) -> str:
    """A unified diff of two versions (system and user parts), for the Prompts page."""
    lines: list[str] = []
    for part in ("system", "user"):
        before, after = getattr(old, part).splitlines(), getattr(new, part).splitlines()
        lines += difflib.unified_diff(before, after, f"{old.ref} ({part})", f"{new.ref} ({part})", lineterm="")
    return "\n".join(lines) or "(no difference)"

"""Turning what a person types into project definitions (used by the Projects page; tested without a browser)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from core.errors import InvalidInput
from core.language_names import language_name
from core.store.projects import LabelSpec, Project

NAMES_PREFIX = "names_"


def parse_label_lines(text: str) -> list[LabelSpec]:
    """One label per line, optionally `name: description`. Blank lines are ignored."""
    labels: list[LabelSpec] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        name, _, description = line.partition(":")
        if not name.strip():
            raise InvalidInput(f"Line {number} of the labels has a description but no label name before ':'.")
        try:
            labels.append(LabelSpec(name=name, description=description.strip()))
        except ValueError as exc:
            raise InvalidInput(f"Line {number} of the labels: {_first_error(exc)}") from None
    return labels


def _first_error(exc: ValueError) -> str:
    errors = getattr(exc, "errors", None)
    if callable(errors):
        return str(errors()[0].get("msg", exc)).removeprefix("Value error, ")
    return str(exc)


def label_table(project: Project) -> list[dict[str, Any]]:
    """Rows for the label editor: name, description, and one 'names in language X' column per language.

    Each row carries `original` (the stored name) so an edited name is recognised as a rename.
    """
    rows = []
    for label in project.labels:
        row: dict[str, Any] = {"original": label.name, "name": label.name, "description": label.description}
        for code in project.language_codes:
            row[NAMES_PREFIX + code] = ", ".join(label.names.get(code, []))
        rows.append(row)
    return rows


def names_column_title(code: str) -> str:
    return f"Name in {language_name(code)}"


@dataclass(frozen=True)
class EditedLabels:
    labels: list[LabelSpec]
    renames: dict[str, str]


def labels_from_table(rows: list[dict[str, Any]], languages: list[str]) -> EditedLabels:
    """Read the edited label table back: new rows have no `original`; deleted rows are simply absent."""
    labels: list[LabelSpec] = []
    renames: dict[str, str] = {}
    for number, row in enumerate(rows, start=1):
        name = _text(row.get("name"))
        original = _text(row.get("original"))
        if not name:
            if original or _text(row.get("description")):
                raise InvalidInput(f"Row {number} of the labels has no name.")
            continue
        names = {}
        for code in languages:
            cell = _text(row.get(NAMES_PREFIX + code))
            if cell:
                names[code] = [part.strip() for part in cell.split(",") if part.strip()]
        try:
            labels.append(LabelSpec(name=name, description=_text(row.get("description")), names=names))
        except ValueError as exc:
            raise InvalidInput(f"Row {number} of the labels: {_first_error(exc)}") from None
        if original and original != labels[-1].name:
            renames[original] = labels[-1].name
    return EditedLabels(labels=labels, renames=renames)


def _text(value: object) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return ""
    return str(value).strip()

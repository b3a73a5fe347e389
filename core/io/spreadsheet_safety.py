"""Spreadsheet-formula escaping for CSV exports (CSV/formula injection).

A spreadsheet program runs a cell that starts with `=`, `+`, `-`, `@`, a tab or a carriage return as a formula.
On export such a cell gets a leading apostrophe, which spreadsheets show as plain text. A cell that already
starts with an apostrophe gets one more, so the escaping can be undone exactly: on import of a file the studio
marked as its own (the `studio_format` column), one leading apostrophe is removed from every cell that has one.
Files from elsewhere are imported exactly as they are.
"""

from __future__ import annotations

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
STUDIO_FORMAT_COLUMN = "studio_format"
STUDIO_FORMAT_VALUE = "distill-studio/1"


def escape_cell(value: str | None) -> str | None:
    if value and (value.startswith(FORMULA_TRIGGERS) or value.startswith("'")):
        return "'" + value
    return value


def unescape_cell(value: str | None) -> str | None:
    if value and value.startswith("'"):
        return value[1:]
    return value

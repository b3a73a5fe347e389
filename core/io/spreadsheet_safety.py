"""Spreadsheet-formula escaping for CSV exports (CSV/formula injection).

A spreadsheet program runs a cell that starts with `=`, `+`, `-`, `@`, a tab or a carriage return as a formula.
On export such a cell gets a leading apostrophe, which spreadsheets show as plain text. A cell that already
starts with an apostrophe gets one more, so the escaping can be undone exactly: on import of a CSV the studio
marked as its own (the `studio_format` column holding STUDIO_FORMAT_VALUE), one leading apostrophe is removed
from every cell that has one. The other exports (JSONL, Parquet, datasets) carry STUDIO_FORMAT_PLAIN: their
cells are as stored, and they are imported as they are. Files from elsewhere are imported exactly as they are.
"""

from __future__ import annotations

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
STUDIO_FORMAT_COLUMN = "studio_format"
STUDIO_FORMAT_VALUE = "distill-studio/1"  # a studio CSV: text cells are formula-escaped
STUDIO_FORMAT_PLAIN = "distill-studio/1 plain"  # a studio JSONL/Parquet/datasets export: cells as stored


def escape_cell(value: str | None) -> str | None:
    if value and (value.startswith(FORMULA_TRIGGERS) or value.startswith("'")):
        return "'" + value
    return value


def unescape_cell(value: str | None) -> str | None:
    if value and value.startswith("'"):
        return value[1:]
    return value

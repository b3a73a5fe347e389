"""The rows an import skips as invalid, as a CSV a person can fix and import again.

Cells are formula-escaped like the studio's CSV exports (core.io.spreadsheet_safety), and the file carries the
studio's marker, so importing the fixed file reads every cell back exactly."""

from __future__ import annotations

import pandas as pd

from core.io.exporter import csv_bytes
from core.io.importer import ImportPlan

ROW_COLUMN = "row_in_file"
REASON_COLUMN = "skipped_because"


def _free(name: str, taken: list[str]) -> str:
    while name in taken:
        name += "_"
    return name


def skipped_rows_frame(plan: ImportPlan) -> pd.DataFrame:
    """One line per invalid row: its position in the file (1 = the first row under the header), why it was
    skipped, then its cells as read."""
    row_column = _free(ROW_COLUMN, plan.file_columns)
    reason_column = _free(REASON_COLUMN, plan.file_columns)
    columns = [row_column, reason_column, *plan.file_columns]
    return pd.DataFrame(
        [{row_column: r.row, reason_column: r.reason, **r.cells} for r in plan.invalid], columns=columns
    )


def skipped_rows_csv(plan: ImportPlan) -> bytes:
    return csv_bytes(skipped_rows_frame(plan))


def skipped_rows_file_name(plan: ImportPlan) -> str:
    stem = plan.source.rsplit(".", 1)[0] if "." in plan.source else plan.source
    safe = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in stem).strip("_") or "import"
    return f"{safe}-skipped-rows.csv"

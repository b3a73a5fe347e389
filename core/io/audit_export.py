"""The audit log as a file: CSV (every text cell formula-escaped, see spreadsheet_safety) or JSONL (one entry per
line, before and after as JSON objects). Entries come from core.audit.log, so their secrets are already replaced."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from core.audit.log import AuditEntry
from core.errors import InvalidInput
from core.io.disk_full import EXPORT_DISK_FULL_MESSAGE
from core.io.private_files import make_private_dirs, write_private_file
from core.io.spreadsheet_safety import escape_cell

AUDIT_FORMATS = ("csv", "jsonl")
AUDIT_MIME_TYPES = {"csv": "text/csv", "jsonl": "application/jsonl"}
AUDIT_COLUMNS = (
    "id",
    "at",
    "username",
    "display_name",
    "project_id",
    "project",
    "action",
    "target",
    "details",
    "before",
    "after",
    "batch",
)


@dataclass(frozen=True)
class AuditFile:
    file_name: str
    mime: str
    data: bytes
    entries: int


def check_format(fmt: str) -> str:
    if fmt not in AUDIT_FORMATS:
        raise InvalidInput(f"'{fmt}' is not an audit file format: use one of {', '.join(AUDIT_FORMATS)}.")
    return fmt


def audit_record(entry: AuditEntry) -> dict[str, Any]:
    """One entry as the JSONL line holds it (the CSV holds the same, before and after as JSON text)."""
    return {
        "id": entry.id,
        "at": entry.at.isoformat(),
        "username": entry.username,
        "display_name": entry.display_name,
        "project_id": entry.project_id,
        "project": entry.project,
        "action": entry.action,
        "target": entry.target,
        "details": entry.details,
        "before": entry.before,
        "after": entry.after,
        "batch": entry.batch,
    }


def csv_bytes(entries: Iterable[AuditEntry]) -> tuple[bytes, int]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(AUDIT_COLUMNS)
    count = 0
    for entry in entries:
        record = audit_record(entry)
        for key in ("before", "after"):
            value = record[key]
            record[key] = None if value is None else json.dumps(value, ensure_ascii=False, default=str)
        writer.writerow(["" if record[c] is None else _cell(record[c]) for c in AUDIT_COLUMNS])
        count += 1
    return buffer.getvalue().encode("utf-8"), count


def _cell(value: object) -> object:
    return escape_cell(value) if isinstance(value, str) else value


def jsonl_bytes(entries: Iterable[AuditEntry]) -> tuple[bytes, int]:
    lines = [json.dumps(audit_record(entry), ensure_ascii=False, default=str) for entry in entries]
    return ("".join(line + "\n" for line in lines)).encode("utf-8"), len(lines)


def audit_file_name(fmt: str, today: date) -> str:
    return f"audit-log-{today.isoformat()}.{check_format(fmt)}"


def audit_file(entries: Iterable[AuditEntry], fmt: str, *, today: date) -> AuditFile:
    writer = {"csv": csv_bytes, "jsonl": jsonl_bytes}[check_format(fmt)]
    data, count = writer(entries)
    return AuditFile(audit_file_name(fmt, today), AUDIT_MIME_TYPES[fmt], data, count)


def write_audit_file(path: Path, file: AuditFile) -> None:
    """The file at `path`, readable by its owner only (a full disk is told in plain words)."""
    make_private_dirs(path.parent)
    write_private_file(path, file.data, EXPORT_DISK_FULL_MESSAGE)

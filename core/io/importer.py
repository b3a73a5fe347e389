"""Importing samples: column mapping, validation that names rows, preview, then one all-or-nothing transaction.

Rows that cannot be stored (an unknown label, language, split...) are named with their reason. By default they stop
the whole import; asked explicitly (`skip_invalid`: the page's choice, the CLI's --skip-invalid), the valid rows are
imported in one transaction and the invalid ones are skipped and listed (core.io.skipped_rows writes them as CSV).
Labels are matched without regard to capitals (`Weather` is the project's `weather`, stored in its spelling), and
an unknown label gets the closest project label as a suggestion (`wether`: did you mean `weather`?).
"""

from __future__ import annotations

import difflib
import json
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from pydantic import ValidationError

from core.errors import InvalidInput
from core.io.disk_full import disk_full_in_plain_words
from core.io.import_words import CLI_WORDS, ImportWords
from core.io.spreadsheet_safety import STUDIO_FORMAT_COLUMN, STUDIO_FORMAT_VALUE, unescape_cell
from core.io.table_files import read_table
from core.language_names import language_name, normalize_code
from core.settings import get_settings
from core.store.database import Store
from core.store.projects import LabelSpec, Project, get_project
from core.store.sample_import import store_import, stored_content_keys
from core.store.samples import content_key
from core.store.schema import SAMPLE_ORIGINS, SAMPLE_SPLITS, SAMPLE_STATUSES

IMPORT_STATUSES = ("unlabeled", "pending", "accepted")  # what a whole file may be given
PER_ROW_COLUMNS = ("split", "origin", "status")
PROVENANCE_COLUMNS = ("source", "generation_run_id", "prompt_version", "model")
PREVIEW_ROWS = 20
_MAX_ROWS_NAMED = 8
_SIMILAR = 0.7  # how close a label must be to be suggested for a typo (difflib's ratio)


@dataclass
class ColumnMapping:
    text_column: str
    label_column: str | None = None
    language_column: str | None = None
    language: str | None = None  # one language for the whole file
    split: str | None = None  # None: per-row column if present, else "train"
    origin: str | None = None  # None: per-row column if present, else "human"
    status: str | None = None  # None: per-row column if present, else by origin and label
    add_labels: bool = False
    add_languages: bool = False
    strip_whitespace: bool = False  # remove spaces, tabs and line breaks around each text (kept by default)


@dataclass
class RowProblem:
    """One kind of problem and the rows it affects (1-based, counting data rows under the header)."""

    message: str
    rows: list[int] = field(default_factory=list)

    def describe(self) -> str:
        if not self.rows:
            return self.message
        shown = ", ".join(str(r) for r in self.rows[:_MAX_ROWS_NAMED])
        more = f" and {len(self.rows) - _MAX_ROWS_NAMED} more" if len(self.rows) > _MAX_ROWS_NAMED else ""
        noun = "row" if len(self.rows) == 1 else "rows"
        return f"{self.message} ({len(self.rows)} {noun}: {shown}{more})"


@dataclass(frozen=True)
class InvalidRow:
    """A row that cannot be stored as it is: where it is, why, and its cells as read (for a CSV to fix)."""

    row: int
    reason: str
    cells: dict[str, Any]


@dataclass
class ImportPlan:
    """What an import would do. `errors` non-empty means nothing will be stored, unless the import is asked to
    skip the invalid rows (`can_skip_invalid`): then `records`, the valid rows, are stored."""

    source: str
    total_rows: int
    errors: list[RowProblem] = field(default_factory=list)
    skipped: list[RowProblem] = field(default_factory=list)
    notes: list[RowProblem] = field(default_factory=list)
    labels_to_add: list[str] = field(default_factory=list)
    languages_to_add: list[str] = field(default_factory=list)
    records: list[dict[str, Any]] = field(default_factory=list)  # valid rows that will be stored
    studio_file: bool = False
    invalid: list[InvalidRow] = field(default_factory=list)  # rows named in `errors`, in file order
    file_columns: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def to_import(self) -> int:
        return len(self.records)

    @property
    def skipped_count(self) -> int:
        return sum(len(p.rows) for p in self.skipped)

    @property
    def invalid_count(self) -> int:
        return len(self.invalid)

    @property
    def can_skip_invalid(self) -> bool:
        """Every error names its rows (none is about the whole file) and some valid rows are left to import."""
        return bool(self.errors) and all(p.rows for p in self.errors) and self.to_import > 0

    def preview(self, n: int = PREVIEW_ROWS) -> pd.DataFrame:
        columns = ["row", "text", "label", "language", "split", "origin", "status"]
        return pd.DataFrame([{c: r[c] for c in columns} for r in self.records[:n]], columns=columns)

    def summary(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "rows": self.total_rows,
            "to_import": self.to_import,
            "skipped": self.skipped_count,
            "skipped_reasons": {p.message: len(p.rows) for p in self.skipped},
            "errors": [p.describe() for p in self.errors],
            "notes": [p.describe() for p in self.notes],
            "labels_to_add": self.labels_to_add,
            "languages_to_add": self.languages_to_add,
            "invalid_rows": [{"row": r.row, "reason": r.reason} for r in self.invalid],
            "can_skip_invalid": self.can_skip_invalid,
        }


@dataclass(frozen=True)
class ImportResult:
    imported: int
    skipped: int
    skipped_reasons: dict[str, int]
    notes: list[str]
    labels_added: list[str]
    languages_added: list[str]
    invalid_skipped: list[int] = field(default_factory=list)  # rows skipped as invalid (asked for), 1-based

    def to_dict(self) -> dict[str, Any]:
        return {
            "imported": self.imported,
            "skipped": self.skipped,
            "skipped_reasons": self.skipped_reasons,
            "notes": self.notes,
            "labels_added": self.labels_added,
            "languages_added": self.languages_added,
            "invalid_skipped": self.invalid_skipped,
        }


def guess_mapping(frame: pd.DataFrame) -> ColumnMapping:
    """A first guess for the mapping step (the user confirms it)."""
    columns: list[str] = list(frame.columns)
    lowered = {c.lower(): c for c in columns}
    text = next((lowered[n] for n in ("text", "sentence", "utterance", "content", "message") if n in lowered), None)
    if text is None:
        lengths = {c: _mean_length(frame[c]) for c in columns}
        text = max(columns, key=lengths.__getitem__) if columns else ""
    label = None
    for name in ("label", "intent", "class", "category", "labels", "target", "topic", "sentiment"):
        column = lowered.get(name)
        if column and column != text and not _all_integers(frame[column]):
            label = column
            break
    language = next((lowered[n] for n in ("language", "lang", "locale") if n in lowered), None)
    return ColumnMapping(text_column=text, label_column=label, language_column=language)


def _mean_length(values: pd.Series) -> float:
    sample = [len(v) for v in values.head(200) if isinstance(v, str)]
    return sum(sample) / len(sample) if sample else 0.0


def _all_integers(values: pd.Series) -> bool:
    sample = [v for v in values.head(200) if isinstance(v, str) and v.strip()]
    return bool(sample) and all(v.strip().lstrip("-").isdigit() for v in sample)


def plan_import(
    store: Store,
    project: Project | int | str,
    frame: pd.DataFrame,
    mapping: ColumnMapping,
    source: str,
    *,
    words: ImportWords = CLI_WORDS,
) -> ImportPlan:
    """Validate a table against a project and work out exactly what would be stored (nothing is written).

    `words`: how messages name the options (the page's checkboxes, or the CLI's flags)."""
    if not isinstance(project, Project):
        project = get_project(store, project)
    plan = ImportPlan(
        source=source, total_rows=len(frame), file_columns=[c for c in frame.columns if c != STUDIO_FORMAT_COLUMN]
    )
    columns = set(frame.columns)
    plan.studio_file = STUDIO_FORMAT_COLUMN in columns
    # only the studio's CSV is formula-escaped; its other exports carry their cells as stored
    escaped = plan.studio_file and STUDIO_FORMAT_VALUE in set(frame[STUDIO_FORMAT_COLUMN].tolist())
    _check_mapping(plan, mapping, columns)
    if plan.errors:
        return plan

    def column(name: str | None) -> list[str | None]:
        if name is None or name not in columns:
            return [None] * len(frame)
        values = frame[name].tolist()
        return [unescape_cell(v) for v in values] if escaped else values

    texts = column(mapping.text_column)
    labels = column(mapping.label_column)
    languages = column(mapping.language_column)
    per_row = {
        name: column(name) if name in columns and getattr(mapping, name) is None else None for name in PER_ROW_COLUMNS
    }
    provenance = {name: column(name) for name in PROVENANCE_COLUMNS} if plan.studio_file else {}
    flags = column("flags") if plan.studio_file else [None] * len(frame)

    known_labels = set(project.label_names)
    by_lower = {name.lower(): name for name in project.label_names}
    respelled: dict[tuple[str, str], list[int]] = defaultdict(list)
    known_languages = set(project.language_codes)
    problems: dict[str, list[int]] = defaultdict(list)
    unknown_labels: dict[str, list[int]] = defaultdict(list)
    new_languages: dict[str, list[int]] = defaultdict(list)
    candidates: list[dict[str, Any]] = []
    max_chars = get_settings().max_text_chars

    for index in range(len(frame)):
        row_number = index + 1
        # the text as given ('nan' is a word, whitespace is kept), less NUL: never text, and PostgreSQL refuses it
        given = (texts[index] or "").replace("\x00", "")
        if not given.strip():  # missing, empty, or only whitespace
            problems["skip:empty text"].append(row_number)
            continue
        text = given.strip() if mapping.strip_whitespace else given
        if len(text) > max_chars:
            problems[f"error:{_too_long(max_chars)}"].append(row_number)
            continue
        # spaces collapsed, as in the project's labels
        label = " ".join((labels[index] or "").replace("\x00", "").split()) or None
        if label is not None and label not in known_labels and label.lower() in by_lower:
            respelled[(label, by_lower[label.lower()])].append(row_number)
            label = by_lower[label.lower()]  # `Weather` is the project's `weather`
        if label is not None and label not in known_labels:
            unknown_labels[label].append(row_number)
        raw_language = mapping.language if mapping.language_column is None else languages[index]
        code = normalize_code(raw_language or "")
        if code is None:
            problems[f"error:unknown language code '{(raw_language or '').strip() or '(empty)'}'"].append(row_number)
            continue
        if code not in known_languages:
            new_languages[code].append(row_number)
        split = _value(mapping.split, per_row["split"], index, "train")
        origin = _value(mapping.origin, per_row["origin"], index, "human")
        if split not in SAMPLE_SPLITS:
            problems[f"error:unknown split '{split}' (use train or test)"].append(row_number)
            continue
        if origin not in SAMPLE_ORIGINS:
            problems[f"error:unknown origin '{origin}' (use synthetic or human)"].append(row_number)
            continue
        status = _value(mapping.status, per_row["status"], index, "")
        if status and status not in SAMPLE_STATUSES:
            problems[f"error:unknown status '{status}' (use {', '.join(SAMPLE_STATUSES)})"].append(row_number)
            continue
        if label is None:
            status = "unlabeled"
        elif not status or status == "unlabeled":
            status = "accepted" if origin == "human" else "pending"
        record: dict[str, Any] = {
            "row": row_number,
            "text": text,
            "label": label,
            "language": code,
            "split": split,
            "origin": origin,
            "status": status,
            "source": source,
            "generation_run_id": None,
            "prompt_version": None,
            "model": None,
            "flags": _parse_flags(flags[index]),
        }
        for name, values in provenance.items():
            value = (values[index] or "").strip() or None
            if name == "generation_run_id":
                record[name] = int(value) if value and value.isdigit() else None
            elif name == "source":
                record[name] = value or source
            else:
                record[name] = value
        candidates.append(record)

    for key, rows in problems.items():
        kind, message = key.split(":", 1)
        (plan.errors if kind == "error" else plan.skipped).append(RowProblem(_skip_message(message), rows))
    for (given, spelling), rows in respelled.items():
        plan.notes.append(RowProblem(f"the label '{given}' is stored as the project's '{spelling}'", rows))
    if unknown_labels:
        _plan_new_labels(plan, unknown_labels, candidates, project, mapping, words)
    if new_languages and not mapping.add_languages:
        for code in sorted(new_languages):
            plan.errors.append(
                RowProblem(
                    f"the language {language_name(code)} ({code}) is not in the project (add it on the Projects "
                    f"page, or {words.add_languages})",
                    new_languages[code],
                )
            )
    plan.invalid = _invalid_rows(plan.errors, frame, escaped)
    bad_rows = {r.row for r in plan.invalid}
    candidates = [record for record in candidates if record["row"] not in bad_rows]
    plan.labels_to_add = sorted({r["label"] for r in candidates if r["label"] and r["label"] not in known_labels})
    plan.languages_to_add = sorted({r["language"] for r in candidates if r["language"] not in known_languages})
    if plan.labels_to_add:
        plan.notes.append(RowProblem(f"new labels will be added to the project: {', '.join(plan.labels_to_add)}"))
    if plan.languages_to_add:
        described = ", ".join(f"{language_name(c)} ({c})" for c in plan.languages_to_add)
        plan.notes.append(RowProblem(f"new languages will be added to the project: {described}"))

    existing = stored_content_keys(store, project.id)
    seen_in_file: dict[str, int] = {}
    repeats: list[int] = []
    already: list[int] = []
    for record in candidates:
        key = content_key(record["text"], record["label"], record["language"], record["split"], record["origin"])
        record["content_key"] = key
        if key in existing or _stripped_key(record) in existing:
            already.append(record["row"])
            continue
        if key in seen_in_file:
            repeats.append(record["row"])
        seen_in_file[key] = record["row"]
        plan.records.append(record)
    if already:
        plan.skipped.append(
            RowProblem("already in the project (same text, label, language, split and origin)", already)
        )
    if repeats:
        plan.notes.append(
            RowProblem("repeat an earlier row of this file: stored, and curation will flag them", repeats)
        )
    text_counts = Counter(r["text"] for r in plan.records)
    conflicting = [r["row"] for r in plan.records if text_counts[r["text"]] > 1 and r["row"] not in repeats]
    if conflicting and len(conflicting) > len(repeats):
        plan.notes.append(
            RowProblem(
                "share their text with another row (e.g. under another label): stored, curation will flag them",
                conflicting,
            )
        )
    return plan


def _plan_new_labels(
    plan: ImportPlan,
    unknown: dict[str, list[int]],
    candidates: list[dict[str, Any]],
    project: Project,
    mapping: ColumnMapping,
    words: ImportWords,
) -> None:
    """Labels the project does not have: refused (with the closest project label as a suggestion), or, asked
    for, added (spellings that differ only in capitals become one label, spelled as first in the file)."""
    by_lower = {name.lower(): name for name in project.label_names}
    if not mapping.add_labels:
        for name in sorted(unknown):
            close = _closest_label(name, by_lower)
            message = (
                f"the label '{name}' is not in the project: did you mean '{close}'? (correct it in the file, or "
                f"{words.add_labels} to add it as a new label)"
                if close
                else f"the label '{name}' is not in the project (add it on the Projects page, or {words.add_labels})"
            )
            plan.errors.append(RowProblem(message, unknown[name]))
        return
    first: dict[str, str] = {}
    for name in unknown:  # in the order the file first uses them
        first.setdefault(name.lower(), name)
    for name, rows in unknown.items():
        spelling = first[name.lower()]
        if spelling != name:
            plan.notes.append(
                RowProblem(f"the label '{name}' is stored as '{spelling}', as the file first spells it", rows)
            )
    for record in candidates:
        if record["label"] in unknown:
            record["label"] = first[record["label"].lower()]
    for lower, name in first.items():
        rows = sorted(row for other, found in unknown.items() if other.lower() == lower for row in found)
        problem = _new_label_problem(name, by_lower)
        if problem:  # the rules of the Projects page: a label it refuses would make the project unreadable
            plan.errors.append(RowProblem(problem, rows))
        elif close := _closest_label(name, by_lower):
            plan.notes.append(
                RowProblem(f"the new label '{name}' looks like the project's '{close}': is it a typo?", rows)
            )


def _closest_label(name: str, by_lower: dict[str, str]) -> str | None:
    """The project label that `name` most likely misspells, if one is close enough."""
    close = difflib.get_close_matches(name.lower(), list(by_lower), n=1, cutoff=_SIMILAR)
    return by_lower[close[0]] if close else None


def _invalid_rows(errors: list[RowProblem], frame: pd.DataFrame, escaped: bool) -> list[InvalidRow]:
    """The rows the errors name, each with its first reason and its cells as read (escapes undone)."""
    reasons: dict[int, str] = {}
    for problem in errors:
        for row in problem.rows:
            reasons.setdefault(row, _sentence(problem.message))
    columns = [c for c in frame.columns if c != STUDIO_FORMAT_COLUMN]
    invalid = []
    for row in sorted(reasons):
        values = frame.iloc[row - 1]
        cells = {c: unescape_cell(values[c]) if escaped else values[c] for c in columns}
        invalid.append(InvalidRow(row, reasons[row], cells))
    return invalid


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


def _check_mapping(plan: ImportPlan, mapping: ColumnMapping, columns: set[str]) -> None:
    available = ", ".join(sorted(columns)) or "(none)"
    for role, name in (
        ("text", mapping.text_column),
        ("label", mapping.label_column),
        ("language", mapping.language_column),
    ):
        if name is not None and name not in columns:
            plan.errors.append(RowProblem(f"the {role} column '{name}' is not in the file (its columns: {available})"))
    if not mapping.text_column:
        plan.errors.append(RowProblem("choose the column that holds the text"))
    if mapping.language_column is None and not mapping.language:
        plan.errors.append(RowProblem("choose a language column, or one language for the whole file"))
    if mapping.language_column is None and mapping.language and normalize_code(mapping.language) is None:
        plan.errors.append(RowProblem(f"'{mapping.language}' is not a known language code (ISO 639, e.g. sw)"))
    if mapping.split is not None and mapping.split not in SAMPLE_SPLITS:
        plan.errors.append(RowProblem(f"the split must be train or test, not '{mapping.split}'"))
    if mapping.origin is not None and mapping.origin not in SAMPLE_ORIGINS:
        plan.errors.append(RowProblem(f"the origin must be synthetic or human, not '{mapping.origin}'"))
    if mapping.status is not None and mapping.status not in IMPORT_STATUSES:
        plan.errors.append(
            RowProblem(f"the status must be one of {', '.join(IMPORT_STATUSES)}, not '{mapping.status}'")
        )


def _new_label_problem(name: str, taken: dict[str, str]) -> str | None:
    """Why `name` cannot be added as a label (`taken`: lower-cased names of the labels so far), or None."""
    try:
        LabelSpec(name=name)
    except ValidationError as exc:
        return "cannot add the " + str(exc.errors()[0].get("msg", "")).removeprefix("Value error, ")
    if name.lower() in taken:
        return f"cannot add the label '{name}': it differs from the label '{taken[name.lower()]}' only in capitals"
    return None


def _value(fixed: str | None, per_row: list[str | None] | None, index: int, default: str) -> str:
    if fixed is not None:
        return fixed
    if per_row is not None:
        return (per_row[index] or "").strip().lower() or default
    return default


def _too_long(max_chars: int) -> str:
    return (
        f"the text is longer than {max_chars:,} characters, the most a sample may hold "
        "(shorten or split it, or raise STUDIO_MAX_TEXT_CHARS)"
    )


def _stripped_key(record: dict[str, Any]) -> str | None:
    """The key the row would have had when every import stripped its text (before whitespace was kept), so that
    re-importing a file imported then adds nothing; None when stripping changes nothing."""
    stripped = record["text"].strip()
    if stripped == record["text"]:
        return None
    return content_key(stripped, record["label"], record["language"], record["split"], record["origin"])


def _skip_message(message: str) -> str:
    return "empty or missing text" if message == "empty text" else message


def _parse_flags(raw: str | None) -> list[dict[str, Any]]:
    if not raw:
        return []
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        return []
    if not isinstance(value, list):
        return []
    kept: dict[str, dict[str, Any]] = {}
    for flag in value:
        if isinstance(flag, dict) and flag.get("kind"):
            kept.setdefault(str(flag["kind"]), flag)  # one flag per kind, as the store allows
    return list(kept.values())


@disk_full_in_plain_words()
def execute_import(
    store: Store, project: Project | int | str, plan: ImportPlan, *, skip_invalid: bool = False
) -> ImportResult:
    """Store a validated plan in ONE transaction: everything or nothing (a full disk: DiskFull, nothing stored).

    A plan with invalid rows is refused, unless `skip_invalid` asks to store its valid rows and skip those."""
    if not plan.ok and not (skip_invalid and plan.can_skip_invalid):
        raise InvalidInput("Nothing was imported: " + "; ".join(p.describe() for p in plan.errors))
    skipping = [] if plan.ok else plan.errors
    if not isinstance(project, Project):
        project = get_project(store, project)
    stored = store_import(
        store,
        project.id,
        plan.records,
        labels_to_add=plan.labels_to_add,
        languages_to_add=plan.languages_to_add,
        source=plan.source,
        skipped_reasons={p.message: len(p.rows) for p in [*skipping, *plan.skipped]},
    )
    return ImportResult(
        imported=stored.imported,
        skipped=plan.skipped_count + stored.late_skips + (plan.invalid_count if skipping else 0),
        skipped_reasons=stored.skipped_reasons,
        notes=[p.describe() for p in plan.notes],
        labels_added=stored.labels_added,
        languages_added=stored.languages_added,
        invalid_skipped=[r.row for r in plan.invalid] if skipping else [],
    )


def import_file(
    store: Store,
    project: int | str,
    path: Path,
    mapping: ColumnMapping,
    fmt: str | None = None,
    source: str | None = None,
    *,
    skip_invalid: bool = False,
) -> ImportResult:
    """Read, validate and store a file in one step (the CLI's `import`)."""
    frame = read_table(Path(path), fmt)
    resolved = get_project(store, project)
    plan = plan_import(store, resolved, frame, mapping, source or Path(path).name)
    return execute_import(store, resolved, plan, skip_invalid=skip_invalid)

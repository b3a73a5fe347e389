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
import math
from collections import Counter
from collections.abc import Callable, Hashable, Iterator, Sequence
from dataclasses import dataclass, field
from hashlib import sha1
from itertools import repeat
from pathlib import Path
from typing import Any, Generic, TypeVar, overload

import numpy as np
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
from core.store.sample_import import SampleBatch, store_import, stored_content_keys
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


class PlannedRecords(Sequence[dict[str, Any]]):
    """The rows an import will store, held column by column (`batch`, as the store takes them) beside their row
    numbers in the file. Read one at a time, each is a dict: its row number, the sample's fields and its flags."""

    FIELDS = (
        "text",
        "label",
        "language",
        "split",
        "origin",
        "status",
        "source",
        "generation_run_id",
        "prompt_version",
        "model",
        "flags",
        "content_key",
    )

    def __init__(self, rows: list[int] | None = None, batch: SampleBatch | None = None) -> None:
        self.rows = rows or []
        self.batch = batch or SampleBatch.empty()
        if len(self.rows) != self.batch.size:
            raise ValueError("one row number per planned sample")

    def __len__(self) -> int:
        return len(self.rows)

    @overload
    def __getitem__(self, index: int) -> dict[str, Any]: ...

    @overload
    def __getitem__(self, index: slice) -> list[dict[str, Any]]: ...

    def __getitem__(self, index: int | slice) -> dict[str, Any] | list[dict[str, Any]]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        values = self.batch.row(index)
        return {"row": self.rows[index], **{name: values[name] for name in self.FIELDS}}

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return (self[i] for i in range(len(self)))


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
    records: PlannedRecords = field(default_factory=PlannedRecords)  # valid rows that will be stored
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

    `words`: how messages name the options (the page's checkboxes, or the CLI's flags).

    The checks run column by column: a value that many rows share (a label, a language code, a split...) is
    checked once, and each row takes its outcome. A row is checked in this order, and its first failing check
    names it: empty text (skipped), too long, the label (respelled, or new), the language code, a language the
    project lacks, the split, the origin, the status."""
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
    count = len(frame)

    def column(name: str | None) -> list[Any] | None:  # None: the file has no such column
        if name is None or name not in columns:
            return None
        values = frame[name].tolist()
        return [unescape_cell(v) for v in values] if escaped else values

    max_chars = get_settings().max_text_chars
    # the text as given ('nan' is a word, whitespace is kept), less NUL: never text, and PostgreSQL refuses it
    given = _without_nul(column(mapping.text_column) or [None] * count)
    texts = [t.strip() for t in given] if mapping.strip_whitespace else given
    lengths = np.fromiter(map(len, given), dtype=np.int64, count=count)
    blank = (lengths == 0) | np.fromiter(map(str.isspace, given), dtype=bool, count=count)  # missing, empty, spaces
    if mapping.strip_whitespace:
        lengths = np.fromiter(map(len, texts), dtype=np.int64, count=count)
    too_long = (lengths > max_chars) & ~blank
    checked = ~blank & ~too_long

    labels = _Labels(project, column(mapping.label_column), count)
    if mapping.language_column is None:
        languages = _Languages(project, None, count, mapping.language)
    else:
        languages = _Languages(project, column(mapping.language_column), count, None)
    per_row = {name: column(name) if getattr(mapping, name) is None else None for name in PER_ROW_COLUMNS}
    splits = _Choices(mapping.split, per_row["split"], count, "train")
    origins = _Choices(mapping.origin, per_row["origin"], count, "human")
    statuses = _Choices(mapping.status, per_row["status"], count, "")

    # each row's first problem: an index into `keys` ("kind:message"), or -1
    keys: _Keys[str] = _Keys()
    problem = np.full(count, -1, dtype=np.int64)
    problem[blank] = keys.id("skip:empty text")
    problem[too_long] = keys.id(f"error:{_too_long(max_chars)}")
    reached = checked & ~languages.bad[languages.codes]
    _mark(problem, checked & ~reached, languages.codes, [keys.id(f"error:{m}") if m else -1 for m in languages.errors])
    known_language = reached
    split_error = [f"unknown split '{v}' (use train or test)" if v not in SAMPLE_SPLITS else "" for v in splits.values]
    origin_error = [
        f"unknown origin '{v}' (use synthetic or human)" if v not in SAMPLE_ORIGINS else "" for v in origins.values
    ]
    status_error = [
        f"unknown status '{v}' (use {', '.join(SAMPLE_STATUSES)})" if v and v not in SAMPLE_STATUSES else ""
        for v in statuses.values
    ]
    for choices, errors in ((splits, split_error), (origins, origin_error), (statuses, status_error)):
        failing = np.array([bool(e) for e in errors], dtype=bool)[choices.codes]
        _mark(problem, reached & failing, choices.codes, [keys.id(f"error:{e}") if e else -1 for e in errors])
        reached = reached & ~failing
    candidate = reached

    for key, rows in _rows_by_key(problem, keys.names).items():
        kind, message = key.split(":", 1)
        (plan.errors if kind == "error" else plan.skipped).append(RowProblem(_skip_message(message), rows))
    respelled = _rows_by_key(np.where(checked, labels.respelled_id[labels.codes], -1), labels.respellings)
    for (given_label, spelling), rows in respelled.items():
        plan.notes.append(RowProblem(f"the label '{given_label}' is stored as the project's '{spelling}'", rows))
    unknown_labels = _rows_by_key(np.where(checked, labels.unknown_id[labels.codes], -1), labels.unknown_names)
    if unknown_labels:
        spelled = _plan_new_labels(plan, unknown_labels, project, mapping, words)
        labels.values = [spelled.get(v, v) if v is not None else None for v in labels.values]
    new_languages = _rows_by_key(np.where(known_language, languages.new_id[languages.codes], -1), languages.new_codes)
    if new_languages and not mapping.add_languages:
        for code in sorted(new_languages):
            plan.errors.append(
                RowProblem(
                    f"the language {language_name(code)} ({code}) is not in the project (add it on the Projects "
                    f"page, or {words.add_languages})",
                    new_languages[code],
                )
            )
    provenance = _provenance(column, candidate, source) if plan.studio_file else None
    plan.invalid = _invalid_rows(plan.errors, frame, escaped)
    if plan.invalid:
        candidate[np.array([r.row - 1 for r in plan.invalid], dtype=np.int64)] = False
    chosen = np.flatnonzero(candidate)
    known_labels, known_languages = set(project.label_names), set(project.language_codes)
    plan.labels_to_add = sorted({v for v in labels.used(chosen) if v and v not in known_labels})
    plan.languages_to_add = sorted({v for v in languages.used(chosen) if v is not None and v not in known_languages})
    if plan.labels_to_add:
        plan.notes.append(RowProblem(f"new labels will be added to the project: {', '.join(plan.labels_to_add)}"))
    if plan.languages_to_add:
        described = ", ".join(f"{language_name(c)} ({c})" for c in plan.languages_to_add)
        plan.notes.append(RowProblem(f"new languages will be added to the project: {described}"))

    # identity: (text, label, language, split, origin); what is stored already is skipped, repeats are kept
    suffixes = _key_suffixes(chosen, labels, languages, splits, origins)
    chosen_texts = texts if len(chosen) == count else [texts[i] for i in chosen.tolist()]
    content_keys = _sha1_keys(chosen_texts, suffixes)
    existing = stored_content_keys(store, project.id)
    numbers = (chosen + 1).tolist()
    if existing:
        stored = list(map(existing.__contains__, content_keys))
        for position, (found, text) in enumerate(zip(stored, chosen_texts, strict=True)):
            # or under the key the row had when every import stripped its text (before whitespace was kept),
            # so that re-importing a file imported then adds nothing
            if not found and text != (bare := text.strip()):
                stored[position] = _sha1_keys([bare], [suffixes[position]])[0] in existing
        del existing
        already = [row for row, found in zip(numbers, stored, strict=True) if found]
        if already:
            plan.skipped.append(
                RowProblem("already in the project (same text, label, language, split and origin)", already)
            )
            positions = [i for i, found in enumerate(stored) if not found]
            chosen, numbers = chosen[positions], [numbers[i] for i in positions]
            chosen_texts = [chosen_texts[i] for i in positions]
            content_keys = [content_keys[i] for i in positions]
    repeats = []
    if len(set(content_keys)) < len(content_keys):
        seen: set[str] = set()
        for row, key in zip(numbers, content_keys, strict=True):
            if key in seen:
                repeats.append(row)
            seen.add(key)
    if repeats:
        plan.notes.append(
            RowProblem("repeat an earlier row of this file: stored, and curation will flag them", repeats)
        )
    if len(set(chosen_texts)) < len(chosen_texts):
        text_counts = Counter(chosen_texts)
        repeated = set(repeats)
        conflicting = [
            row
            for row, text in zip(numbers, chosen_texts, strict=True)
            if text_counts[text] > 1 and row not in repeated
        ]
        if conflicting and len(conflicting) > len(repeats):
            plan.notes.append(
                RowProblem(
                    "share their text with another row (e.g. under another label): stored, curation will flag them",
                    conflicting,
                )
            )
    batch = _batch(chosen, chosen_texts, content_keys, labels, languages, splits, origins, statuses, provenance, source)
    plan.records = PlannedRecords(numbers, batch)
    return plan


def _plan_new_labels(
    plan: ImportPlan,
    unknown: dict[str, list[int]],
    project: Project,
    mapping: ColumnMapping,
    words: ImportWords,
) -> dict[str, str]:
    """Labels the project does not have: refused (with the closest project label as a suggestion), or, asked
    for, added (spellings that differ only in capitals become one label, spelled as first in the file).

    Returns how each new label will be spelled (nothing when they are refused)."""
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
        return {}
    first: dict[str, str] = {}
    for name in unknown:  # in the order the file first uses them
        first.setdefault(name.lower(), name)
    for name, rows in unknown.items():
        spelling = first[name.lower()]
        if spelling != name:
            plan.notes.append(
                RowProblem(f"the label '{name}' is stored as '{spelling}', as the file first spells it", rows)
            )
    for lower, name in first.items():
        rows = sorted(row for other, found in unknown.items() if other.lower() == lower for row in found)
        problem = _new_label_problem(name, by_lower)
        if problem:  # the rules of the Projects page: a label it refuses would make the project unreadable
            plan.errors.append(RowProblem(problem, rows))
        elif close := _closest_label(name, by_lower):
            plan.notes.append(
                RowProblem(f"the new label '{name}' looks like the project's '{close}': is it a typo?", rows)
            )
    return {name: first[name.lower()] for name in unknown}


def _closest_label(name: str, by_lower: dict[str, str]) -> str | None:
    """The project label that `name` most likely misspells, if one is close enough."""
    close = difflib.get_close_matches(name.lower(), list(by_lower), n=1, cutoff=_SIMILAR)
    return by_lower[close[0]] if close else None


def _invalid_rows(errors: list[RowProblem], frame: pd.DataFrame, escaped: bool) -> list[InvalidRow]:
    """The rows the errors name, each with its first reason and its cells as read (escapes undone)."""
    reasons: dict[int, str] = {}
    for problem in errors:
        sentence = _sentence(problem.message)
        for row in problem.rows:
            reasons.setdefault(row, sentence)
    if not reasons:
        return []
    columns = [c for c in frame.columns if c != STUDIO_FORMAT_COLUMN]
    rows = sorted(reasons)
    picked = frame.iloc[[row - 1 for row in rows]]
    cells = {c: picked[c].tolist() for c in columns}
    if escaped:
        cells = {c: [unescape_cell(v) for v in values] for c, values in cells.items()}
    return [
        InvalidRow(row, reasons[row], {c: cells[c][position] for c in columns}) for position, row in enumerate(rows)
    ]


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


def _too_long(max_chars: int) -> str:
    return (
        f"the text is longer than {max_chars:,} characters, the most a sample may hold "
        "(shorten or split it, or raise STUDIO_MAX_TEXT_CHARS)"
    )


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


K = TypeVar("K", bound=Hashable)


class _Keys(Generic[K]):
    """Distinct keys numbered in the order first asked for."""

    def __init__(self) -> None:
        self.names: list[K] = []
        self._ids: dict[K, int] = {}

    def id(self, key: K) -> int:
        if key not in self._ids:
            self._ids[key] = len(self.names)
            self.names.append(key)
        return self._ids[key]


def _factorize(cells: list[Any] | None, count: int) -> tuple[np.ndarray, list[Any]]:
    """Each row's cell as a number, and the distinct cells in the order first seen (no column: one None)."""
    if cells is None:
        return np.zeros(count, dtype=np.int64), [None]
    array = np.fromiter(cells, dtype=object, count=count)
    codes, distinct = pd.factorize(array)
    if not (codes < 0).any():
        return codes.astype(np.int64, copy=False), distinct.tolist() or [None]
    if all(array[i] is None for i in np.flatnonzero(codes < 0).tolist()):  # missing cells: one value, None
        codes = codes.astype(np.int64)
        codes[codes < 0] = len(distinct)
        return codes, [*distinct.tolist(), None]
    # other missing values (NaN...): each distinct as Python sees it, as the cells are checked one by one
    index: dict[Any, int] = {}
    codes = np.fromiter((index.setdefault(cell, len(index)) for cell in cells), dtype=np.int64, count=count)
    return codes, list(index) or [None]


class _Labels:
    """The label column, each distinct cell checked once: spaces collapsed and NUL removed (as in the project's
    labels); a project label in other capitals takes the project's spelling; labels the project lacks are named."""

    def __init__(self, project: Project, cells: list[Any] | None, count: int) -> None:
        self.codes, distinct = _factorize(cells, count)
        known = set(project.label_names)
        by_lower = {name.lower(): name for name in project.label_names}
        respellings: _Keys[tuple[str, str]] = _Keys()
        unknown: _Keys[str] = _Keys()
        self.values: list[str | None] = []
        respelled_id, unknown_id = [], []
        for cell in distinct:
            label = " ".join((cell or "").replace("\x00", "").split()) or None
            pair = -1
            if label is not None and label not in known and label.lower() in by_lower:
                pair = respellings.id((label, by_lower[label.lower()]))
                label = by_lower[label.lower()]  # `Weather` is the project's `weather`
            respelled_id.append(pair)
            unknown_id.append(unknown.id(label) if label is not None and label not in known else -1)
            self.values.append(label)
        self.respelled_id = np.array(respelled_id, dtype=np.int64)
        self.unknown_id = np.array(unknown_id, dtype=np.int64)
        self.respellings = respellings.names
        self.unknown_names = unknown.names

    def used(self, rows: np.ndarray) -> set[str | None]:
        return {self.values[code] for code in np.unique(self.codes[rows]).tolist()}


class _Languages:
    """The language column (or the mapping's one language), each distinct cell checked once."""

    def __init__(self, project: Project, cells: list[Any] | None, count: int, fixed: str | None) -> None:
        if cells is None:
            self.codes, distinct = np.zeros(count, dtype=np.int64), [fixed]
        else:
            self.codes, distinct = _factorize(cells, count)
        known = set(project.language_codes)
        new: _Keys[str] = _Keys()
        self.values: list[str | None] = []
        self.errors: list[str] = []  # per distinct cell: why it is refused, or ""
        new_id = []
        for cell in distinct:
            code = normalize_code(cell or "")
            self.values.append(code)
            self.errors.append(
                "" if code is not None else f"unknown language code '{(cell or '').strip() or '(empty)'}'"
            )
            new_id.append(new.id(code) if code is not None and code not in known else -1)
        self.bad = np.array([bool(e) for e in self.errors], dtype=bool)
        self.new_id = np.array(new_id, dtype=np.int64)
        self.new_codes = new.names

    def used(self, rows: np.ndarray) -> set[str | None]:
        return {self.values[code] for code in np.unique(self.codes[rows]).tolist()}


class _Choices:
    """A split, origin or status: the mapping's one value; else the file's column (trimmed, in small letters; an
    empty cell takes the default); else the default."""

    def __init__(self, fixed: str | None, cells: list[Any] | None, count: int, default: str) -> None:
        if fixed is not None or cells is None:
            self.codes, self.values = np.zeros(count, dtype=np.int64), [default if fixed is None else fixed]
        else:
            self.codes, distinct = _factorize(cells, count)
            self.values = [(cell or "").strip().lower() or default for cell in distinct]


def _mark(problem: np.ndarray, rows: np.ndarray, codes: np.ndarray, ids: list[int]) -> None:
    """Give the `rows` (a mask) the problem of their cell's value (`ids`: per distinct value)."""
    if rows.any():
        problem[rows] = np.array(ids, dtype=np.int64)[codes[rows]]


def _rows_by_key(ids: np.ndarray, keys: Sequence[K]) -> dict[K, list[int]]:
    """The rows (1-based, ascending) of each key, the keys in the order of their first row.

    `ids`: per row, an index into `keys`, or -1 for none."""
    rows = np.flatnonzero(ids >= 0)
    if not len(rows):
        return {}
    order = np.argsort(ids[rows], kind="stable")
    rows, row_ids = rows[order], ids[rows][order]
    starts = np.flatnonzero(np.r_[True, row_ids[1:] != row_ids[:-1]])
    groups = np.split(rows + 1, starts[1:])
    by_first = sorted(range(len(groups)), key=lambda g: int(groups[g][0]))
    return {keys[int(row_ids[starts[g]])]: groups[g].tolist() for g in by_first}


def _combine(parts: list[tuple[np.ndarray, int]]) -> tuple[np.ndarray, list[tuple[int, ...]]]:
    """Per row, which combination of the parts' codes it holds; and each combination's codes.

    `parts`: (codes per row, how many distinct codes)."""
    rows = len(parts[0][0])
    bound = math.prod(size for _, size in parts)
    if bound <= 1 << 20:
        combined = np.zeros(rows, dtype=np.int64)
        for codes, size in parts:
            combined = combined * size + codes
        used = np.flatnonzero(np.bincount(combined, minlength=bound))
        lookup = np.full(bound, -1, dtype=np.int64)
        lookup[used] = np.arange(len(used))
        combos = []
        for value in used.tolist():
            digits = []
            for _, size in reversed(parts):
                value, digit = divmod(value, size)
                digits.append(digit)
            combos.append(tuple(reversed(digits)))
        return lookup[combined], combos
    stacked = np.stack([codes for codes, _ in parts], axis=1)
    distinct, inverse = np.unique(stacked, axis=0, return_inverse=True)
    return inverse.reshape(-1), [tuple(combo) for combo in distinct.tolist()]


def _by_combination(values: list[Any], inverse: np.ndarray) -> list[Any] | Any:
    """Per row, the value of its combination; one value when every row has the same."""
    if len(values) == 1:
        return values[0]
    return np.asarray([*values, None], dtype=object)[:-1][inverse].tolist()


def _without_nul(cells: list[Any]) -> list[str]:
    """The texts as given (a missing one: ""), less NUL characters: never text, and PostgreSQL refuses them."""
    if set(map(type, cells)) <= {str} and not any(map(str.__contains__, cells, repeat("\x00"))):
        return cells  # every cell a text, none with a NUL: nothing to change
    return [(t or "").replace("\x00", "") for t in cells]


def _sha1_keys(texts: list[str], suffixes: list[str]) -> list[str]:
    """The content key of each text followed by its suffix (see _key_suffixes): sha1, in hex digits."""
    joined = map(str.__add__, texts, suffixes)
    return [sha1(data).hexdigest() for data in map(str.encode, joined)]


def _key_suffixes(
    chosen: np.ndarray, labels: _Labels, languages: _Languages, splits: _Choices, origins: _Choices
) -> list[str]:
    """Per chosen row, what follows the text in its content key: the key is the sha1 of
    "\\x1f".join((text, label or "", language, split, origin)), as core.store.samples.content_key computes it."""
    if not len(chosen):
        return []
    parts: list[tuple[np.ndarray, Sequence[str | None]]] = [
        (labels.codes, labels.values),
        (languages.codes, languages.values),
        (splits.codes, splits.values),
        (origins.codes, origins.values),
    ]
    inverse, combos = _combine([(codes[chosen], len(values)) for codes, values in parts])
    suffixes = [
        "\x1f" + "\x1f".join(values[code] or "" for (_, values), code in zip(parts, combo, strict=True))
        for combo in combos
    ]
    picked = _by_combination(suffixes, inverse)
    return [picked] * len(chosen) if isinstance(picked, str) else picked


def _stored_status(label: str | None, origin: str, status: str) -> str:
    if label is None:
        return "unlabeled"
    if not status or status == "unlabeled":
        return "accepted" if origin == "human" else "pending"
    return status


def _provenance(column: Callable[[str], list[Any] | None], candidate: np.ndarray, source: str) -> dict[str, list[Any]]:
    """A studio file's provenance and flags, per row (filled for the candidate rows), as the studio exported them."""
    count = len(candidate)
    rows = np.flatnonzero(candidate).tolist()
    found: dict[str, list[Any]] = {}
    for name in PROVENANCE_COLUMNS:
        cells = column(name) or [None] * count
        values: list[Any] = [None] * count
        for i in rows:
            value = (cells[i] or "").strip() or None
            if name == "generation_run_id":
                values[i] = int(value) if value and value.isdigit() else None
            elif name == "source":
                values[i] = value or source
            else:
                values[i] = value
        found[name] = values
    cells = column("flags") or [None] * count
    flags: list[Any] = [None] * count
    for i in rows:
        flags[i] = _parse_flags(cells[i])
    found["flags"] = flags
    return found


def _batch(
    chosen: np.ndarray,
    texts: list[str],
    keys: list[str],
    labels: _Labels,
    languages: _Languages,
    splits: _Choices,
    origins: _Choices,
    statuses: _Choices,
    provenance: dict[str, list[Any]] | None,
    source: str,
) -> SampleBatch:
    """The chosen rows, column by column; a field that holds one value for all of them is given once."""
    columns: dict[str, list[Any]] = {"text": texts, "content_key": keys}
    constants: dict[str, Any] = {}

    def put(name: str, values: list[Any] | Any) -> None:
        if isinstance(values, list):
            if values and values.count(values[0]) < len(values):
                columns[name] = values
                return
            values = values[0] if values else None
        constants[name] = values

    for name, part in (("label", labels), ("language", languages), ("split", splits), ("origin", origins)):
        picked = part.codes[chosen]
        if not len(picked) or picked.min() == picked.max():
            put(name, part.values[int(picked[0])] if len(picked) else None)
        else:
            put(name, np.asarray([*part.values, None], dtype=object)[:-1][picked].tolist())
    flags: list[list[dict[str, Any]]] | None = None
    if len(chosen):
        label_missing = np.array([v is None for v in labels.values], dtype=np.int64)[labels.codes[chosen]]
        inverse, combos = _combine(
            [
                (label_missing, 2),
                (origins.codes[chosen], len(origins.values)),
                (statuses.codes[chosen], len(statuses.values)),
            ]
        )
        stored = [
            _stored_status(None if missing else "", origins.values[o], statuses.values[s]) for missing, o, s in combos
        ]
        put("status", _by_combination(stored, inverse))
    else:
        put("status", None)
    if provenance is None:
        constants.update(source=source, generation_run_id=None, prompt_version=None, model=None)
    else:
        positions = chosen.tolist()
        for name in PROVENANCE_COLUMNS:
            put(name, [provenance[name][i] for i in positions])
        picked_flags = [provenance["flags"][i] for i in positions]
        flags = picked_flags if any(picked_flags) else None
    return SampleBatch(len(chosen), columns, constants, flags)


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
        plan.records.batch,
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

"""The dataset snapshot: the exact samples a model is trained on, their text and label copied out of the store.

Only TRAIN-split samples with a label of the project are ever taken (the test split is for evaluation alone).
Options choose the origins, accepted-only (default) or also pending samples, a cap per language x label, strict
class balance and a budget per language; `preview_snapshot` gives the page its counts without reading any text.
"""

from __future__ import annotations

import gzip
import json
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from core.errors import InvalidInput
from core.language_names import language_name
from core.store.database import Store
from core.store.projects import Project
from core.store.schema import SAMPLE_ORIGINS
from core.store.training_samples import Candidate, sample_counts, train_candidates
from core.training.left_out import LeftOut, count_left_out
from core.training.selection import cell_order, cell_quotas

SNAPSHOT_FILE = "snapshot.jsonl.gz"


MAX_HUMAN_WEIGHT = 20


@dataclass(frozen=True)
class SnapshotOptions:
    origins: tuple[str, ...] = SAMPLE_ORIGINS  # synthetic, human or both
    include_pending: bool = False  # accepted only by default
    languages: tuple[str, ...] = ()  # empty: every language
    labels: tuple[str, ...] = ()  # empty: every label of the project
    per_language: int | None = None  # a budget per language, spread evenly over its labels
    per_cell: int | None = None  # a cap per language x label
    balance: bool = False  # no label gets more than the smallest one of its language
    seed: int = 0
    human_weight: int = 1  # a human sample counts as this many synthetic ones (it is trained on that many times)

    def __post_init__(self) -> None:
        unknown = set(self.origins) - set(SAMPLE_ORIGINS)
        if not self.origins or unknown:
            raise InvalidInput(f"Origins must be among {', '.join(SAMPLE_ORIGINS)}.")
        if not 1 <= self.human_weight <= MAX_HUMAN_WEIGHT:
            raise InvalidInput(f"The weight of a human sample must be a whole number from 1 to {MAX_HUMAN_WEIGHT}.")
        for name in ("per_language", "per_cell"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise InvalidInput(f"The {name.replace('_', ' ')} limit must be at least 1.")

    @property
    def statuses(self) -> tuple[str, ...]:
        return ("accepted", "pending") if self.include_pending else ("accepted",)

    def to_dict(self) -> dict[str, Any]:
        return {key: list(v) if isinstance(v, tuple) else v for key, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SnapshotOptions:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        for key in ("origins", "languages", "labels"):
            if key in known:
                known[key] = tuple(known[key])
        return cls(**known)


@dataclass(frozen=True)
class SnapshotItem:
    sample_id: int
    text: str
    label: str
    language: str
    origin: str


@dataclass(frozen=True)
class CellCount:
    language: str
    label: str
    available: int
    selected: int


@dataclass(frozen=True)
class SnapshotSummary:
    total: int
    cells: list[CellCount]
    labels: list[str]  # the classes, in the project's order
    languages: list[str]
    notes: list[str] = field(default_factory=list)
    left_out: list[LeftOut] = field(default_factory=list)  # what the options leave out, and why (previews only)

    def by_language(self) -> dict[str, int]:
        totals: dict[str, int] = {}
        for cell in self.cells:
            totals[cell.language] = totals.get(cell.language, 0) + cell.selected
        return totals

    def table(self) -> list[dict[str, Any]]:
        """One row per language with a column per label (selected counts) and a total: the page's preview grid."""
        rows = []
        for language in self.languages:
            row: dict[str, Any] = {"language": f"{language_name(language)} ({language})"}
            for cell in self.cells:
                if cell.language == language:
                    row[cell.label] = cell.selected
            row["total"] = sum(v for k, v in row.items() if k != "language")
            rows.append(row)
        return rows

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SnapshotSummary:
        return cls(
            total=int(data.get("total", 0)),
            cells=[CellCount(**c) for c in data.get("cells", [])],
            labels=list(data.get("labels", [])),
            languages=list(data.get("languages", [])),
            notes=list(data.get("notes", [])),
            left_out=[LeftOut.from_dict(item) for item in data.get("left_out", [])],
        )


@dataclass(frozen=True)
class Snapshot:
    items: list[SnapshotItem]
    summary: SnapshotSummary

    @property
    def texts(self) -> list[str]:
        return [item.text for item in self.items]

    @property
    def labels(self) -> list[str]:
        return [item.label for item in self.items]


def load_candidates(
    store: Store, project: Project, options: SnapshotOptions, *, with_text: bool = True
) -> list[Candidate]:
    """Every train-split sample the options allow, before caps and budgets (one query, in id order)."""
    return train_candidates(
        store,
        project.id,
        labels=list(options.labels) or project.label_names,
        statuses=options.statuses,
        origins=options.origins,
        languages=options.languages,
        with_text=with_text,
    )


def select_items(
    candidates: list[Candidate], project: Project, options: SnapshotOptions
) -> tuple[list[int], SnapshotSummary]:
    """The chosen sample ids (in a stable order) and the summary, from already loaded candidates."""
    cells: dict[tuple[str, str], list[int]] = {}
    for candidate in candidates:
        cells.setdefault((candidate.language, candidate.label), []).append(candidate.sample_id)
    summary = summarise({key: len(ids) for key, ids in cells.items()}, project, options)
    chosen: list[int] = []
    for cell in summary.cells:
        ids = cells.get((cell.language, cell.label), [])
        chosen.extend(cell_order(ids, options.seed, cell.language, cell.label)[: cell.selected])
    return chosen, summary


def summarise(
    available_cells: dict[tuple[str, str], int], project: Project, options: SnapshotOptions
) -> SnapshotSummary:
    """The summary of a snapshot from the candidates each (language, label) cell has (none: not there)."""
    label_order = list(options.labels) or project.label_names
    present = {language for (language, _), n in available_cells.items() if n}
    wanted = list(options.languages) or project.language_codes
    languages = wanted + sorted(present - set(wanted))
    total = 0
    counts: list[CellCount] = []
    notes: list[str] = []
    for language in languages:
        available = {label: available_cells.get((language, label), 0) for label in label_order}
        quotas = cell_quotas(available, per_cell=options.per_cell, balance=options.balance, budget=options.per_language)
        for label in label_order:
            total += quotas[label]
            counts.append(CellCount(language, label, available[label], quotas[label]))
        missing = [label for label in label_order if available[label] == 0]
        if len(missing) == len(label_order):
            notes.append(f"{language_name(language)} has no samples with these options.")
            continue
        if missing:
            notes.append(f"{language_name(language)} has no samples labelled {', '.join(missing)}.")
        taken = sum(quotas.values())
        if options.per_language is not None and taken < options.per_language:
            notes.append(
                f"{language_name(language)}: {options.per_language:,} asked, {taken:,} available with these options."
            )
    classes = [label for label in label_order if any(c.label == label and c.selected for c in counts)]
    return SnapshotSummary(total=total, cells=counts, labels=classes, languages=languages, notes=notes)


def candidate_counts(store: Store, project: Project, options: SnapshotOptions) -> dict[tuple[str, str], int]:
    """The train-split samples the options allow per (language, label) cell, before caps and budgets: what
    `load_candidates` would read, counted from the store's tallies (no sample is read)."""
    labels = set(options.labels or project.label_names)
    cells: dict[tuple[str, str], int] = {}
    for count in sample_counts(store, project.id):
        if (
            count.split == "train"
            and count.label in labels
            and count.status in options.statuses
            and count.origin in options.origins
            and (not options.languages or count.language in options.languages)
        ):
            key = (count.language, count.label)
            cells[key] = cells.get(key, 0) + count.samples
    return cells


def preview_snapshot(store: Store, project: Project, options: SnapshotOptions) -> SnapshotSummary:
    """What a run with these options would be trained on: counts per language x label (counted, no sample is
    read), and what it leaves out, with the reason, per language."""
    summary = summarise(candidate_counts(store, project, options), project, options)
    return replace(summary, left_out=count_left_out(store, project, options, summary.by_language()))


def snapshot_from(candidates: list[Candidate], project: Project, options: SnapshotOptions) -> Snapshot:
    ids, summary = select_items(candidates, project, options)
    by_id = {c.sample_id: c for c in candidates}
    items = [SnapshotItem(i, by_id[i].text, by_id[i].label, by_id[i].language, by_id[i].origin) for i in ids]
    return Snapshot(items=items, summary=summary)


def build_snapshot(store: Store, project: Project, options: SnapshotOptions) -> Snapshot:
    """Copy the chosen samples' text and label out of the store: later edits of a sample do not change it."""
    snapshot = snapshot_from(load_candidates(store, project, options), project, options)
    check_trainable(snapshot.summary)
    return snapshot


def check_trainable(summary: SnapshotSummary) -> None:
    if summary.total == 0:
        raise InvalidInput(
            "No samples match these options: training uses labelled TRAIN samples that are accepted "
            "(tick 'also pending' to include samples not reviewed yet) of the chosen origins and languages."
        )
    if len(summary.labels) < 2:
        raise InvalidInput(
            f"The samples chosen all have the label '{summary.labels[0]}': a classifier needs at least two labels."
        )


def with_budget(options: SnapshotOptions, per_language: int) -> SnapshotOptions:
    return replace(options, per_language=per_language)


def save_snapshot(snapshot: Snapshot, folder: Path) -> Path:
    """The items as gzipped JSON lines (sample id, text, label, language, origin) in `folder`."""
    path = folder / SNAPSHOT_FILE
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        for item in snapshot.items:
            handle.write(json.dumps(asdict(item), ensure_ascii=False) + "\n")
    return path


def load_snapshot_items(folder: Path) -> list[SnapshotItem]:
    path = folder / SNAPSHOT_FILE
    if not path.exists():
        raise InvalidInput(f"The run folder {folder} has no snapshot file.")
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        return [SnapshotItem(**json.loads(line)) for line in handle if line.strip()]

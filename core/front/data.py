"""Data at the front door: samples (filtered, paged, stepped through), importing files and uploads, exporting."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd

from core.front.actor import Actor
from core.front.permissions import needs, reads
from core.io import exporter, import_folders, importer
from core.io.disk_full import EXPORT_DISK_FULL_MESSAGE, disk_full_in_plain_words
from core.io.exporter import EXPORT_FORMATS as EXPORT_FORMATS
from core.io.exporter import export_file_name as export_file_name
from core.io.import_words import ADD_LABELS_OPTION as ADD_LABELS_OPTION
from core.io.import_words import ADD_LANGUAGES_OPTION as ADD_LANGUAGES_OPTION
from core.io.import_words import CLI_WORDS as CLI_WORDS
from core.io.import_words import PAGE_WORDS as PAGE_WORDS
from core.io.import_words import ImportWords as ImportWords
from core.io.importer import IMPORT_STATUSES as IMPORT_STATUSES
from core.io.importer import ColumnMapping as ColumnMapping
from core.io.importer import ImportPlan as ImportPlan
from core.io.importer import ImportResult as ImportResult
from core.io.importer import guess_mapping as guess_mapping
from core.io.skipped_rows import skipped_rows_csv as skipped_rows_csv
from core.io.skipped_rows import skipped_rows_file_name as skipped_rows_file_name
from core.io.table_files import FORMATS as TABLE_FORMATS
from core.io.table_files import read_table
from core.io.uploads import display_name as display_name
from core.io.uploads import read_upload as read_upload
from core.store import samples
from core.store.projects import Project
from core.store.samples import CountRow as CountRow
from core.store.samples import QueueStep as QueueStep
from core.store.samples import Sample as Sample
from core.store.samples import SampleFilter as SampleFilter
from core.store.samples import SamplePage as SamplePage
from core.store.samples import SampleWindow as SampleWindow
from core.store.schema import SAMPLE_ORIGINS as SAMPLE_ORIGINS
from core.store.schema import SAMPLE_SPLITS as SAMPLE_SPLITS
from core.store.schema import SAMPLE_STATUSES as SAMPLE_STATUSES

__all__ = [
    "ADD_LABELS_OPTION",
    "ADD_LANGUAGES_OPTION",
    "CLI_WORDS",
    "EXPORT_FORMATS",
    "IMPORT_STATUSES",
    "PAGE_WORDS",
    "SAMPLE_ORIGINS",
    "SAMPLE_SPLITS",
    "SAMPLE_STATUSES",
    "TABLE_FORMATS",
    "ColumnMapping",
    "CountRow",
    "ImportPlan",
    "ImportResult",
    "ImportWords",
    "QueueStep",
    "Sample",
    "SampleFilter",
    "SamplePage",
    "SampleWindow",
    "allowed_import_folders",
    "browse_page",
    "count_before",
    "count_samples",
    "counts_by_language_label_status",
    "display_name",
    "execute_import",
    "export_download",
    "export_file_name",
    "export_to_file",
    "flag_kinds",
    "guess_mapping",
    "has_samples",
    "iter_samples",
    "page_samples",
    "plan_import",
    "read_import_path",
    "read_table_file",
    "read_upload",
    "review_step",
    "skipped_rows_csv",
    "skipped_rows_file_name",
    "step_sample",
]


# Samples


@reads
def count_samples(actor: Actor, project: Project, flt: SampleFilter | None = None) -> int:
    return samples.count_samples(actor.store, project.id, flt)


@reads
def has_samples(actor: Actor, project: Project) -> bool:
    """Whether the project has any sample (cheap at any size, where counting them is not)."""
    return samples.has_samples(actor.store, project.id)


@reads
def page_samples(
    actor: Actor, project: Project, flt: SampleFilter | None = None, page: int = 1, page_size: int = 50
) -> SamplePage:
    return samples.page_samples(actor.store, project.id, flt, page=page, page_size=page_size)


@reads
def count_before(actor: Actor, project: Project, flt: SampleFilter, sample_id: int) -> int:
    """How many samples come before this one in the filter's order (its position, counted from 0)."""
    return samples.count_before(actor.store, project.id, flt, sample_id)


@reads
def step_sample(
    actor: Actor, project: Project, flt: SampleFilter, current_id: int | None, direction: int = 1
) -> Sample | None:
    """The next (direction 1) or previous (-1) sample in the filter's order, from the current one."""
    return samples.step_sample(actor.store, project.id, flt, current_id, direction)


@reads
def browse_page(
    actor: Actor,
    project: Project,
    flt: SampleFilter | None = None,
    *,
    after: int | None = None,
    before: int | None = None,
    page_size: int = 50,
) -> SampleWindow:
    """The page of samples after the id `after` (Next), before the id `before` (Previous), or the first page, with
    its place in the list: it costs one page, however far in the list it is."""
    return samples.browse_page(actor.store, project.id, flt, after=after, before=before, page_size=page_size)


@reads
def review_step(actor: Actor, project: Project, flt: SampleFilter, start: int | None) -> QueueStep:
    """The queue's first sample with an id of at least `start` (its first one when None, or when none is left),
    its position and the queue's length ("Sample k of N"), and the sample before it (Previous)."""
    return samples.review_step(actor.store, project.id, flt, start)


@reads
def iter_samples(actor: Actor, project: Project, flt: SampleFilter | None = None) -> Iterator[Sample]:
    """Every sample the filter keeps, in id order, read in chunks."""
    return samples.iter_samples(actor.store, project.id, flt)


@reads
def counts_by_language_label_status(actor: Actor, project: Project, flt: SampleFilter | None = None) -> list[CountRow]:
    """How many samples the filter keeps per language, label and status."""
    return samples.count_by_language_label_status(actor.store, project.id, flt)


@reads
def flag_kinds(actor: Actor, project: Project) -> list[str]:
    """The kinds of flag the project's samples carry."""
    return samples.flag_kinds(actor.store, project.id)


# Importing


@reads
def allowed_import_folders(actor: Actor) -> list[Path]:
    """The server folders a file may be imported from by its path."""
    return import_folders.allowed_import_folders()


@needs("server_files.read")
def read_import_path(actor: Actor, raw: str) -> tuple[Path, pd.DataFrame]:
    """A file on the server, read as a table, once its path is inside the allowed folders."""
    path = import_folders.check_import_path(raw)
    return path, read_table(path)


@needs("import")
def read_table_file(actor: Actor, path: Path, fmt: str | None = None) -> pd.DataFrame:
    """A table file (or a datasets folder) on this machine, every column as text (the CLI's import)."""
    return read_table(path, fmt)


@needs("import")
def plan_import(
    actor: Actor,
    project: Project,
    frame: pd.DataFrame,
    mapping: ColumnMapping,
    source: str,
    *,
    words: ImportWords = PAGE_WORDS,
) -> ImportPlan:
    """What importing the table would store and skip, checked against the project; nothing is written."""
    return importer.plan_import(actor.store, project, frame, mapping, source, words=words)


@needs("import")
def execute_import(actor: Actor, project: Project, plan: ImportPlan, *, skip_invalid: bool = False) -> ImportResult:
    return importer.execute_import(actor.store, project, plan, skip_invalid=skip_invalid)


# Exporting


@reads
def export_download(actor: Actor, project: Project, fmt: str, flt: SampleFilter | None = None) -> tuple[str, bytes]:
    """The file name and bytes of the project's samples (those the filter keeps) in the format."""
    return exporter.export_download(actor.store, project.id, fmt, flt)


@needs("export")
def export_to_file(actor: Actor, project: Project, fmt: str, out: Path, flt: SampleFilter | None = None) -> int:
    """Writes the project's samples (those the filter keeps) to `out`, readable by its owner only; returns how many
    were written (a full disk is told in plain words)."""
    with disk_full_in_plain_words(EXPORT_DISK_FULL_MESSAGE):
        return exporter.export_project(actor.store, project.id, fmt, out, flt)

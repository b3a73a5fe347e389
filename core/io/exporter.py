"""Exporting a project's samples: CSV (formula-escaped), JSONL, Parquet, and a `datasets.DatasetDict` on disk."""

from __future__ import annotations

import io
import json
import shutil
import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pandas as pd

from core.errors import InvalidInput
from core.io.disk_full import EXPORT_DISK_FULL_MESSAGE, disk_full_in_plain_words
from core.io.private_files import make_private_dirs, make_tree_private, write_private_file
from core.io.spreadsheet_safety import STUDIO_FORMAT_COLUMN, STUDIO_FORMAT_PLAIN, STUDIO_FORMAT_VALUE, escape_cell
from core.store.database import Store
from core.store.judgements import judgements_for_export
from core.store.projects import get_project
from core.store.samples import Sample, SampleFilter, iter_samples

EXPORT_FORMATS = ("csv", "jsonl", "parquet", "hf")
EXPORT_COLUMNS = (
    "id",
    "text",
    "label",
    "language",
    "split",
    "origin",
    "status",
    "flags",
    "source",
    "generation_run_id",
    "prompt_version",
    "model",
    "created_at",
    "created_by",
    "updated_at",
    "updated_by",
    "judgements",  # every annotator's judgement of the sample (JSON list; see core.review.agreement)
)


def sample_record(sample: Sample) -> dict[str, Any]:
    return {
        "id": sample.id,
        "text": sample.text,
        "label": sample.label,
        "language": sample.language,
        "split": sample.split,
        "origin": sample.origin,
        "status": sample.status,
        "flags": json.dumps([asdict(f) for f in sample.flags], ensure_ascii=False),
        "source": sample.source,
        "generation_run_id": sample.generation_run_id,
        "prompt_version": sample.prompt_version,
        "model": sample.model,
        "created_at": sample.created_at.isoformat(),
        "created_by": sample.created_by,
        "updated_at": sample.updated_at.isoformat(),
        "updated_by": sample.updated_by,
    }


def export_frame(store: Store, project: int | str, flt: SampleFilter | None = None) -> pd.DataFrame:
    resolved = get_project(store, project)
    records = [sample_record(s) for s in iter_samples(store, resolved.id, flt)]
    frame = pd.DataFrame.from_records(records, columns=list(EXPORT_COLUMNS))
    judged = judgements_for_export(store, resolved.id)
    frame["judgements"] = [json.dumps(judged.get(int(i), []), ensure_ascii=False) for i in frame["id"]]
    frame["generation_run_id"] = frame["generation_run_id"].astype("Int64")
    frame["id"] = frame["id"].astype("int64")
    return frame


def csv_bytes(frame: pd.DataFrame) -> bytes:
    """CSV with every text cell formula-escaped and the studio's marker column (see spreadsheet_safety)."""
    escaped = frame.copy()
    for column in escaped.columns:
        if escaped[column].dtype == object or pd.api.types.is_string_dtype(escaped[column]):
            escaped[column] = [escape_cell(v) if isinstance(v, str) else v for v in escaped[column]]
    escaped[STUDIO_FORMAT_COLUMN] = STUDIO_FORMAT_VALUE
    return escaped.to_csv(index=False).encode("utf-8")


def jsonl_bytes(frame: pd.DataFrame) -> bytes:
    lines = []
    for record in frame.to_dict(orient="records"):
        clean = {k: (None if _is_missing(v) else v) for k, v in record.items()}
        lines.append(json.dumps(clean, ensure_ascii=False, default=int))
    return ("\n".join(lines) + ("\n" if lines else "")).encode("utf-8")


def _is_missing(value: object) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and value != value)


def parquet_bytes(frame: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    return buffer.getvalue()


def export_project(store: Store, project: int | str, fmt: str, out: Path, flt: SampleFilter | None = None) -> int:
    """Write the export to `out` (a file, or a folder for `hf`) atomically; returns the number of samples.

    The file (and any folder made for it) is for its owner only: 0600, folders 0700."""
    if fmt not in EXPORT_FORMATS:
        raise InvalidInput(f"Unknown export format '{fmt}': use one of {', '.join(EXPORT_FORMATS)}.")
    frame = export_frame(store, project, flt)
    if fmt != "csv":  # the marker lets a re-import keep flags and provenance (csv_bytes sets the escaped one)
        frame[STUDIO_FORMAT_COLUMN] = STUDIO_FORMAT_PLAIN
    out = Path(out)
    with disk_full_in_plain_words(EXPORT_DISK_FULL_MESSAGE):
        make_private_dirs(out.parent)
        if fmt == "hf":
            _write_hf(frame, out)
        else:
            data = {"csv": csv_bytes, "jsonl": jsonl_bytes, "parquet": parquet_bytes}[fmt](frame)
            tmp = out.with_name(f".{out.name}.partial")
            tmp.unlink(missing_ok=True)  # a leftover of an interrupted export, with whatever mode it had
            try:
                write_private_file(tmp, data, EXPORT_DISK_FULL_MESSAGE)
                tmp.replace(out)
            finally:
                tmp.unlink(missing_ok=True)
    return len(frame)


def _write_hf(frame: pd.DataFrame, out: Path) -> None:
    import datasets

    features = datasets.Features(
        {
            c: datasets.Value("int64") if c in ("id", "generation_run_id") else datasets.Value("string")
            for c in frame.columns
        }
    )
    parts = {}
    for split in ("train", "test"):
        part = frame[frame["split"] == split].reset_index(drop=True)
        parts[split] = datasets.Dataset.from_pandas(part, features=features, preserve_index=False)
    if out.exists() and not out.is_dir():
        raise InvalidInput(f"'{out}' is a file; a Hugging Face dataset export needs a folder path.")
    if out.exists() and any(out.iterdir()):
        raise InvalidInput(f"The folder '{out}' is not empty: choose a new folder for the export.")
    with tempfile.TemporaryDirectory(dir=out.parent) as tmp:
        staging = Path(tmp) / "dataset"
        # an empty split must still get one shard: with none, datasets cannot load the folder back
        one_shard_if_empty = {name: 1 for name, part in parts.items() if len(part) == 0}
        datasets.DatasetDict(parts).save_to_disk(str(staging), num_shards=one_shard_if_empty)
        make_tree_private(staging)  # still inside the 0700 temporary folder: nobody else saw it
        if out.exists():
            out.rmdir()
        shutil.move(str(staging), str(out))


def _file_stem(project_name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in project_name).strip("_") or "project"


def export_file_name(project_name: str, fmt: str) -> str:
    """The name `export_download` gives the file: known before the file is written (a one-click download)."""
    if fmt not in EXPORT_FORMATS:
        raise InvalidInput(f"Unknown export format '{fmt}': use one of {', '.join(EXPORT_FORMATS)}.")
    stem = _file_stem(project_name)
    return f"{stem}-dataset.zip" if fmt == "hf" else f"{stem}.{fmt}"


def export_download(store: Store, project: int | str, fmt: str, flt: SampleFilter | None = None) -> tuple[str, bytes]:
    """The export as a file name and its bytes (a zip of the folder for `hf`), for a download button; the files
    written on the way (owner-only, in a 0700 temporary folder) are removed."""
    resolved = get_project(store, project)
    stem = _file_stem(resolved.name)
    with disk_full_in_plain_words(EXPORT_DISK_FULL_MESSAGE), tempfile.TemporaryDirectory() as tmp:
        if fmt == "hf":
            folder = Path(tmp) / f"{stem}-dataset"
            export_project(store, resolved.id, fmt, folder, flt)
            archive = shutil.make_archive(str(Path(tmp) / stem), "zip", root_dir=tmp, base_dir=folder.name)
            return f"{stem}-dataset.zip", Path(archive).read_bytes()
        extension = {"csv": "csv", "jsonl": "jsonl", "parquet": "parquet"}[fmt]
        target = Path(tmp) / f"{stem}.{extension}"
        export_project(store, resolved.id, fmt, target, flt)
        return target.name, target.read_bytes()

"""Reading tabular files (CSV, TSV, JSONL, Parquet, Hugging Face `datasets` folders) into a DataFrame of text cells."""

from __future__ import annotations

import io
import json
import re
import tempfile
import zipfile
from pathlib import Path

import pandas as pd

from core.errors import InvalidInput

FORMATS = ("csv", "tsv", "jsonl", "parquet", "hf")
_EXTENSIONS = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".tab": "tsv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".zip": "hf",
}


def detect_format(path: Path) -> str:
    if path.is_dir():
        return "hf"
    fmt = _EXTENSIONS.get(path.suffix.lower())
    if fmt is None:
        raise InvalidInput(
            f"'{path.name}' is not a file type the studio reads. Use CSV, TSV, JSONL, Parquet, "
            "or a Hugging Face datasets folder (saved with save_to_disk, or that folder zipped)."
        )
    return fmt


def decode_text(data: bytes, name: str) -> str:
    """UTF-8 (with or without a byte-order mark), otherwise a message that says how to fix the file."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise InvalidInput(
            f"'{name}' is not UTF-8 text (unreadable byte 0x{data[exc.start]:02x} on line {line}). "
            "Save it again as UTF-8 (in a spreadsheet program: 'CSV UTF-8') and import it again."
        ) from None


def read_table(path: Path, fmt: str | None = None) -> pd.DataFrame:
    """All columns as strings; missing cells as None. Raises InvalidInput with a readable message."""
    path = Path(path)
    if not path.exists():
        raise InvalidInput(f"There is no file or folder at '{path}'.")
    fmt = fmt or detect_format(path)
    if fmt in ("csv", "tsv"):
        frame = _read_delimited(path.read_bytes(), path.name, "\t" if fmt == "tsv" else ",")
    elif fmt == "jsonl":
        frame = _read_jsonl(path.read_bytes(), path.name)
    elif fmt == "parquet":
        frame = _read_parquet(path)
    elif fmt == "hf":
        frame = _read_hf(path)
    else:
        raise InvalidInput(f"Unknown format '{fmt}': use one of {', '.join(FORMATS)}.")
    return _as_text_cells(frame)


def _read_delimited(data: bytes, name: str, sep: str) -> pd.DataFrame:
    text = decode_text(data, name)
    if not text.strip():
        raise InvalidInput(f"'{name}' is empty.")
    try:
        return pd.read_csv(io.StringIO(text), sep=sep, dtype=str, keep_default_na=False, na_values=[])
    except pd.errors.ParserError as exc:
        raise InvalidInput(f"'{name}' is not a well-formed table: {_parser_message(str(exc))}") from None
    except pd.errors.EmptyDataError:
        raise InvalidInput(f"'{name}' has no header row.") from None


def _parser_message(message: str) -> str:
    match = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", message)
    if match:
        expected, line, saw = match.groups()
        return (
            f"line {line} has {saw} cells where the header has {expected}. "
            "A text containing the separator must be in double quotes."
        )
    if "EOF inside string" in message or "EOF" in message:
        line = re.search(r"line (\d+)", message)
        where = f" starting on line {line.group(1)}" if line else ""
        return f"a quoted cell{where} is never closed (a missing double quote)."
    return message.split("\n")[0]


def _read_jsonl(data: bytes, name: str) -> pd.DataFrame:
    text = decode_text(data, name)
    stripped = text.lstrip()
    if stripped.startswith("["):  # a JSON array of objects is accepted too
        try:
            records = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InvalidInput(f"'{name}' is not valid JSON (line {exc.lineno}: {exc.msg}).") from None
    else:
        records = []
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise InvalidInput(
                    f"'{name}' line {number} is not valid JSON ({exc.msg}). Each line must be one JSON object."
                ) from None
    bad = next((i for i, r in enumerate(records, start=1) if not isinstance(r, dict)), None)
    if bad is not None:
        raise InvalidInput(f"'{name}' record {bad} is not a JSON object with named fields.")
    if not records:
        raise InvalidInput(f"'{name}' holds no records.")
    return pd.DataFrame.from_records(records)


def _read_parquet(path: Path) -> pd.DataFrame:
    try:
        return pd.read_parquet(path)
    except Exception as exc:
        raise InvalidInput(f"'{path.name}' could not be read as Parquet: {str(exc).splitlines()[0]}") from None


def _read_hf(path: Path) -> pd.DataFrame:
    if path.is_file() and path.suffix.lower() == ".zip":
        with tempfile.TemporaryDirectory() as tmp:
            try:
                with zipfile.ZipFile(path) as archive:
                    _safe_extract(archive, Path(tmp))
            except zipfile.BadZipFile:
                raise InvalidInput(f"'{path.name}' is not a readable zip file.") from None
            root = _find_dataset_root(Path(tmp))
            return _load_hf_folder(root, path.name)
    return _load_hf_folder(path, path.name)


def _safe_extract(archive: zipfile.ZipFile, target: Path) -> None:
    for member in archive.infolist():
        destination = (target / member.filename).resolve()
        if not destination.is_relative_to(target.resolve()):
            raise InvalidInput("The zip file contains paths outside its folder; it was not opened.")
    archive.extractall(target)


def _find_dataset_root(folder: Path) -> Path:
    markers = ("dataset_dict.json", "dataset_info.json", "state.json")
    for candidate in [folder, *sorted(p for p in folder.rglob("*") if p.is_dir())]:
        if any((candidate / m).exists() for m in markers):
            return candidate
    raise InvalidInput("The zip file does not contain a Hugging Face dataset saved with save_to_disk.")


def _load_hf_folder(folder: Path, name: str) -> pd.DataFrame:
    import datasets

    try:
        loaded = datasets.load_from_disk(str(folder))
    except (FileNotFoundError, ValueError) as exc:
        raise InvalidInput(
            f"'{name}' is not a Hugging Face dataset saved with save_to_disk ({str(exc).splitlines()[0]})."
        ) from None
    if isinstance(loaded, datasets.DatasetDict):
        frames = []
        for split_name, part in loaded.items():
            frame = part.to_pandas()
            if "split" not in frame.columns:
                frame["split"] = "test" if "test" in split_name.lower() else "train"
            frames.append(frame)
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    return loaded.to_pandas()


def _as_text_cells(frame: pd.DataFrame) -> pd.DataFrame:
    frame.columns = [str(c) for c in frame.columns]
    out = {}
    for column in frame.columns:
        values = frame[column].tolist()
        out[column] = [_cell(v) for v in values]
    return pd.DataFrame(out, columns=list(frame.columns), dtype=object)


def _cell(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, float):
        if value != value:  # NaN
            return None
        return str(int(value)) if value.is_integer() else str(value)
    if isinstance(value, (list, dict)):
        return json.dumps(value, ensure_ascii=False)
    if hasattr(value, "tolist"):  # numpy arrays from parquet list columns
        return json.dumps(value.tolist(), ensure_ascii=False)
    return str(value)

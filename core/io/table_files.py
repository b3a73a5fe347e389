"""Reading tabular files (CSV, TSV, JSONL, Parquet, Hugging Face `datasets` folders) into a DataFrame of text cells."""

from __future__ import annotations

import codecs
import csv
import io
import json
import re
import tempfile
import zipfile
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pandas as pd

from core.errors import InvalidInput
from core.io.disk_full import disk_full_in_plain_words
from core.io.private_files import own_private_dir
from core.settings import get_settings

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


def detect_format(path: Path, name: str | None = None) -> str:
    if path.is_dir():
        return "hf"
    fmt = _EXTENSIONS.get(path.suffix.lower())
    if fmt is None:
        raise InvalidInput(
            f"'{name or path.name}' is not a file type the studio reads. Use CSV, TSV, JSONL, Parquet, "
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


def read_table(path: Path, fmt: str | None = None, *, name: str | None = None) -> pd.DataFrame:
    """All columns as strings; missing cells as None. Raises InvalidInput with a readable message.

    `name` is the file name messages use (an upload's own name rather than the name it was saved under).
    """
    path = Path(path)
    name = name or path.name
    if not path.exists():
        raise InvalidInput(f"There is no file or folder at '{path}'.")
    fmt = fmt or detect_format(path, name)
    if fmt in ("csv", "tsv"):
        frame = _read_delimited(path.read_bytes(), name, "\t" if fmt == "tsv" else ",")
    elif fmt == "jsonl":
        frame = _read_jsonl(path.read_bytes(), name)
    elif fmt == "parquet":
        frame = _read_parquet(path, name)
    elif fmt == "hf":
        frame = _read_hf(path, name)
    else:
        raise InvalidInput(f"Unknown format '{fmt}': use one of {', '.join(FORMATS)}.")
    _refuse_repeated_columns([str(c) for c in frame.columns], name)
    if len(frame) == 0:
        raise InvalidInput(f"The file '{name}' has no rows.")
    try:
        return _as_text_cells(frame)
    except RecursionError:
        raise InvalidInput(f"'{name}' holds values nested inside each other too deeply to read.") from None


def _refuse_repeated_columns(columns: list[str], name: str) -> None:
    repeated = [column for column, count in Counter(columns).items() if count > 1 and column != ""]
    if not repeated:
        return
    described = "; ".join(
        f"'{column}' (columns {' and '.join(str(i) for i, c in enumerate(columns, start=1) if c == column)})"
        for column in repeated
    )
    raise InvalidInput(
        f"'{name}' has more than one column named {described}. Rename the columns so that each name is used once, "
        "and import it again."
    )


def _read_delimited(data: bytes, name: str, sep: str) -> pd.DataFrame:
    text = decode_text(data, name)
    if not text or text.isspace():
        raise InvalidInput(f"'{name}' is empty.")
    header = next(csv.reader(_lines(text), delimiter=sep), [])
    _refuse_repeated_columns(header, name)  # pandas would quietly rename the second 'text' to 'text.1'
    del text
    # the bytes, now known to be UTF-8 (less a byte-order mark): pandas reads text through a wrapper that grows
    # as the square of the file's size when its letters take more than one byte
    body = io.BytesIO(data[len(codecs.BOM_UTF8) :] if data.startswith(codecs.BOM_UTF8) else data)
    try:
        # object columns: the parser's own strings, as they are (no conversion to Arrow strings and back)
        return pd.read_csv(body, sep=sep, dtype=object, keep_default_na=False, na_values=[], encoding="utf-8")
    except pd.errors.ParserError as exc:
        raise InvalidInput(f"'{name}' is not a well-formed table: {_parser_message(str(exc))}") from None
    except pd.errors.EmptyDataError:
        raise InvalidInput(f"'{name}' has no header row.") from None


def _lines(text: str) -> Iterator[str]:
    """The lines of `text` (line breaks kept), one at a time, as a file opened on it would give them."""
    start = 0
    while start < len(text):
        end = text.find("\n", start)
        if end < 0:
            yield text[start:]
            return
        yield text[start : end + 1]
        start = end + 1


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
        except RecursionError:
            raise InvalidInput(
                f"'{name}' holds lists or objects nested inside each other too deeply to read. "
                "Each record must be one JSON object with plain values."
            ) from None
    else:
        records = []
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            repeated: list[str] = []
            try:
                record = json.loads(line, object_pairs_hook=_keeping_repeats(repeated))
            except json.JSONDecodeError as exc:
                raise InvalidInput(
                    f"'{name}' line {number} is not valid JSON ({exc.msg}). Each line must be one JSON object."
                ) from None
            except RecursionError:
                raise InvalidInput(
                    f"'{name}' line {number} holds lists or objects nested inside each other too deeply to read. "
                    "Each line must be one JSON object with plain values."
                ) from None
            if repeated:
                fields = ", ".join(f"'{field}'" for field in repeated)
                raise InvalidInput(
                    f"'{name}' line {number} has the field {fields} more than once. "
                    "Give each field of a line one value, and import it again."
                )
            records.append(record)
    bad = next((i for i, r in enumerate(records, start=1) if not isinstance(r, dict)), None)
    if bad is not None:
        raise InvalidInput(f"'{name}' record {bad} is not a JSON object with named fields.")
    if not records:
        raise InvalidInput(f"The file '{name}' has no rows.")
    return pd.DataFrame.from_records(records)


def _keeping_repeats(repeated: list[str]) -> Callable[[list[tuple[str, object]]], dict[str, object]]:
    """A json object hook that notes the repeated fields of the outermost object (json keeps the last silently)."""

    def hook(pairs: list[tuple[str, object]]) -> dict[str, object]:
        repeated[:] = [key for key, count in Counter(key for key, _ in pairs).items() if count > 1]
        return dict(pairs)  # the outermost object is decoded last, so `repeated` ends up describing it

    return hook


def _read_parquet(path: Path, name: str) -> pd.DataFrame:
    import pyarrow.parquet as pq

    try:
        _refuse_repeated_columns([str(c) for c in pq.read_schema(path).names], name)
        return pd.read_parquet(path)
    except InvalidInput:
        raise
    except Exception as exc:
        raise InvalidInput(f"'{name}' could not be read as Parquet: {str(exc).splitlines()[0]}") from None


def _read_hf(path: Path, name: str) -> pd.DataFrame:
    if not (path.is_file() and path.suffix.lower() == ".zip"):
        return _load_hf_folder(path, name)
    settings = get_settings()
    with disk_full_in_plain_words():
        own_private_dir(settings.unpack_dir)
        # unpacked on the studio's own disk (not /tmp), and removed on every way out of this block
        with tempfile.TemporaryDirectory(dir=settings.unpack_dir, prefix="zip-", ignore_cleanup_errors=True) as tmp:
            try:
                with zipfile.ZipFile(path) as archive:
                    _check_table_of_contents(archive, name, settings.max_archive_bytes, settings.max_archive_files)
                    extract_within_limits(archive, Path(tmp), settings.max_archive_bytes, name)
            except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError):
                raise InvalidInput(f"'{name}' is not a readable zip file.") from None
            except NotImplementedError:  # a compression method Python cannot undo
                raise InvalidInput(
                    f"'{name}' uses a kind of zip compression the studio cannot unpack: zip it again with the "
                    "usual (deflate) compression."
                ) from None
            root = _find_dataset_root(Path(tmp))
            return _load_hf_folder(root, name)


def _size(count: int) -> str:
    return f"{count / 1e9:.1f} GB" if count >= 1e9 else f"{count / 1e6:.1f} MB"


def _check_table_of_contents(archive: zipfile.ZipFile, name: str, max_bytes: int, max_files: int) -> None:
    """Refuse before unpacking anything, from what the zip's table of contents declares."""
    members = archive.infolist()
    if len(members) > max_files:
        raise InvalidInput(
            f"'{name}' holds {len(members):,} files; the studio unpacks at most {max_files:,} "
            "(STUDIO_MAX_ARCHIVE_FILES). Nothing was unpacked."
        )
    declared = sum(member.file_size for member in members)
    if declared > max_bytes:
        raise InvalidInput(
            f"'{name}' would unpack to {_size(declared)}; the studio unpacks at most {_size(max_bytes)} "
            "(STUDIO_MAX_ARCHIVE_BYTES). Nothing was unpacked."
        )


def extract_within_limits(archive: zipfile.ZipFile, target: Path, max_bytes: int, name: str) -> None:
    """Unpack into `target`, counting the bytes really written: a zip whose table of contents lies about its
    sizes is stopped at `max_bytes`. Members may not leave `target`."""
    root = target.resolve()
    destinations = []
    for member in archive.infolist():
        destination = (root / member.filename).resolve()
        if not destination.is_relative_to(root):
            raise InvalidInput(f"'{name}' contains paths outside its folder; it was not opened.")
        destinations.append((member, destination))
    written = 0
    for member, destination in destinations:
        if member.is_dir() or destination == root:
            destination.mkdir(parents=True, exist_ok=True)
            continue
        destination.parent.mkdir(parents=True, exist_ok=True)
        with archive.open(member) as source, destination.open("wb") as sink:
            while chunk := source.read(1 << 20):
                written += len(chunk)
                if written > max_bytes:
                    raise InvalidInput(
                        f"'{name}' unpacks to more than {_size(max_bytes)}, the most the studio unpacks "
                        "(STUDIO_MAX_ARCHIVE_BYTES). It was not imported."
                    )
                sink.write(chunk)


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
        out[column] = values if set(map(type, values)) <= {str} else [_cell(v) for v in values]
    return pd.DataFrame(out, columns=list(frame.columns), dtype=object)


def _cell(value: object) -> str | None:
    """A cell as text. Only real missing values (None, NaN, pandas' NA/NaT) are None: the text 'nan' is text."""
    if isinstance(value, str):
        return value
    if isinstance(value, np.generic):  # numpy scalars from Parquet: float32 NaN, int64, datetime64('NaT')...
        value = value.item()
    if value is None or value is pd.NA or value is pd.NaT:
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

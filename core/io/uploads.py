"""Files uploaded from the browser: saved owner-only for the moment they are read, then deleted."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pandas as pd

from core.io.disk_full import disk_full_in_plain_words
from core.io.private_files import own_private_dir
from core.io.table_files import read_table
from core.settings import get_settings

_MAX_SUFFIX = 16


def display_name(name: str) -> str:
    """The name the user's file had on their machine (without any folder a browser may send)."""
    return Path(name.replace("\\", "/")).name or "the uploaded file"


@contextmanager
def saved_upload(name: str, data: bytes) -> Iterator[Path]:
    """The upload as a file (0600, in the 0700 uploads folder) under a name of the studio's own, with the user's
    extension; it is deleted when the block ends, however it ends."""
    folder = own_private_dir(get_settings().uploads_dir)
    suffix = Path(display_name(name)).suffix.lower()
    suffix = suffix if len(suffix) <= _MAX_SUFFIX else ""
    with disk_full_in_plain_words():
        descriptor, raw = tempfile.mkstemp(dir=folder, prefix="upload-", suffix=suffix)  # created 0600
        path = Path(raw)
        try:
            with os.fdopen(descriptor, "wb") as handle:
                handle.write(data)
        except BaseException:
            path.unlink(missing_ok=True)
            raise
    try:
        yield path
    finally:
        path.unlink(missing_ok=True)


def read_upload(name: str, data: bytes, fmt: str | None = None) -> pd.DataFrame:
    """Read an uploaded file; messages name the user's file, and the saved copy is gone afterwards."""
    with saved_upload(name, data) as path:
        return read_table(path, fmt, name=display_name(name))

"""Uploaded and exported files are readable by their owner only, and an upload is deleted once it is read."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from core.errors import InvalidInput
from core.io.exporter import export_project
from core.io.importer import ColumnMapping, import_file
from core.io.uploads import read_upload, saved_upload
from core.settings import get_settings
from core.store import Store
from core.store.projects import create_project, parse_spec

CSV = b"text,label\nhello,a\n"


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def project(sqlite_store: Store, tmp_path: Path) -> int:
    spec = parse_spec(name="Private", labels=[{"name": "a"}], languages=[{"code": "en"}])
    project = create_project(sqlite_store, spec)
    seed = tmp_path / "seed.csv"
    seed.write_bytes(b"text,label\none,a\nanother,a\n")
    import_file(sqlite_store, project.id, seed, ColumnMapping("text", "label", language="en"))
    return project.id


def test_an_upload_is_saved_for_its_owner_only_and_deleted_after(studio_home: Path) -> None:
    uploads = get_settings().uploads_dir
    uploads.chmod(0o755)  # as an older studio created it
    with saved_upload("my data.csv", CSV) as path:
        assert path.parent == uploads
        assert path.read_bytes() == CSV
        assert _mode(path) == 0o600
        assert _mode(uploads) == 0o700
    assert not path.exists()
    assert list(uploads.iterdir()) == []


def test_an_upload_is_deleted_when_it_was_read_and_when_it_was_refused(studio_home: Path) -> None:
    uploads = get_settings().uploads_dir
    assert read_upload("good.csv", CSV)["text"].tolist() == ["hello"]
    assert list(uploads.iterdir()) == []
    with pytest.raises(InvalidInput):
        read_upload("bad.csv", b"\xff\xfe not utf-8")
    assert list(uploads.iterdir()) == []


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet"])
def test_an_exported_file_is_for_its_owner_only(sqlite_store: Store, project: int, tmp_path: Path, fmt: str) -> None:
    out = tmp_path / "new-folder" / "inner" / f"export.{fmt}"
    export_project(sqlite_store, project, fmt, out)
    assert _mode(out) == 0o600
    assert _mode(out.parent) == 0o700
    assert _mode(out.parent.parent) == 0o700


def test_an_existing_export_folder_keeps_its_mode(sqlite_store: Store, project: int, tmp_path: Path) -> None:
    folder = tmp_path / "shared"
    folder.mkdir()
    folder.chmod(0o755)
    export_project(sqlite_store, project, "csv", folder / "x.csv")
    assert _mode(folder) == 0o755
    assert _mode(folder / "x.csv") == 0o600


def test_a_dataset_export_is_for_its_owner_only(sqlite_store: Store, project: int, tmp_path: Path) -> None:
    out = tmp_path / "dataset"
    export_project(sqlite_store, project, "hf", out)
    assert _mode(out) == 0o700
    entries = list(out.rglob("*"))
    assert entries
    for entry in entries:
        assert _mode(entry) == (0o700 if entry.is_dir() else 0o600), entry

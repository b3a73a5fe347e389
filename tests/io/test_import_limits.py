"""Limits on what an import may unpack and store: zip archives (size, file count, lying headers) and text length."""

from __future__ import annotations

import shutil
import struct
import zipfile
from pathlib import Path

import datasets
import pytest

from core.errors import InvalidInput, StudioError
from core.io.importer import ColumnMapping, import_file, plan_import
from core.io.table_files import extract_within_limits, read_table
from core.settings import get_settings, reset_settings, settings_from_env
from core.store import Store
from core.store.projects import create_project, parse_spec
from core.store.samples import count_samples

MAPPING = ColumnMapping(text_column="text", label_column="label", language="en")


@pytest.fixture
def project(sqlite_store: Store) -> int:
    spec = parse_spec(name="Limits", labels=[{"name": "a"}, {"name": "b"}], languages=[{"code": "en"}])
    return create_project(sqlite_store, spec).id


def _limits(monkeypatch: pytest.MonkeyPatch, **values: int) -> None:
    for name, value in values.items():
        monkeypatch.setenv(name, str(value))
    reset_settings()


def _leftovers() -> list[Path]:
    """Everything left in the studio's unpacking folder (it must be empty after every import)."""
    folder = get_settings().unpack_dir
    return sorted(folder.rglob("*")) if folder.exists() else []


def _dataset_zip(folder: Path, rows: int = 3) -> Path:
    data = datasets.Dataset.from_list([{"text": f"sample {i}", "label": "a"} for i in range(rows)])
    data.save_to_disk(str(folder / "dataset"))
    archive = shutil.make_archive(str(folder / "dataset"), "zip", root_dir=folder, base_dir="dataset")
    shutil.rmtree(folder / "dataset")
    return Path(archive)


def _bomb(path: Path, members: int = 1, size: int = 2_000_000) -> Path:
    """A small zip that unpacks to `members` x `size` bytes of zeros (deflate shrinks them ~1000 times)."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for index in range(members):
            archive.writestr(f"dataset/part-{index}.arrow", b"\0" * size)
    return path


def test_the_defaults() -> None:
    settings = settings_from_env({"STUDIO_HOME": "/srv/studio"})
    assert settings.max_text_chars == 20_000
    assert settings.max_archive_bytes >= 1_000_000_000
    assert settings.max_archive_files >= 1_000
    assert settings.import_folders == (Path("/srv/studio/imports"),)


def test_a_limit_that_is_not_a_number_is_named() -> None:
    with pytest.raises(StudioError, match=r"STUDIO_MAX_TEXT_CHARS must be a whole number \(it is 'lots'\)"):
        settings_from_env({"STUDIO_HOME": "/srv/studio", "STUDIO_MAX_TEXT_CHARS": "lots"})
    assert settings_from_env({"STUDIO_HOME": "/srv", "STUDIO_MAX_ARCHIVE_BYTES": "3_000_000"}).max_archive_bytes == 3e6


def test_a_zip_that_declares_more_than_the_limit_is_refused_before_unpacking(
    sqlite_store: Store, project: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _limits(monkeypatch, STUDIO_MAX_ARCHIVE_BYTES=1_000_000)
    bomb = _bomb(tmp_path / "bomb.zip", members=3)
    assert bomb.stat().st_size < 30_000
    with pytest.raises(InvalidInput) as error:
        import_file(sqlite_store, project, bomb, MAPPING)
    message = str(error.value)
    assert "'bomb.zip' would unpack to 6.0 MB" in message
    assert "at most 1.0 MB" in message
    assert "STUDIO_MAX_ARCHIVE_BYTES" in message
    assert _leftovers() == []
    assert count_samples(sqlite_store, project) == 0


def test_a_zip_with_too_many_files_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _limits(monkeypatch, STUDIO_MAX_ARCHIVE_FILES=10)
    many = _bomb(tmp_path / "many.zip", members=11, size=10)
    with pytest.raises(InvalidInput, match=r"'many\.zip' holds 11 files; the studio unpacks at most 10"):
        read_table(many)
    assert _leftovers() == []


def test_a_zip_whose_table_of_contents_lies_is_refused_and_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The central directory says 10 bytes; the member really inflates to 2 MB."""
    _limits(monkeypatch, STUDIO_MAX_ARCHIVE_BYTES=1_000_000)
    liar = _bomb(tmp_path / "liar.zip")
    data = bytearray(liar.read_bytes())
    central = data.rfind(b"PK\x01\x02")
    struct.pack_into("<I", data, central + 24, 10)  # uncompressed size in the central directory entry
    liar.write_bytes(bytes(data))
    with zipfile.ZipFile(liar) as archive:
        assert sum(i.file_size for i in archive.infolist()) == 10
    with pytest.raises(InvalidInput, match=r"'liar\.zip'"):
        read_table(liar)
    assert _leftovers() == []


def test_unpacking_stops_at_the_limit_counting_the_bytes_really_written(tmp_path: Path) -> None:
    bomb = _bomb(tmp_path / "bomb.zip", members=3, size=400_000)
    target = tmp_path / "out"
    target.mkdir()
    with zipfile.ZipFile(bomb) as archive, pytest.raises(InvalidInput, match=r"more than 0\.5 MB"):
        extract_within_limits(archive, target, max_bytes=500_000, name="bomb.zip")
    written = sum(p.stat().st_size for p in target.rglob("*") if p.is_file())
    assert written <= 500_000


def test_a_dataset_zip_is_unpacked_under_the_studio_folder_and_removed_on_success_and_on_failure(
    sqlite_store: Store, project: int, tmp_path: Path
) -> None:
    good = _dataset_zip(tmp_path)
    assert import_file(sqlite_store, project, good, MAPPING).imported == 3
    assert get_settings().unpack_dir.is_dir()
    assert _leftovers() == []

    not_a_dataset = tmp_path / "notes.zip"
    with zipfile.ZipFile(not_a_dataset, "w") as archive:
        archive.writestr("notes/readme.txt", "hello")
    with pytest.raises(InvalidInput, match="does not contain a Hugging Face dataset"):
        read_table(not_a_dataset)
    assert _leftovers() == []


# --- text length -----------------------------------------------------------------------------------------------


def test_texts_longer_than_the_limit_are_refused_with_their_rows(
    sqlite_store: Store, project: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _limits(monkeypatch, STUDIO_MAX_TEXT_CHARS=50)
    path = tmp_path / "long.csv"
    texts = ["short", "x" * 51, "y" * 50, "z" * 5_000_000]
    path.write_text("text,label\n" + "".join(f"{t},a\n" for t in texts), encoding="utf-8")
    plan = plan_import(sqlite_store, project, read_table(path), MAPPING, "long.csv")
    assert not plan.ok
    assert [p.describe() for p in plan.errors] == [
        "the text is longer than 50 characters, the most a sample may hold "
        "(shorten or split it, or raise STUDIO_MAX_TEXT_CHARS) (2 rows: 2, 4)"
    ]
    with pytest.raises(InvalidInput, match="Nothing was imported"):
        import_file(sqlite_store, project, path, MAPPING)
    assert count_samples(sqlite_store, project) == 0

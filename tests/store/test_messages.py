"""Messages in plain words: a full disk, a file with only a header, deep JSON nesting, a closed pipe, uploads."""

from __future__ import annotations

import csv
import errno
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import event
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import Pool

from core.cli import main
from core.errors import DiskFull, InvalidInput
from core.io.disk_full import DISK_FULL_MESSAGE, as_disk_full
from core.io.importer import ColumnMapping, import_file
from core.io.private_files import write_private_file
from core.io.table_files import read_table
from core.io.uploads import read_upload
from core.settings import get_settings
from core.store import Store
from core.store.projects import create_project, get_project, parse_spec
from core.store.samples import count_samples

PROJECT_ROOT = Path(__file__).resolve().parents[2]
MAPPING = ColumnMapping(text_column="text", label_column="label", language="en")


@pytest.fixture
def project(sqlite_store: Store) -> int:
    spec = parse_spec(name="Messages", labels=[{"name": "a"}], languages=[{"code": "en"}])
    return create_project(sqlite_store, spec).id


# --- a full disk -----------------------------------------------------------------------------------------------


def test_the_disk_full_message_is_the_plain_one() -> None:
    assert DISK_FULL_MESSAGE == (
        "The disk holding the studio's data is full: free space and run the import again; nothing was stored."
    )


def test_a_full_sqlite_database_gives_the_plain_message_and_stores_nothing(
    sqlite_store: Store, project: int, tmp_path: Path
) -> None:
    path = tmp_path / "big.csv"
    path.write_text("text,label\n" + "".join(f"message number {i} {'x' * 200},a\n" for i in range(5000)))
    with sqlite_store.engine.connect() as connection:
        pages = connection.exec_driver_sql("PRAGMA page_count").scalar()

    def small_disk(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
        dbapi_connection.execute(f"PRAGMA max_page_count={pages + 20}")  # SQLite's own "database or disk is full"

    event.listen(sqlite_store.engine, "connect", small_disk)
    sqlite_store.engine.dispose()
    with pytest.raises(DiskFull) as error:
        import_file(sqlite_store, project, path, MAPPING)
    assert str(error.value) == DISK_FULL_MESSAGE
    event.remove(sqlite_store.engine, "connect", small_disk)
    sqlite_store.engine.dispose()
    assert count_samples(sqlite_store, project) == 0
    assert get_project(sqlite_store, project).label_names == ["a"]


def test_postgresql_disk_full_is_recognised() -> None:
    import psycopg.errors

    driver_error = psycopg.errors.DiskFull("could not extend file: No space left on device")
    wrapped = OperationalError("INSERT INTO samples ...", {}, driver_error)
    assert str(as_disk_full(wrapped)) == DISK_FULL_MESSAGE
    other = OperationalError("SELECT 1", {}, psycopg.errors.OperationalError("connection refused"))
    assert as_disk_full(other) is None


def test_writing_a_file_on_a_full_disk_gives_the_plain_message() -> None:
    with pytest.raises(OSError) as real, open("/dev/full", "wb") as full:  # Linux: every write fails with ENOSPC
        full.write(b"x" * 10)
        full.flush()
    assert real.value.errno == errno.ENOSPC
    assert str(as_disk_full(real.value)) == DISK_FULL_MESSAGE
    assert as_disk_full(OSError(errno.EACCES, "Permission denied")) is None

    with pytest.raises(DiskFull, match="The disk holding the studio's data is full"):
        write_private_file(Path("/dev/full"), b"some bytes")


# --- files without rows, deep nesting --------------------------------------------------------------------------


def test_a_file_with_only_a_header_has_no_rows(sqlite_store: Store, project: int, tmp_path: Path) -> None:
    path = tmp_path / "header.csv"
    path.write_text("text,label\n", encoding="utf-8")
    with pytest.raises(InvalidInput, match=r"The file 'header\.csv' has no rows"):
        import_file(sqlite_store, project, path, MAPPING)
    empty_array = tmp_path / "empty.json"
    empty_array.write_text("[]", encoding="utf-8")
    with pytest.raises(InvalidInput, match=r"The file 'empty\.json' has no rows"):
        read_table(empty_array)


def test_deep_json_nesting_is_named_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "deep.jsonl"
    deep = "[" * 100_000 + "]" * 100_000
    path.write_text('{"text": "fine"}\n' + '{"text": ' + deep + "}\n", encoding="utf-8")
    with pytest.raises(InvalidInput) as error:
        read_table(path)
    assert str(error.value) == (
        "'deep.jsonl' line 2 holds lists or objects nested inside each other too deeply to read. "
        "Each line must be one JSON object with plain values."
    )
    array = tmp_path / "deep.json"
    array.write_text("[" + deep + "]", encoding="utf-8")
    with pytest.raises(InvalidInput, match=r"'deep\.json' holds lists or objects nested inside each other too deeply"):
        read_table(array)


# --- uploads name the user's file ------------------------------------------------------------------------------


def test_upload_errors_name_the_file_the_user_chose(studio_home: Path) -> None:
    with pytest.raises(InvalidInput) as error:
        read_upload("my data.csv", "text\ncafé\n".encode("latin-1"))
    assert "'my data.csv' is not UTF-8 text" in str(error.value)
    with pytest.raises(InvalidInput) as error:
        read_upload("my dataset.zip", b"this is not a zip")
    assert str(error.value) == "'my dataset.zip' is not a readable zip file."
    with pytest.raises(InvalidInput) as error:
        read_upload("only header.csv", b"text,label\n")
    assert "'only header.csv' has no rows" in str(error.value)
    assert list(get_settings().uploads_dir.iterdir()) == []


# --- a closed output pipe --------------------------------------------------------------------------------------


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STUDIO_")}
    env.update({"STUDIO_HOME": str(home), "STUDIO_USER": "pipe-user", "STUDIO_DEMO": "0"})
    return env


def _core(home: Path, *args: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "core", *args], cwd=PROJECT_ROOT, env=_env(home), capture_output=True, timeout=120
    )
    assert done.returncode == 0, done.stderr


@pytest.mark.slow
def test_a_closed_pipe_ends_quietly(tmp_path: Path) -> None:
    """`python -m core jobs | head -1`: the reader has gone before the list is written."""
    home = tmp_path / "pipe-home"
    _core(home, "init", "--project", "P", "--labels", "a", "--languages", "en")
    read_end, write_end = os.pipe()
    os.close(read_end)  # nobody will read: every write fails with EPIPE
    try:
        done = subprocess.run(
            [sys.executable, "-m", "core", "jobs"],
            cwd=PROJECT_ROOT,
            env=_env(home),
            stdout=write_end,
            stderr=subprocess.PIPE,
            timeout=120,
        )
    finally:
        os.close(write_end)
    assert done.stderr.decode() == ""
    assert done.returncode in (0, 141)


@pytest.mark.slow
def test_samples_json_into_head_ends_quietly(tmp_path: Path) -> None:
    home = tmp_path / "pipe-home"
    data = tmp_path / "many.csv"
    with data.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "label"])
        writer.writerows([f"sample number {i} " + "word " * 30, "a"] for i in range(2000))
    _core(home, "init", "--project", "P", "--labels", "a", "--languages", "en")
    _core(home, "import", "--project", "P", str(data), "--text-column", "text", "--label-column", "label",
          "--language", "en")  # fmt: skip
    done = subprocess.run(
        ["bash", "-c", f"set -o pipefail; {sys.executable} -m core samples --project P --json | head -c 10"],
        cwd=PROJECT_ROOT,
        env=_env(home),
        capture_output=True,
        timeout=120,
    )
    assert done.stdout == b'[\n  {\n    "'[:10]
    assert done.stderr.decode() == ""
    assert done.returncode in (0, 141)  # with pipefail: the writer's status, as `yes | head` gives


def test_the_cli_reports_a_full_disk_in_plain_words(
    sqlite_store: Store, project: int, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "big.csv"
    path.write_text("text,label\n" + "".join(f"message number {i} {'x' * 200},a\n" for i in range(5000)))
    with sqlite_store.engine.connect() as connection:
        limit = connection.exec_driver_sql("PRAGMA page_count").scalar() + 20

    def small_disk(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
        dbapi_connection.execute(f"PRAGMA max_page_count={limit}")

    event.listen(Pool, "connect", small_disk)  # every engine, so the one the CLI opens too
    try:
        code = main(["import", "--project", "Messages", str(path), "--text-column", "text",
                     "--label-column", "label", "--language", "en"])  # fmt: skip
    finally:
        event.remove(Pool, "connect", small_disk)
    assert (code, capsys.readouterr().err) == (1, f"error: {DISK_FULL_MESSAGE}\n")
    sqlite_store.engine.dispose()
    assert count_samples(sqlite_store, project) == 0

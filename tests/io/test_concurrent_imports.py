"""Imports of one project are serialised by a write lock: three `python -m core import` processes of the same
20,000-row file at once store it once, and the later ones report its rows as skipped (on SQLite and PostgreSQL)."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import create_engine, func, select, text

from core.store import Store
from core.store.locks import hold_write_lock, scope_number
from core.store.projects import create_project, get_project, parse_spec
from core.store.schema import SampleRow

PROJECT_ROOT = Path(__file__).resolve().parents[2]
ROWS = 20_000
IMPORTERS = 3
# well under SQLite's busy timeout (30 s): an importer held back longer would give up with "database is locked"
GATE_DEADLINE_SECONDS = 20.0


def write_file(path: Path) -> Path:
    """20,000 distinct rows in two languages under three labels (two of each new to the project)."""
    labels, languages = ("sports", "politics", "health"), ("sw", "en")
    frame = pd.DataFrame(
        {
            "text": [f"habari namba {i} ya leo kuhusu {labels[i % 3]}" for i in range(ROWS)],
            "label": [labels[i % 3] for i in range(ROWS)],
            "language": [languages[i % 2] for i in range(ROWS)],
        }
    )
    frame.to_csv(path, index=False)
    return path


def start_import(path: Path) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "core", "import", "--project", "news", str(path), "--text-column", "text"]
    command += ["--label-column", "label", "--language-column", "language", "--add-labels", "--add-languages"]
    return subprocess.Popen(
        [*command, "--json"],
        cwd=PROJECT_ROOT,
        env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _cpu_ticks(pid: int) -> int | None:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return int(fields[11]) + int(fields[12])  # utime + stime


def _until_blocked(processes: list[subprocess.Popen[str]], blocked: Callable[[], bool]) -> None:
    """Wait (at most GATE_DEADLINE_SECONDS) until `blocked()` says every importer waits at the store."""
    deadline = time.monotonic() + GATE_DEADLINE_SECONDS
    while time.monotonic() < deadline and not blocked():
        if any(p.poll() is not None for p in processes):
            return  # one ended (e.g. an error): nothing to wait for
        time.sleep(0.1)


@contextmanager
def writes_held_back(store: Store, processes: list[subprocess.Popen[str]]) -> Iterator[None]:
    """Hold every write to the samples until all importers have planned and wait to write, then let them go.

    This makes the race certain instead of likely: each importer has read the keys already stored before any of
    them writes. PostgreSQL says which sessions wait for a lock; on SQLite a waiting importer spends no CPU.
    """
    if store.dialect == "postgresql":
        engine = create_engine(store.url)
        try:
            with engine.connect() as blocker, engine.connect() as watcher:
                blocker.execute(text("LOCK TABLE samples IN EXCLUSIVE MODE"))  # reads go on, inserts wait

                def blocked() -> bool:
                    query = text(
                        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                        "AND wait_event_type = 'Lock'"
                    )
                    waiting = watcher.execute(query).scalar_one()
                    watcher.rollback()
                    return waiting >= IMPORTERS

                yield
                _until_blocked(processes, blocked)
                blocker.rollback()
        finally:
            engine.dispose()
        return
    blocker = sqlite3.connect(store.engine.url.database, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")  # SQLite's one write lock; readers go on (WAL)
    seen: dict[int, tuple[int | None, float]] = {}

    def idle() -> bool:
        now = time.monotonic()
        for process in processes:
            ticks = _cpu_ticks(process.pid)
            if process.pid not in seen or seen[process.pid][0] != ticks:
                seen[process.pid] = (ticks, now)
        return all(now - since >= 1.5 for _, since in seen.values())

    try:
        yield
        _until_blocked(processes, idle)
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()


@pytest.mark.slow
def test_three_concurrent_imports_of_one_file_store_it_once(store: Store, tmp_path: Path) -> None:
    create_project(store, parse_spec(name="news", languages=[{"code": "sw"}], labels=[{"name": "sports"}]))
    path = write_file(tmp_path / "news.csv")
    processes: list[subprocess.Popen[str]] = []
    try:
        with writes_held_back(store, processes):
            processes.extend(start_import(path) for _ in range(IMPORTERS))
        outputs = [p.communicate(timeout=180) for p in processes]
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
    assert [p.returncode for p in processes] == [0] * IMPORTERS, [err for _, err in outputs]
    results = sorted((json.loads(out) for out, _ in outputs), key=lambda r: -r["imported"])
    assert [r["imported"] for r in results] == [ROWS, 0, 0]
    assert [r["skipped"] for r in results] == [0, ROWS, ROWS]
    assert results[0]["labels_added"] == ["health", "politics"] and results[0]["languages_added"] == ["en"]
    assert all(r["labels_added"] == [] and r["languages_added"] == [] for r in results[1:])
    with store.session() as session:
        stored = session.scalar(select(func.count()).select_from(SampleRow))
        distinct = session.scalar(select(func.count(func.distinct(SampleRow.content_key))))
    assert (stored, distinct) == (ROWS, ROWS)
    project = get_project(store, "news")
    assert sorted(project.label_names) == ["health", "politics", "sports"]
    assert sorted(project.language_codes) == ["en", "sw"]


def test_the_write_lock_is_held_until_the_transaction_ends(store: Store) -> None:
    """Another connection cannot take the same lock while a session holds it, and can once it commits."""
    if store.dialect == "postgresql":
        other = create_engine(store.url)

        def free(key: int) -> bool:
            with other.connect() as connection:
                query = text("SELECT pg_try_advisory_xact_lock(:scope, :key)")
                return bool(connection.execute(query, {"scope": scope_number("import"), "key": key}).scalar_one())

    else:

        def free(key: int) -> bool:
            connection = sqlite3.connect(store.engine.url.database, isolation_level=None, timeout=0)
            try:
                connection.execute("BEGIN IMMEDIATE")
                connection.execute("ROLLBACK")
                return True
            except sqlite3.OperationalError as exc:
                assert "locked" in str(exc)
                return False
            finally:
                connection.close()

    with store.session() as session:
        hold_write_lock(session, "import", 7)
        assert not free(7)
        if store.dialect == "postgresql":
            assert free(8)  # another project's imports are not held back
        hold_write_lock(session, "import", 7)  # taking it again in the same transaction does not wait
    assert free(7)
    if store.dialect == "postgresql":
        other.dispose()

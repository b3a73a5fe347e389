"""Import throughput beside its lower bound, measured in the same run, on SQLite and PostgreSQL.

    .venv/bin/python bench/bench_import.py [--rows 100000,1000000] [--postgres URL] [--no-postgres]

For each size, a CSV of synthetic rows (text, label, language; six languages and scripts) is imported into a new
project of a fresh store, then imported again (every row a duplicate: nothing stored). Beside it, the lower bound:

- SQLite: plain `pandas.read_csv` + one `sqlite3` `executemany` of the same rows into a table of the same columns
  (the samples table's columns and types, values as the studio stores them, content key included; no secondary
  index, no foreign key), on a fresh database file with the store's pragmas (WAL, synchronous=NORMAL).
- PostgreSQL: `pandas.read_csv` + one plain psycopg `COPY` of the same rows into such a table.

A second reference line writes the same rows the same plain way into the store's own samples table (its indexes
and foreign key): what the database itself costs for that table, whoever writes to it.

CPU: `time.process_time()` of this process. On PostgreSQL the server's work is separate: "server CPU" is the CPU of
the server processes serving this bench's connections (read from /proc; the server runs on this machine), and the
ratio "CPU" compares client + server CPU. The machine is shared: CPU-seconds are the figure to compare.
"""

from __future__ import annotations

import argparse
import csv
import gc
import hashlib
import os
import sqlite3
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.postgres_databases import postgres_database as shared_postgres_database  # noqa: E402
from bench.synthetic_rows import LABELS, LANGUAGES, fake_rows  # noqa: E402

ORIGIN, SPLIT, STATUS, USER = "synthetic", "train", "pending", "bench"


@dataclass
class Measure:
    wall: float = 0.0
    cpu: float = 0.0  # this process
    server: float = 0.0  # PostgreSQL server processes (0 on SQLite)
    phases: str = ""

    @property
    def total_cpu(self) -> float:
        return self.cpu + self.server


class ServerCpu:
    """CPU seconds of the PostgreSQL server processes that serve connections to one database (same machine)."""

    def __init__(self, url: str | None) -> None:
        self.url = url
        self.start: dict[int, float] = {}

    def _pids(self) -> list[int]:
        import psycopg

        assert self.url
        with psycopg.connect(self.url.replace("+psycopg", ""), autocommit=True) as connection:
            me = connection.execute("SELECT pg_backend_pid()").fetchone()
            rows = connection.execute(
                "SELECT pid FROM pg_stat_activity "
                "WHERE datname = current_database() AND backend_type = 'client backend'"
            ).fetchall()
        return [pid for (pid,) in rows if me is None or pid != me[0]]

    @staticmethod
    def _cpu(pid: int) -> float:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return 0.0
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def begin(self) -> None:
        self.start = {pid: self._cpu(pid) for pid in self._pids()} if self.url else {}

    def end(self) -> float:
        if not self.url:
            return 0.0
        return sum(self._cpu(pid) - self.start.get(pid, 0.0) for pid in self._pids())


@contextmanager
def measured(out: Measure, server: ServerCpu) -> Iterator[None]:
    gc.collect()
    server.begin()
    wall, cpu = time.perf_counter(), time.process_time()
    yield
    out.wall, out.cpu = time.perf_counter() - wall, time.process_time() - cpu
    out.server = server.end()


def write_csv(path: Path, rows: int) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "label", "language"])
        writer.writerows(fake_rows(rows))


def postgres_database(admin_url: str) -> tuple[str, Callable[[], None]]:
    return shared_postgres_database(admin_url, "bench_import")


@contextmanager
def fresh_store(home: Path, admin_url: str | None) -> Iterator[tuple[Any, Any]]:
    """A new store (a new SQLite file, or a new PostgreSQL database) with one project of the bench's labels."""
    from core.settings import reset_settings
    from core.store import Store
    from core.store.projects import create_project, parse_spec

    os.environ["STUDIO_HOME"] = str(home)
    reset_settings()
    drop: Callable[[], None] = lambda: None  # noqa: E731
    if admin_url:
        url, drop = postgres_database(admin_url)
    else:
        url = f"sqlite:///{home / f'studio-{uuid.uuid4().hex[:8]}.db'}"
    store = Store(url, USER)
    try:
        spec = parse_spec(
            name="Import bench", labels=[{"name": x} for x in LABELS], languages=[{"code": c} for c in LANGUAGES]
        )
        yield store, create_project(store, spec)
    finally:
        store.dispose()
        drop()


def studio_import(path: Path, home: Path, admin_url: str | None) -> tuple[Measure, Measure, int]:
    from core.io.importer import ColumnMapping, execute_import, plan_import
    from core.io.table_files import read_table

    mapping = ColumnMapping("text", "label", language_column="language", origin=ORIGIN)
    first, again = Measure(), Measure()
    with fresh_store(home, admin_url) as (store, project):
        server = ServerCpu(store.url if admin_url else None)
        with measured(first, server):
            t0 = time.perf_counter()
            frame = read_table(path)
            t1 = time.perf_counter()
            plan = plan_import(store, project, frame, mapping, source=path.name)
            t2 = time.perf_counter()
            result = execute_import(store, project, plan)
            t3 = time.perf_counter()
        first.phases = f"read {t1 - t0:.2f}, plan {t2 - t1:.2f}, store {t3 - t2:.2f}"
        del frame, plan
        with measured(again, server):
            plan = plan_import(store, project, read_table(path), mapping, source=path.name)
            repeated = execute_import(store, project, plan)
        del plan
        if repeated.imported != 0 or repeated.skipped != result.imported:
            raise SystemExit(f"re-import stored {repeated.imported} rows, skipped {repeated.skipped}")
    return first, again, result.imported


def plain_rows(path: Path, project_id: int) -> tuple[list[str], list[tuple[Any, ...]]]:
    """pandas.read_csv, then the rows as the studio stores them (all columns bound, the content key computed)."""
    import pandas as pd

    frame = pd.read_csv(path)
    now = time.strftime("%Y-%m-%d %H:%M:%S.000000")
    columns = [
        "project_id",
        "text",
        "label",
        "language",
        "split",
        "origin",
        "status",
        "content_key",
        "source",
        "version",
        "created_at",
        "created_by",
        "updated_at",
        "updated_by",
    ]
    rows = [
        (
            project_id,
            text,
            label,
            language,
            SPLIT,
            ORIGIN,
            STATUS,
            hashlib.sha1("\x1f".join((text, label, language, SPLIT, ORIGIN)).encode("utf-8")).hexdigest(),
            path.name,
            1,
            now,
            USER,
            now,
            USER,
        )
        for text, label, language in zip(frame["text"], frame["label"], frame["language"], strict=True)
    ]
    return columns, rows


def unindexed_copy_of_samples(connection: Any, dialect: str) -> str:
    """A table with the samples table's columns and types: primary key only, no index, no foreign key."""
    from sqlalchemy import Column, MetaData, Table
    from sqlalchemy.schema import CreateTable

    from core.store.schema import SampleRow

    samples: Table = SampleRow.__table__  # type: ignore[assignment]
    name = f"plain_{uuid.uuid4().hex[:8]}"
    table = Table(name, MetaData(), *[Column(c.name, c.type, primary_key=c.primary_key) for c in samples.c])
    if dialect == "postgresql":
        from sqlalchemy.dialects import postgresql

        ddl = str(CreateTable(table).compile(dialect=postgresql.dialect()))
    else:
        from sqlalchemy.dialects import sqlite

        ddl = str(CreateTable(table).compile(dialect=sqlite.dialect()))
    connection.execute(ddl)
    return name


def sqlite_lower_bound(path: Path, home: Path, into_samples: bool) -> Measure:
    out = Measure()
    with fresh_store(home, None) as (store, project):
        database = store.engine.url.database
        store.dispose()
        connection = sqlite3.connect(database, isolation_level=None)
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=NORMAL")
        connection.execute("PRAGMA foreign_keys=ON")
        table = "samples" if into_samples else unindexed_copy_of_samples(connection, "sqlite")
        with measured(out, ServerCpu(None)):
            columns, rows = plain_rows(path, project.id)
            connection.execute("BEGIN")
            connection.executemany(
                f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})", rows
            )
            connection.execute("COMMIT")
        connection.close()
    return out


def postgres_lower_bound(path: Path, home: Path, admin_url: str, into_samples: bool) -> Measure:
    import psycopg

    out = Measure()
    with fresh_store(home, admin_url) as (store, project):
        url = store.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        with psycopg.connect(url) as connection:
            with connection.cursor() as cursor:
                table = "samples" if into_samples else unindexed_copy_of_samples(cursor, "postgresql")
            connection.commit()
            server = ServerCpu(store.url)
            with measured(out, server):
                columns, rows = plain_rows(path, project.id)
                statement = f"COPY {table} ({', '.join(columns)}) FROM STDIN"
                with connection.cursor() as cursor, cursor.copy(statement) as copy:
                    for row in rows:
                        copy.write_row(row)
                connection.commit()
    return out


def warm_up() -> None:
    """Load the libraries before measuring, so that no line pays for the imports."""
    import pandas  # noqa: F401
    import psycopg  # noqa: F401

    import core.io.importer
    import core.store.sample_import  # noqa: F401


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", default="100000,1000000", help="sizes, comma-separated")
    parser.add_argument("--postgres", default=os.environ.get("STUDIO_TEST_POSTGRES_URL"), help="server URL")
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    sizes = [int(x) for x in args.rows.split(",")]
    admin_url = None if args.no_postgres else args.postgres
    stores = [("SQLite", None)] + ([("PostgreSQL", admin_url)] if admin_url else [])
    header = (
        f"{'store':<10} {'rows':>9}  {'measure':<38} {'wall s':>7} {'CPU s':>7} {'server':>7}  "
        f"{'x wall':>6} {'x CPU':>6}  phases (wall s)"
    )
    print("Import of CSV rows (text, label, language) into a new project; one run each; x = studio / lower bound")
    print(header)
    print("-" * len(header))
    warm_up()
    with tempfile.TemporaryDirectory(prefix="bench-import-") as tmp:
        for rows in sizes:
            path = Path(tmp) / f"rows-{rows}.csv"
            write_csv(path, rows)
            for name, url in stores:
                home = Path(tmp) / "home"
                if url:
                    bound = postgres_lower_bound(path, home, url, into_samples=False)
                    table = postgres_lower_bound(path, home, url, into_samples=True)
                    bound_name = "lower bound: read_csv + plain COPY"
                else:
                    bound = sqlite_lower_bound(path, home, into_samples=False)
                    table = sqlite_lower_bound(path, home, into_samples=True)
                    bound_name = "lower bound: read_csv + executemany"
                first, again, imported = studio_import(path, home, url)
                assert imported == rows, imported
                for label, m in (
                    ("studio import", first),
                    ("studio re-import (all duplicates)", again),
                    (bound_name, bound),
                    ("same, into samples (its indexes + FK)", table),
                ):
                    print(
                        f"{name:<10} {rows:>9,}  {label:<38} {m.wall:>7.2f} {m.cpu:>7.2f} "
                        f"{(f'{m.server:.2f}' if url else '-'):>7}  {m.wall / bound.wall:>6.2f} "
                        f"{m.total_cpu / bound.total_cpu:>6.2f}  {m.phases}",
                        flush=True,
                    )
    print("target: studio import within 2x of the lower bound at 1,000,000 rows (SQLite and PostgreSQL)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Review work at scale, on SQLite and PostgreSQL: distributing 100,000 samples to 10 annotators with overlap 2
(target: under 5 s) and an annotator's "next sample" in a 100,000-sample project (target: under 100 ms of server
time), with CPU seconds (this process) beside wall time.

    .venv/bin/python bench/bench_review.py [--samples 100000] [--annotators 10] [--overlap 2] [--postgres URL]

PostgreSQL: a fresh database is made on the server URL given (or STUDIO_TEST_POSTGRES_URL) and dropped after; the
CPU column counts this process only (the PostgreSQL server's work shows in the wall time).
"""

from __future__ import annotations

import argparse
import csv
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.postgres_databases import postgres_database as shared_postgres_database  # noqa: E402
from bench.synthetic_rows import LABELS, LANGUAGES, fake_rows  # noqa: E402

Row = tuple[str, str, float, float, str]  # backend, measure, wall s, cpu s, target


def timed(fn: Callable[[], Any]) -> tuple[Any, float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    result = fn()
    return result, time.perf_counter() - wall, time.process_time() - cpu


def prepare(url: str, home: Path, samples: int, annotators: int) -> tuple[Any, Any, list[Any]]:
    """A project of `samples` pending synthetic samples in six languages, and annotators who each judge three."""
    from core.front.actor import Actor
    from core.io.importer import ColumnMapping, import_file
    from core.store import Store, account_languages, accounts
    from core.store.projects import create_project, parse_spec

    path = home / "rows.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "label", "language"])
        writer.writerows(fake_rows(samples))
    store = Store(url, "bench")
    labels, languages = [{"name": x} for x in LABELS], [{"code": c} for c in LANGUAGES]
    spec = parse_spec(name="Review bench", labels=labels, languages=languages)
    project = create_project(store, spec)
    import_file(store, project.id, path, ColumnMapping("text", "label", language_column="language", origin="synthetic"))
    actors = []
    accounts.insert_account(store, username="lead", display_name="lead", role="owner", password_hash=None)
    for i in range(annotators):
        name = f"annotator{i}"
        account = accounts.insert_account(store, username=name, display_name=name, role="annotator", password_hash=None)
        accounts.add_member(store, project.id, account.id)  # annotators see only their projects: checked each call
        codes = sorted({LANGUAGES[i % len(LANGUAGES)], LANGUAGES[(i + 1) % len(LANGUAGES)], LANGUAGES[(i + 3) % 6]})
        account_languages.set_languages(store, name, codes)
        actors.append(Actor(store, name, "annotator", team=True))
    return store, project, actors


def bench_backend(backend: str, url: str, home: Path, args: argparse.Namespace) -> list[Row]:
    from core.front.actor import Actor
    from core.front.review import assign, judge, next_sample

    (store, project, actors), setup_wall, _ = timed(lambda: prepare(url, home, args.samples, args.annotators))
    lead = Actor(store, "lead", "owner", team=True)
    names = [actor.user for actor in actors]
    result, wall, cpu = timed(lambda: assign(lead, project, names, overlap=args.overlap))
    assert result.assignments == args.samples * args.overlap, result.message
    floor_wall, floor_cpu = write_floor(store, args.samples * args.overlap)
    rows: list[Row] = [
        (backend, f"set-up: import {args.samples:,} samples, {args.annotators} accounts", setup_wall, 0.0, ""),
        (backend, f"assign {args.samples:,} samples to {args.annotators}, overlap {args.overlap}", wall, cpu, "< 5 s"),
        (
            backend,
            f"peer: a plain SQLAlchemy bulk INSERT of the same {args.samples * args.overlap:,} rows, same index "
            f"(assign = {wall / floor_wall:.1f}x its wall)",
            floor_wall,
            floor_cpu,
            "",
        ),
    ]
    walls, cpus, judge_walls = [], [], []
    for round_ in range(args.repeat):
        actor = actors[round_ % len(actors)]
        entry, wall, cpu = timed(lambda actor=actor: next_sample(actor, project))
        walls.append(wall)
        cpus.append(cpu)
        _, wall, _ = timed(lambda actor=actor, entry=entry: judge(actor, project, entry.sample_id, "accept"))
        judge_walls.append(wall)
    rows.append(
        (backend, f"next sample, median of {args.repeat}", statistics.median(walls), statistics.median(cpus), "< 0.1 s")
    )
    rows.append((backend, f"next sample, slowest of {args.repeat}", max(walls), max(cpus), "< 0.1 s"))
    rows.append((backend, f"judge one sample, median of {args.repeat}", statistics.median(judge_walls), 0.0, ""))
    store.dispose()
    return rows


def write_floor(store: Any, count: int) -> tuple[float, float]:
    """The peer: writing as many rows the plain way, with the queue index, in one executemany into a scratch table
    (no choosing, no checks). On SQLite it is the floor; on PostgreSQL the studio's own bulk write is faster."""
    from sqlalchemy import Column, Index, Integer, MetaData, String, Table, insert

    metadata = MetaData()
    table = Table(
        "bench_assignment_floor",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("project_id", Integer),
        Column("sample_id", Integer),
        Column("annotator", String(200)),
        Column("state", String(20)),
        Column("position", Integer),
        Index("ix_bench_floor_queue", "project_id", "annotator", "state", "position", "id"),
    )
    metadata.create_all(store.engine)
    rows = [
        {"project_id": 1, "sample_id": i // 2, "annotator": f"annotator{i % 10}", "state": "open", "position": i}
        for i in range(count)
    ]
    try:
        with store.engine.begin() as connection:
            _, wall, cpu = timed(lambda: connection.execute(insert(table), rows))
    finally:
        metadata.drop_all(store.engine)
    return wall, cpu


def postgres_database(admin_url: str) -> tuple[str, Callable[[], None]]:
    return shared_postgres_database(admin_url, "bench_review")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--samples", type=int, default=100_000)
    parser.add_argument("--annotators", type=int, default=10)
    parser.add_argument("--overlap", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=200, help="next-sample calls measured")
    parser.add_argument("--postgres", default=os.environ.get("STUDIO_TEST_POSTGRES_URL"), help="server URL")
    args = parser.parse_args()
    rows: list[Row] = []
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["STUDIO_HOME"] = tmp
        from core.settings import reset_settings

        reset_settings()
        rows += bench_backend("SQLite", f"sqlite:///{Path(tmp) / 'studio.db'}", Path(tmp), args)
        if args.postgres:
            url, drop = postgres_database(args.postgres)
            try:
                rows += bench_backend("PostgreSQL", url, Path(tmp), args)
            finally:
                drop()
    print(f"Review work: {args.samples:,} samples, {args.annotators} annotators, overlap {args.overlap}")
    print(f"{'store':<11} {'measure':<52} {'wall s':>8} {'CPU s':>8}  target")
    for backend, measure, wall, cpu, target in rows:
        print(f"{backend:<11} {measure:<52} {wall:>8.4f} {cpu:>8.4f}  {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

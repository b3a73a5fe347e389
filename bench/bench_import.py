"""Import throughput: 100,000 CSV rows into a fresh SQLite store (target: under 10 s on 2 cores).

.venv/bin/python bench/bench_import.py [--rows 100000] [--postgres URL]
"""

from __future__ import annotations

import argparse
import csv
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.synthetic_rows import LABELS, LANGUAGES, fake_rows


def run_once(rows: int, database_url: str | None) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as home:
        os.environ["STUDIO_HOME"] = home
        if database_url:
            os.environ["STUDIO_DATABASE_URL"] = database_url
        from core.io.importer import ColumnMapping, execute_import, plan_import
        from core.io.table_files import read_table
        from core.settings import reset_settings
        from core.store import open_store
        from core.store.projects import create_project, delete_project, parse_spec

        reset_settings()
        path = Path(home) / "rows.csv"
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(["text", "label", "language"])
            writer.writerows(fake_rows(rows))
        store = open_store()
        name = f"bench-{time.time_ns()}"
        project = create_project(
            store,
            parse_spec(name=name, labels=[{"name": x} for x in LABELS], languages=[{"code": c} for c in LANGUAGES]),
        )
        mapping = ColumnMapping("text", "label", language_column="language", origin="synthetic")
        t0 = time.perf_counter()
        frame = read_table(path)
        t1 = time.perf_counter()
        plan = plan_import(store, project, frame, mapping, source=path.name)
        t2 = time.perf_counter()
        result = execute_import(store, project, plan)
        t3 = time.perf_counter()
        again = execute_import(store, project, plan_import(store, project, read_table(path), mapping, path.name))
        t4 = time.perf_counter()
        assert result.imported == rows and again.imported == 0
        if database_url:
            delete_project(store, project.id)
        store.dispose()
        return {"read": t1 - t0, "validate": t2 - t1, "store": t3 - t2, "total": t3 - t0, "reimport": t4 - t3}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--postgres", help="also measure against this PostgreSQL URL")
    args = parser.parse_args()
    targets = [("SQLite", None)] + ([("PostgreSQL", args.postgres)] if args.postgres else [])
    print(f"Import of {args.rows:,} CSV rows (median of {args.repeat}; seconds)")
    print(f"{'store':<11} {'read':>6} {'validate':>9} {'store':>7} {'total':>7} {'re-import':>10} {'rows/s':>9}")
    for name, url in targets:
        runs = [run_once(args.rows, url) for _ in range(args.repeat)]
        med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
        print(
            f"{name:<11} {med['read']:>6.2f} {med['validate']:>9.2f} {med['store']:>7.2f} {med['total']:>7.2f} "
            f"{med['reimport']:>10.2f} {args.rows / med['total']:>9,.0f}"
        )
    print("target: total under 10 s for 100,000 rows")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Quick check speed: a 20,000-row predictions file to per-language confusion matrices (target: under 15 s on
2 cores, the page in a real browser).

.venv/bin/python bench/bench_quickcheck.py [--rows 20000] [--skip-browser]

Rows: the benchmark's fake texts in 6 languages and 5 labels, a prediction per row (about 20% wrong, 1% a label the
project lacks) and a confidence. Measured, each in a fresh data folder (SQLite):
- core: `check_predictions_file` (read, import as test samples, score, store) and then what the page computes on top
  (the bootstrap intervals), in this process: wall and CPU seconds;
- page: a real `streamlit run` server and Debian's chromium, from the click on *Check these predictions* to the
  per-language table and the matrix drawn (and, apart, the upload until the column pickers show): wall seconds, and
  the CPU seconds of the server process (the studio's work; the browser's drawing is not counted).
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.synthetic_rows import LABELS, fake_rows

TARGET_S = 15.0


def write_predictions(path: Path, rows: int, seed: int = 11) -> None:
    rng = random.Random(seed)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "label", "language", "prediction", "confidence"])
        for text, label, language in fake_rows(rows):
            draw = rng.random()
            predicted = label if draw < 0.8 else ("other" if draw > 0.99 else rng.choice(LABELS))
            writer.writerow([text, label, language, predicted, f"{rng.uniform(0.3, 1.0):.3f}"])


def cpu_of(pid: int) -> float:
    """CPU seconds (user + system) of a process and its waited-for children, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = sum(int(fields[i]) for i in (11, 12, 13, 14))  # utime stime cutime cstime
    return ticks / os.sysconf("SC_CLK_TCK")


def core_step(path: Path) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as home:
        os.environ["STUDIO_HOME"] = home
        os.environ.pop("STUDIO_DATABASE_URL", None)
        from core.evaluation.evaluations import load_predictions
        from core.evaluation.intervals import score_intervals
        from core.evaluation.quickcheck import PredictionColumns, check_predictions_file
        from core.settings import reset_settings
        from core.store import open_store

        reset_settings()
        store = open_store()
        columns = PredictionColumns("text", "label", "prediction", language_column="language", confidence="confidence")
        wall, cpu = time.perf_counter(), time.process_time()
        check = check_predictions_file(store, path, columns)
        checked_wall, checked_cpu = time.perf_counter() - wall, time.process_time() - cpu
        score_intervals(check.evaluation, load_predictions(store, check.evaluation.id))
        total_wall, total_cpu = time.perf_counter() - wall, time.process_time() - cpu
        assert check.scored == check.rows, check.problems()
        store.dispose()
    return {"check_wall": checked_wall, "check_cpu": checked_cpu, "wall": total_wall, "cpu": total_cpu}


def page_step(path: Path, rows: int) -> dict[str, float]:
    from playwright.sync_api import expect

    from tests.browser_support import IDLE, launch_browser, start_studio, stop_studio

    with tempfile.TemporaryDirectory() as home, launch_browser() as browser:
        process, url = start_studio(Path(home), demo=False)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1800})
            page.goto(f"{url}/evaluate")
            page.wait_for_selector(IDLE, timeout=60_000)
            before = cpu_of(process.pid)
            start = time.perf_counter()
            page.locator('input[type="file"]').set_input_files(str(path))
            expect(page.get_by_text(f"{rows:,} rows; columns")).to_be_visible(timeout=120_000)
            page.wait_for_selector(IDLE, timeout=120_000)
            upload_wall, upload_cpu = time.perf_counter() - start, cpu_of(process.pid) - before
            before = cpu_of(process.pid)
            start = time.perf_counter()
            page.get_by_role("button", name="Check these predictions").click()
            table = page.locator('[data-testid="stDataFrame"]').first
            expect(table.locator("tbody tr")).to_have_count(7, timeout=120_000)  # 6 languages and the pooled row
            matrix = page.locator('[data-testid="stPlotlyChart"]').first.locator(".scatterlayer path.point")
            expect(matrix.first).to_be_visible(timeout=120_000)
            page.wait_for_selector(IDLE, timeout=120_000)
            check_wall, check_cpu = time.perf_counter() - start, cpu_of(process.pid) - before
        finally:
            stop_studio(process)
    return {
        "upload_wall": upload_wall,
        "upload_cpu": upload_cpu,
        "check_wall": check_wall,
        "check_cpu": check_cpu,
        "wall": upload_wall + check_wall,
        "cpu": upload_cpu + check_cpu,
    }


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--skip-browser", action="store_true", help="measure the core step only")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "predictions.csv"
        write_predictions(path, args.rows)
        core = core_step(path)
        page = None if args.skip_browser else page_step(path, args.rows)
    print(f"Quick check of a {args.rows:,}-row predictions file ({os.cpu_count()} CPU cores; seconds)")
    print(f"{'step':<58} {'wall':>7} {'CPU':>7}")
    lines = [
        ("core: check_predictions_file (read, import, score, store)", core["check_wall"], core["check_cpu"]),
        ("core: + bootstrap intervals (what the page adds)", core["wall"], core["cpu"]),
    ]
    if page is not None:
        lines += [
            ("page: upload until the column pickers show", page["upload_wall"], page["upload_cpu"]),
            ("page: click 'Check' until table and matrix drawn", page["check_wall"], page["check_cpu"]),
            ("page: file to per-language matrices, in all", page["wall"], page["cpu"]),
        ]
    for name, wall, cpu in lines:
        print(f"{name:<58} {wall:>7.2f} {cpu:>7.2f}")
    print("CPU of the page steps: the studio server process (the browser's own drawing is not counted)")
    verdict = page["wall"] if page is not None else core["wall"]
    print(f"target: file to matrices under {TARGET_S:.0f} s: {'met' if verdict < TARGET_S else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

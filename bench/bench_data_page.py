"""The Data page's first page of a 100,000-sample project, in a real browser (target: under 1 s to idle).

Measures, with Debian's chromium driven by Playwright against a real `streamlit run` server:
- sidebar navigation Projects -> Data until the sample table is drawn and the app is idle;
- a filter change (one language) until the new first page is drawn;
- "Next" paging;
and, without the browser, the core query that feeds the page.

    .venv/bin/python bench/bench_data_page.py [--samples 100000] [--repeat 5]
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

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.synthetic_rows import LABELS, LANGUAGES, fake_rows  # noqa: E402
from tests.browser_support import IDLE, launch_browser, running_studio  # noqa: E402


def prepare(home: Path, samples: int) -> tuple[int, float]:
    os.environ["STUDIO_HOME"] = str(home)
    from core.io.importer import ColumnMapping, import_file
    from core.settings import reset_settings
    from core.store import open_store
    from core.store.projects import create_project, parse_spec
    from core.store.samples import page_samples

    reset_settings()
    path = home / "rows.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "label", "language"])
        writer.writerows(fake_rows(samples))
    store = open_store()
    project = create_project(
        store,
        parse_spec(name="Benchmark", labels=[{"name": x} for x in LABELS], languages=[{"code": c} for c in LANGUAGES]),
    )
    import_file(store, project.id, path, ColumnMapping("text", "label", language_column="language"))
    timings = []
    for _ in range(5):
        start = time.perf_counter()
        page_samples(store, project.id, page=1, page_size=50)
        timings.append(time.perf_counter() - start)
    store.dispose()
    return project.id, statistics.median(timings)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--samples", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        project_id, query_time = prepare(home, args.samples)
        navigation, filtering, paging = [], [], []
        with running_studio(home, demo=False) as url, launch_browser() as browser:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(f"{url}/?project={project_id}")
            page.wait_for_selector(IDLE, timeout=60_000)
            for _ in range(args.repeat + 1):  # the first round warms caches and is not counted
                page.locator('[data-testid="stSidebarNav"] a', has_text="Projects").click()
                page.wait_for_selector(IDLE, timeout=60_000)
                page.get_by_role("heading", name="Projects").wait_for()
                start = time.perf_counter()
                page.locator('[data-testid="stSidebarNav"] a', has_text="Data").click()
                page.get_by_text(f"of {args.samples:,} · page 1 of").wait_for(timeout=60_000)
                page.wait_for_selector(IDLE, timeout=60_000)
                navigation.append(time.perf_counter() - start)

                start = time.perf_counter()
                page.get_by_role("button", name="Next →").click()
                page.get_by_text("Samples 51–100").wait_for(timeout=60_000)
                page.wait_for_selector(IDLE, timeout=60_000)
                paging.append(time.perf_counter() - start)

                start = time.perf_counter()
                language = page.get_by_label("Language", exact=True)
                language.click()
                language.fill("Swahili")
                page.keyboard.press("Enter")
                page.keyboard.press("Escape")
                page.get_by_text("Samples 1–50 of").wait_for(timeout=60_000)
                page.wait_for_selector(IDLE, timeout=60_000)
                filtering.append(time.perf_counter() - start)
                page.get_by_label("Language", exact=True).locator("..").locator("..").get_by_role(
                    "button", name="Clear all"
                ).click()
                page.wait_for_selector(IDLE, timeout=60_000)
        rows = [
            ("core query: first page of 50 (no browser)", [query_time]),
            ("Projects -> Data, first page drawn and idle", navigation[1:]),
            ("Next page drawn and idle", paging[1:]),
            ("filter by one language, first page drawn", filtering[1:]),
        ]
        print(f"Data page, {args.samples:,} samples, Debian chromium + Playwright, median of {args.repeat}")
        print(f"{'measure':<46} {'median s':>9} {'max s':>7}")
        for name, values in rows:
            print(f"{name:<46} {statistics.median(values):>9.3f} {max(values):>7.3f}")
        print("target: Projects -> Data under 1 s")
    return 0


if __name__ == "__main__":
    sys.exit(main())

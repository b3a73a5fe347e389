"""Every page at a million samples (issue 20, item 5): the first view of Data, Curate (each tab), Train (with the
snapshot counts drawn), Evaluate and Jobs in a real browser (target: under 1 s each), and the checks job on the
same project with every vector already in the embedding cache (target: under 10 minutes and under 4 GB).

The project is filled through the store's bulk path (bench/bench_review_queue.py's fill: six languages, five labels,
mixed statuses, origins and splits, 10% flagged, a finished check job, every sample assigned), then a synthetic
384-d vector for every sample's text goes into the cache the checks job reads (core.embeddings.service.cache_for of
the project's encoder, role "query"): each language has its direction, texts fall into topics, and 4% of the samples
are near copies of an earlier sample of their cell (cosine about 0.99), 2% close ones (about 0.96).

1. The checks job runs in a subprocess (the CLI's foreground mode: the job's own code, in one process): wall time,
   CPU seconds (children included, from getrusage: the worker processes that count tokens and identify languages)
   and peak RSS (what `top` shows: anonymous memory and the pages of mapped files, split at the peak), and each
   step's share (time, the process's own CPU, and the highest RSS seen while it ran). The job's log has the
   resident memory after each step (core/curation/flag_job.py, MemoryProbe).
2. Each page is drawn by Streamlit's AppTest in this process (the script's server time, no browser), then opened in
   Debian's chromium through Playwright against a real `streamlit run` server: from the sidebar (or the tab bar)
   until the script has run and the app is idle. The first opening is cold (the server's first import of the page),
   then the median of `--repeat` openings.

    .venv/bin/python bench/bench_pages_1m.py [--samples 1000000] [--repeat 3] [--home DIR] [--skip-checks]

`--home DIR` keeps the studio (database and vector cache) in DIR and reuses it when it holds a project of that size
already (the fill and the vectors take minutes at a million).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TARGET_PAGE_S = 1.0
TARGET_CHECKS_S = 600.0
TARGET_CHECKS_MB = 4096.0
VECTOR_CHUNK = 50_000
DIMENSIONS = 384


# --- the studio: database and vectors ---------------------------------------------------------------------------


def studio_env(home: Path) -> None:
    os.environ["STUDIO_HOME"] = str(home)
    os.environ["STUDIO_DEMO"] = "0"
    os.environ["STUDIO_USER"] = "tester"
    os.environ.pop("STUDIO_DATABASE_URL", None)
    from core.settings import reset_settings

    reset_settings()


def existing_project(home: Path, samples: int) -> int | None:
    marker = home / "bench_pages.json"
    if not marker.exists():
        return None
    saved = json.loads(marker.read_text())
    return int(saved["project"]) if saved.get("samples") == samples and saved.get("vectors") else None


def build(home: Path, samples: int) -> tuple[int, float, float]:
    """Fill the project and the vector cache; returns (project id, fill s, vectors s)."""
    from bench.bench_review_queue import fill
    from core.settings import get_settings

    start = time.perf_counter()
    filled, _ = fill(get_settings().database_url, samples, 0.1)
    fill_s = time.perf_counter() - start
    project_id = filled.project.id
    encoder = filled.project.encoder
    filled.store.dispose()
    (home / "bench_pages.json").write_text(json.dumps({"project": project_id, "samples": samples}))
    start = time.perf_counter()
    put_vectors(project_id, encoder)
    vectors_s = time.perf_counter() - start
    (home / "bench_pages.json").write_text(json.dumps({"project": project_id, "samples": samples, "vectors": True}))
    return project_id, fill_s, vectors_s


def personal_mode() -> None:
    """The fill makes accounts (team mode, for the review queues); the pages are opened in personal mode, by the
    one person who may do everything: the accounts are switched off (their assignments stay)."""
    from sqlalchemy import update

    from core.store import open_store
    from core.store.schema import AccountRow

    store = open_store()
    with store.session() as session:
        session.execute(update(AccountRow).values(active=False))
    store.dispose()


def ensure_profiles(project_id: int) -> None:
    """The fill's finished check holds what today's check job keeps for the Threshold tab (its sample of nearest
    neighbours per scope), made by the job's own function from the cached vectors: the pages can be timed without
    running the check job first. Its time and memory are printed."""
    from sqlalchemy import select

    from core.curation.duplicate_flags import load_items
    from core.curation.threshold_help import SCOPES, profile_record, similarity_profile
    from core.embeddings.service import cached_vectors
    from core.store import open_store
    from core.store.projects import get_project
    from core.store.schema import JobRow

    store = open_store()
    with store.session() as session:
        job = session.scalars(
            select(JobRow).where(JobRow.project_id == project_id, JobRow.kind == "flag", JobRow.status == "done")
        ).first()
        if job is None or (job.result or {}).get("threshold_profiles"):
            store.dispose()
            return
    project = get_project(store, project_id)
    wall, cpu = time.perf_counter(), time.process_time()
    items = load_items(store, project_id)
    vectors = cached_vectors([i.text for i in items], project.encoder)
    assert vectors is not None, "the vectors are not all in the cache"
    read = time.perf_counter() - wall, time.process_time() - cpu
    wall, cpu = time.perf_counter(), time.process_time()
    profiles = {scope: profile_record(similarity_profile(items, vectors, scope)) for scope in SCOPES}
    print(
        f"bench check's threshold profiles: reading {len(items):,} items and their vectors {read[0]:.1f} s wall "
        f"{read[1]:.1f} CPU-s; both profiles {time.perf_counter() - wall:.1f} s wall {time.process_time() - cpu:.1f} "
        "CPU-s",
        flush=True,
    )
    with store.session() as session:
        row = session.get(JobRow, job.id)
        assert row is not None
        row.result = {**(row.result or {}), "encoder": project.encoder, "threshold_profiles": profiles}
    store.dispose()


def ensure_evaluation(project_id: int) -> None:
    """An evaluation on the human test split (a predictions file's: three in four right), for the Evaluate page's
    first view to draw scores, confusion matrices and weak cells."""
    import random

    from sqlalchemy import select

    from core.evaluation.evaluations import latest_evaluations, save_evaluation
    from core.store import open_store
    from core.store.evaluations import Prediction
    from core.store.projects import get_project
    from core.store.schema import SampleRow

    store = open_store()
    if any(e.intervals for e in latest_evaluations(store, project_id)):  # made with today's code
        store.dispose()
        return
    project = get_project(store, project_id)
    with store.session() as session:
        rows = session.execute(
            select(SampleRow.id, SampleRow.language, SampleRow.label).where(
                SampleRow.project_id == project_id,
                SampleRow.split == "test",
                SampleRow.origin == "human",
                SampleRow.label.is_not(None),
            )
        ).all()
    rng = random.Random(9)
    labels = project.label_names
    predictions = [
        Prediction(i, language, label, label if rng.random() < 0.75 else rng.choice(labels), rng.random())
        for i, language, label in rows
    ]
    save_evaluation(store, project, name="bench predictions", source="file", predictions=predictions)
    store.dispose()


def sample_rows(project_id: int) -> Iterator[list[tuple[str, str, str | None]]]:
    """(text, language, label) of every sample, in id order, a chunk at a time."""
    from sqlalchemy import select

    from core.store import open_store
    from core.store.schema import SampleRow

    store = open_store()
    last = 0
    while True:
        with store.session() as session:
            rows = session.execute(
                select(SampleRow.id, SampleRow.text, SampleRow.language, SampleRow.label)
                .where(SampleRow.project_id == project_id, SampleRow.id > last)
                .order_by(SampleRow.id)
                .limit(VECTOR_CHUNK)
            ).all()
        if not rows:
            break
        last = rows[-1][0]
        yield [(text, language, label) for _, text, language, label in rows]
    store.dispose()


def put_vectors(project_id: int, encoder: str) -> None:
    """A synthetic unit vector for every sample's text, in the cache the checks job reads (nothing is embedded)."""
    import numpy as np

    from core.embeddings.service import cache_for
    from core.embeddings.vector_cache import text_digest

    cache = cache_for(encoder, "query")
    rng = np.random.default_rng(3)
    languages: dict[str, np.ndarray] = {}
    topics: dict[str, np.ndarray] = {}

    def unit(x: np.ndarray) -> np.ndarray:
        return (x / np.linalg.norm(x, axis=-1, keepdims=True)).astype(np.float32)

    for rows in sample_rows(project_id):
        n = len(rows)
        codes = [language for _, language, _ in rows]
        for code in set(codes):
            if code not in languages:
                languages[code] = unit(rng.standard_normal(DIMENSIONS))
                topics[code] = unit(rng.standard_normal((500, DIMENSIONS)))
        base = np.stack([languages[c] for c in codes]) * 0.5
        base += np.stack([topics[c][t] for c, t in zip(codes, rng.integers(0, 500, n), strict=True)]) * 0.6
        base += unit(rng.standard_normal((n, DIMENSIONS))) * 0.62
        vectors = unit(base)
        roll = rng.random(n)
        seen: dict[tuple[str, str | None], list[int]] = {}
        for row, (_, language, label) in enumerate(rows):
            cell = seen.setdefault((language, label), [])
            if cell and roll[row] < 0.06:
                source = cell[int(rng.integers(len(cell)))]
                noise = 0.15 if roll[row] < 0.04 else 0.29  # cosine about 0.99, or about 0.96
                vectors[row] = unit(vectors[source] + noise * unit(rng.standard_normal(DIMENSIONS)))
            cell.append(row)
        digests = [text_digest(text) for text, _, _ in rows]
        cache.add(digests, vectors)


# --- the checks job, in a subprocess ------------------------------------------------------------------------------

STEPS = (  # (module, function): each step of the flag job, timed where the job looks it up
    ("core.curation.flag_job", "load_items"),
    ("core.curation.flag_job", "find_exact_and_conflicts"),
    ("core.curation.subword_tokens", "token_rows_apart"),
    ("core.curation.quality_flags", "quality_flags"),
    ("core.curation.flag_job", "_language_flags"),
    ("core.embeddings.service", "embed"),
    ("core.curation.flag_job", "find_near_duplicates"),
    ("core.curation.flag_job", "find_test_contamination"),
    ("core.curation.flag_job", "find_cross_lingual_contamination"),
    ("core.curation.flag_job", "find_label_doubt_flags"),
    ("core.curation.flag_job", "similarity_profile"),
    ("core.curation.diversity_stats", "diversity_table"),
    ("core.curation.flag_job", "replace_flags"),
)


class RssWatch:
    """The highest resident set size of this process while a step runs (polled every 20 ms)."""

    def __init__(self) -> None:
        self.current = 0
        self.peak = 0
        self.anon_peak = 0  # without the pages of mapped files (the vector cache's shards): memory of its own
        self.at_peak = (0, 0)  # (anonymous, mapped files) when the resident set was at its peak
        self.step_peak = 0
        threading.Thread(target=self._poll, daemon=True).start()

    def _poll(self) -> None:
        while True:
            anon = files = 0
            for line in Path("/proc/self/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    self.current = int(line.split()[1]) * 1024
                elif line.startswith("RssAnon:"):
                    anon = int(line.split()[1]) * 1024
                elif line.startswith("RssFile:"):
                    files = int(line.split()[1]) * 1024
            self.anon_peak = max(self.anon_peak, anon)
            if self.current > self.peak:
                self.at_peak = (anon, files)
            self.peak = max(self.peak, self.current)
            self.step_peak = max(self.step_peak, self.current)
            time.sleep(0.02)


def run_checks_here(project_id: int, scope: str | None) -> None:
    """The subprocess: the flag job in this process, each step timed; one JSON line on stdout."""
    import importlib

    from core.curation.flag_job import launch_checks
    from core.jobs.lifecycle import run_here
    from core.jobs.queue import get_job
    from core.store import open_store

    watch = RssWatch()
    steps: dict[str, dict[str, float]] = {}
    depth = [0]

    def wrap(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            if depth[0]:  # a step inside another step counts in the outer one
                return fn(*args, **kwargs)
            depth[0] += 1
            watch.step_peak = watch.current
            wall, cpu = time.perf_counter(), time.process_time()
            try:
                return fn(*args, **kwargs)
            finally:
                depth[0] -= 1
                entry = steps.setdefault(name, {"wall": 0.0, "cpu": 0.0, "rss": 0.0})
                entry["wall"] += time.perf_counter() - wall
                entry["cpu"] += time.process_time() - cpu
                entry["rss"] = max(entry["rss"], watch.step_peak / 2**20)
                print(f"STEP {name} {json.dumps(entry)}", file=sys.stderr, flush=True)  # as it ends

        return timed

    for module_name, name in STEPS:
        module = importlib.import_module(module_name)
        if hasattr(module, name):
            setattr(module, name, wrap(name, getattr(module, name)))
    store = open_store()
    job = launch_checks(store, project_id, threshold=None, scope=scope, background=False)
    start, cpu = time.perf_counter(), time.process_time()
    status = run_here(store, job.id)
    finished = get_job(store, job.id)
    result = {
        "status": status,
        "wall": time.perf_counter() - start,
        "cpu": time.process_time() - cpu,
        "peak_mb": watch.peak / 2**20,
        "anon_peak_mb": watch.anon_peak / 2**20,
        "at_peak_mb": {"anonymous": watch.at_peak[0] / 2**20, "mapped files": watch.at_peak[1] / 2**20},
        "steps": steps,
        "message": (finished.result or {}).get("message") or finished.message,
        "scope": (finished.result or {}).get("scope"),
    }
    print("RESULT " + json.dumps(result), flush=True)


@dataclass
class ChecksRun:
    wall: float
    cpu: float  # children included: the whole subprocess tree
    peak_mb: float  # getrusage's ru_maxrss of the children
    inner: dict[str, Any]


def run_checks(home: Path, project_id: int, scope: str | None) -> ChecksRun:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    command = [sys.executable, __file__, "--core-checks-subprocess", "--home", str(home), "--project", str(project_id)]
    if scope:
        command += ["--scope", scope]
    done = subprocess.run(command, stdout=subprocess.PIPE, text=True, check=False)  # its steps: on stderr, live
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    lines = [x for x in done.stdout.splitlines() if x.startswith("RESULT ")]
    if done.returncode or not lines:
        raise RuntimeError(f"the checks job failed:\n{done.stdout[-3000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return ChecksRun(wall, cpu, after.ru_maxrss / 1024, json.loads(lines[-1][len("RESULT ") :]))


# --- the pages: server time (AppTest) and the browser ------------------------------------------------------------


@dataclass(frozen=True)
class View:
    name: str
    page: str  # the page's script, and its sidebar link
    link: str
    tab: str | None = None  # a Curate tab


def views() -> list[View]:
    from components.curate_tabs import TABS

    return [
        View("Data", "pages/data.py", "Data"),
        *(View(f"Curate: {tab}", "pages/curate.py", "Curate", tab) for tab in TABS),
        View("Train (snapshot counts)", "pages/train.py", "Train"),
        View("Evaluate", "pages/evaluate.py", "Evaluate"),
        View("Jobs", "pages/jobs.py", "Jobs"),
    ]


def server_times(project_id: int, repeat: int) -> dict[str, list[float]]:
    """Each view's script run in AppTest (the server's share of a first view, without a browser)."""
    from streamlit.testing.v1 import AppTest

    from components.curate_tabs import TAB_KEY, TABS

    times: dict[str, list[float]] = {}
    for view in views():
        for _ in range(repeat + 1):
            at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=600)
            at.query_params["project"] = str(project_id)
            at.run()  # the default page (Projects)
            if view.tab is not None and view.tab != TABS[0]:
                at.session_state[TAB_KEY] = view.tab
            start = time.perf_counter()
            at.switch_page(view.page).run()
            times.setdefault(view.name, []).append(time.perf_counter() - start)
            if at.exception:
                raise RuntimeError(f"{view.name}: {at.exception}")
    return times


# Counts the script runs the page finishes: a run started after the click and ended (the app idle again).
WATCH_RUNS = """() => {
  const app = document.querySelector('[data-testid="stApp"]');
  window.__benchRuns = 0; window.__benchRunning = false;
  if (window.__benchObserver) window.__benchObserver.disconnect();
  window.__benchObserver = new MutationObserver(() => {
    const state = app.getAttribute('data-test-script-state');
    if (state === 'running') window.__benchRunning = true;
    else if (window.__benchRunning && state === 'notRunning') {
      window.__benchRunning = false; window.__benchRuns += 1;
    }
  });
  window.__benchObserver.observe(app, {attributes: true, attributeFilter: ['data-test-script-state']});
}"""
RAN = "() => window.__benchRuns > 0 && !window.__benchRunning"
FLOOR = "Projects (the floor)"  # a light page (a few queries): what opening any page costs the browser and Streamlit


def browser_times(url: str, project_id: int, repeat: int) -> dict[str, list[float]]:
    from tests.browser_support import IDLE, launch_browser

    times: dict[str, list[float]] = {}
    with launch_browser() as browser:
        page = browser.new_page(viewport={"width": 1400, "height": 1100})  # type: ignore[attr-defined]
        page.set_default_timeout(600_000)
        page.goto(f"{url}/?project={project_id}")
        page.wait_for_selector(IDLE)

        def opened(click: Callable[[], None]) -> float:
            page.wait_for_selector(IDLE)
            page.evaluate(WATCH_RUNS)
            start = time.perf_counter()
            click()
            page.wait_for_function(RAN, polling=10, timeout=180_000)
            page.wait_for_selector(IDLE)
            return time.perf_counter() - start

        def sidebar(name: str) -> Callable[[], None]:
            return lambda: page.locator('[data-testid="stSidebarNav"] a', has_text=name).first.click()

        for _ in range(repeat + 1):
            for view in views():
                times.setdefault(FLOOR, []).append(opened(sidebar("Projects")))
                if view.tab is None or view.page != "pages/curate.py":
                    times.setdefault(view.name, []).append(opened(sidebar(view.link)))
                    continue
                opened(sidebar("Curate"))  # the page opens on its last tab: when it is this one, open another first
                tab = page.get_by_role("tab", name=view.tab, exact=True)
                if tab.get_attribute("aria-selected") == "true":
                    other = next(name for name in ("Overview", "Review") if name != view.tab)
                    opened(lambda other=other: page.get_by_role("tab", name=other, exact=True).click())
                times.setdefault(view.name, []).append(opened(lambda tab=tab: tab.click()))
    return times


# --- the report ---------------------------------------------------------------------------------------------------


def report(
    samples: int, server: dict[str, list[float]], browser: dict[str, list[float]], checks: ChecksRun | None
) -> None:
    print()
    print(f"Every page at {samples:,} samples (this machine: {os.cpu_count()} cores, shared)")
    print(
        f"{'view':<26} {'browser cold s':>14} {'browser med s':>13} {'server cold s':>13} {'server med s':>12} "
        f"{'target s':>8} {'ok':>3}"
    )
    for view in views():
        b, s = browser.get(view.name, []), server.get(view.name, [])
        b_med = statistics.median(b[1:] or b) if b else float("nan")
        s_med = statistics.median(s[1:] or s) if s else float("nan")
        ok = "yes" if b_med < TARGET_PAGE_S else "NO"
        print(
            f"{view.name:<26} {(b[0] if b else float('nan')):>14.3f} {b_med:>13.3f} "
            f"{(s[0] if s else float('nan')):>13.3f} {s_med:>12.3f} {TARGET_PAGE_S:>8.1f} {ok:>3}"
        )
    if browser.get(FLOOR):
        floor = browser[FLOOR]
        print(f"{FLOOR:<26} {floor[0]:>14.3f} {statistics.median(floor[1:] or floor):>13.3f}")
    print(
        "browser: click to the script's run ended and the app idle (Playwright + Debian chromium); server: the page's"
    )
    print("script run in AppTest. cold: the first opening; med: median of the rest.")
    if checks is None:
        return
    inner = checks.inner
    print()
    print(
        f"Checks job ({inner.get('scope')} scope), {samples:,} samples, vectors cached: {inner['status']}, wall "
        f"{checks.wall:.1f} s (target {TARGET_CHECKS_S:.0f}), CPU {checks.cpu:.1f} s (children included), peak RSS "
        f"{checks.peak_mb:,.0f} MB (target {TARGET_CHECKS_MB:,.0f}; of which anonymous, i.e. not the vector cache's "
        f"mapped files: {inner.get('anon_peak_mb', 0):,.0f} MB)"
    )
    split = inner.get("at_peak_mb") or {}
    print("  at the peak: " + ", ".join(f"{name} {mb:,.0f} MB" for name, mb in split.items()))
    print(f"  {inner.get('message')}")
    print(f"  {'step':<26} {'wall s':>8} {'share':>6} {'CPU s':>8} {'peak RSS MB':>12}")
    total = max(inner["wall"], 1e-9)
    for name, step in inner["steps"].items():
        print(
            f"  {name:<26} {step['wall']:>8.1f} {step['wall'] / total:>6.1%} {step['cpu']:>8.1f} {step['rss']:>12,.0f}"
        )
    rest = total - sum(step["wall"] for step in inner["steps"].values())
    print(f"  {'(the rest)':<26} {rest:>8.1f} {rest / total:>6.1%}")


@contextmanager
def studio_home(home: str | None) -> Iterator[Path]:
    if home:
        Path(home).mkdir(parents=True, exist_ok=True)
        yield Path(home)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            yield Path(tmp)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--samples", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3, help="openings of each view after the cold one")
    parser.add_argument("--home", help="keep the studio here, and reuse one of the same size")
    parser.add_argument("--scope", choices=("cell", "project"), help="the checks' scope (default: the project's)")
    parser.add_argument("--skip-checks", action="store_true")
    parser.add_argument("--skip-browser", action="store_true")
    parser.add_argument("--only", nargs="*", help="only the views whose name holds one of these words")
    parser.add_argument("--core-checks-subprocess", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--project", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.core_checks_subprocess:  # "core" in its command line: the reaper knows it for a studio worker
        studio_env(Path(args.home))
        run_checks_here(args.project, args.scope)
        return 0
    with studio_home(args.home) as home:
        studio_env(home)
        project_id = existing_project(home, args.samples)
        if project_id is None:
            project_id, fill_s, vectors_s = build(home, args.samples)
            print(f"filled {args.samples:,} samples in {fill_s:.1f} s, their vectors cached in {vectors_s:.1f} s")
        else:
            print(f"reusing project #{project_id} of {args.samples:,} samples in {home}")
        personal_mode()
        ensure_evaluation(project_id)
        ensure_profiles(project_id)
        checks = None
        if not args.skip_checks:
            checks = run_checks(home, project_id, args.scope)
            print(f"checks job: {checks.wall:.1f} s wall, {checks.cpu:.1f} CPU-s, {checks.peak_mb:,.0f} MB", flush=True)
            print(json.dumps(checks.inner["steps"]), flush=True)
        if args.only:
            global views  # the bench's view list, narrowed
            every = views
            views = lambda: [v for v in every() if any(w.lower() in v.name.lower() for w in args.only)]  # noqa: E731
        server = server_times(project_id, args.repeat)
        print("server times: " + ", ".join(f"{k} {statistics.median(v):.2f}" for k, v in server.items()), flush=True)
        browser: dict[str, list[float]] = {}
        if not args.skip_browser:
            from tests.browser_support import running_studio

            with running_studio(home, demo=False) as url:
                browser = browser_times(url, project_id, args.repeat)
        report(args.samples, server, browser, checks)
    return 0


if __name__ == "__main__":
    sys.exit(main())

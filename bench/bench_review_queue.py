"""Every queue of samples at a million samples, on SQLite and PostgreSQL: the Curate page's Review (the queues, with
their language, label and flag filters, "Sample k of N" and Previous), the Browse table's filters and paging, and an
annotator's "My queue". Target: a *Next* under 100 ms of server time at 1,000,000 samples.

Each view is timed as the page draws it, through the same front-door calls: the first view draws the whole page
(its frame, i.e. the project, whether it has samples and the checks panel above the tabs, then the open tab); a *Next*
in Review, Browse or My queue redraws that tab alone (a Streamlit fragment; the "frame" column is the frame's share
of a Next that redraws the whole page: none now). Wall time and CPU seconds of this process (time.process_time:
PostgreSQL's own work shows in the wall time only). The first view and `--steps` consecutive *Next* calls are measured
from the start of each queue and from its middle (the middle of the project's ids).

The project is filled through the store's bulk path (core.store.bulk), not the importer: samples in six languages
and five labels, mixed statuses, origins and splits; a share of them flagged (one or two flags), a finished check
job, and every sample handed to one of five annotators.

    .venv/bin/python bench/bench_review_queue.py [--samples 1000000] [--steps 20] [--postgres URL] [--only sqlite]

"Sample k of N" comes from tallies kept by the database's triggers (sample_tallies, and flag_tallies for a queue of
one flag kind by name: migrations 0015 and 0016) plus a count inside one block of ids; My queue's counts from
assignment_tallies (migration 0016).

PostgreSQL: a fresh database is made on the server URL given (or STUDIO_TEST_POSTGRES_URL), vacuumed and analysed
after the fill (what autovacuum does to a freshly imported table), and dropped after. The server's CPU time is read
from /proc for the backends serving the bench (a server on this machine); without --parallel, queries run without
parallel workers so that all their work is in those backends.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.postgres_databases import postgres_database as shared_postgres_database  # noqa: E402
from bench.synthetic_rows import LABELS, LANGUAGES, WORDS  # noqa: E402

CHUNK = 50_000
ANNOTATORS = 5
FLAG_KINDS = (  # kind, share of the flags
    ("near_duplicate", 0.40),
    ("exact_duplicate", 0.20),
    ("too_short", 0.15),
    ("wrong_language", 0.10),
    ("label_conflict", 0.10),
    ("test_contamination", 0.05),
)


# --- filling the project -----------------------------------------------------------------------------------------


def synthetic_samples(n: int, seed: int = 11) -> Iterator[dict[str, Any]]:
    """Samples of mixed status: 5% unlabeled, the rest 70% pending, 20% accepted, 10% rejected; 70% synthetic;
    90% train."""
    from core.store.samples import content_key
    from core.store.schema import utcnow

    rng = random.Random(seed)
    now = utcnow()
    for i in range(n):
        language = LANGUAGES[i % len(LANGUAGES)]
        text = f"{' '.join(rng.choices(WORDS[language], k=rng.randint(6, 18)))} #{i}"
        roll = rng.random()
        label: str | None = LABELS[rng.randrange(len(LABELS))]
        if roll < 0.05:
            label, status = None, "unlabeled"
        elif roll < 0.05 + 0.95 * 0.7:
            status = "pending"
        elif roll < 0.05 + 0.95 * 0.9:
            status = "accepted"
        else:
            status = "rejected"
        origin = "synthetic" if rng.random() < 0.7 else "human"
        split = "train" if rng.random() < 0.9 else "test"
        yield {
            "project_id": 0,  # set by the caller
            "text": text,
            "label": label,
            "language": language,
            "origin": origin,
            "split": split,
            "status": status,
            "content_key": content_key(text, label, language, split, origin),
            "source": "bench",
            "generation_run_id": None,
            "prompt_version": None,
            "model": None,
            "version": 1,
            "created_at": now,
            "created_by": "bench",
            "updated_at": now,
            "updated_by": "bench",
        }


def chunks(items: Iterator[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    chunk: list[dict[str, Any]] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


@dataclass
class Filled:
    store: Any
    project: Any
    owner: Any  # personal mode: the one person, who may do everything
    annotator: Any  # team mode: annotator0, with a queue of a fifth of the samples
    ids: list[int]  # every sample id, in order
    flagged: int


def fill(url: str, samples: int, flagged_share: float) -> tuple[Filled, float]:
    from sqlalchemy import select

    from core.front.actor import Actor
    from core.store import Store, accounts
    from core.store.bulk import bulk_insert
    from core.store.projects import create_project, parse_spec
    from core.store.schema import AssignmentRow, FlagRow, JobRow, SampleRow, utcnow

    start = time.perf_counter()
    store = Store(url, "bench")
    spec = parse_spec(
        name="Queue bench", labels=[{"name": x} for x in LABELS], languages=[{"code": c} for c in LANGUAGES]
    )
    project = create_project(store, spec)
    rng = random.Random(5)
    kinds = [k for k, _ in FLAG_KINDS]
    weights = [w for _, w in FLAG_KINDS]
    ids: list[int] = []
    found: Counter[str] = Counter()
    now = utcnow()
    for chunk in chunks(synthetic_samples(samples), CHUNK):
        for row in chunk:
            row["project_id"] = project.id
        last = ids[-1] if ids else 0
        with store.session() as session:
            bulk_insert(session, SampleRow.__table__, chunk)  # type: ignore[arg-type]
            new = list(
                session.scalars(
                    select(SampleRow.id)
                    .where(SampleRow.project_id == project.id, SampleRow.id > last)
                    .order_by(SampleRow.id)
                )
            )
            flags, assigned = [], []
            for sample_id in new:
                if rng.random() < flagged_share:
                    chosen = {rng.choices(kinds, weights)[0] for _ in range(1 if rng.random() < 0.8 else 2)}
                    for kind in sorted(chosen):
                        found[kind] += 1
                        flags.append(
                            {
                                "sample_id": sample_id,
                                "project_id": project.id,
                                "kind": kind,
                                "reason": f"bench: {kind.replace('_', ' ')}",
                                "details": {},
                                "created_at": now,
                            }
                        )
                position = len(ids) + len(assigned)
                assigned.append(
                    {
                        "project_id": project.id,
                        "sample_id": sample_id,
                        "annotator": f"annotator{position % ANNOTATORS}",
                        "gold": False,
                        "overlap": 1,
                        "position": position,
                        "state": "open",
                        "assigned_at": now,
                        "assigned_by": "bench",
                        "closed_at": None,
                        "closed_reason": None,
                    }
                )
            bulk_insert(session, FlagRow.__table__, flags)  # type: ignore[arg-type]
            bulk_insert(session, AssignmentRow.__table__, assigned)  # type: ignore[arg-type]
        ids.extend(new)
    with store.session() as session:  # the check that found the flags, finished
        session.add(
            JobRow(
                project_id=project.id,
                kind="flag",
                params={},
                status="done",
                progress=1.0,
                result={"flags": dict(found), "samples": samples},
                created_by="bench",
                started_at=now,
                finished_at=now,
            )
        )
    accounts.insert_account(store, username="owner", display_name="owner", role="owner", password_hash=None)
    for i in range(ANNOTATORS):
        name = f"annotator{i}"
        account = accounts.insert_account(store, username=name, display_name=name, role="annotator", password_hash=None)
        accounts.add_member(store, project.id, account.id)
    if store.dialect == "postgresql":
        from sqlalchemy import text

        with store.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("VACUUM ANALYZE"))
    owner = Actor(store, "bench")
    annotator = Actor(store, "annotator0", "annotator", team=True)
    filled = Filled(store, project, owner, annotator, ids, sum(found.values()))
    if store.dialect == "postgresql":
        watch_backends(store)
    return filled, time.perf_counter() - start


# --- the database server's CPU time (PostgreSQL runs on this machine) ---------------------------------------------

BACKENDS: set[int] = set()  # the PostgreSQL backends serving the bench's connections


def watch_backends(store: Any) -> None:
    """From now on, every connection of the store names its PostgreSQL backend (the pool starts afresh)."""
    from sqlalchemy import event

    def record(dbapi_connection: Any, _record: Any) -> None:
        with dbapi_connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            BACKENDS.add(int(cursor.fetchone()[0]))
        dbapi_connection.commit()

    store.engine.dispose()
    event.listen(store.engine, "connect", record)


def server_cpu() -> float:
    """Seconds on a CPU of the backends so far (/proc/<pid>/schedstat: nanoseconds, exact to the scheduler)."""
    total = 0
    for pid in BACKENDS:
        try:
            total += int(Path(f"/proc/{pid}/schedstat").read_text().split()[0])
        except (OSError, ValueError, IndexError):  # a backend that ended, or another machine's server
            continue
    return total / 1e9


# --- one drawing of the page, as the components make it ----------------------------------------------------------


def frame(actor: Any, project: Any) -> None:
    """What every full drawing of the Curate page asks before its tab: the sidebar's projects, the project, whether
    it has samples and the checks panel."""
    from core.front.curation import check_findings, check_summary, threshold_choice
    from core.front.data import has_samples
    from core.front.jobs import list_jobs
    from core.front.projects import get_project, list_projects

    list_projects(actor)
    get_project(actor, project.id)
    has_samples(actor, project)
    list_jobs(actor, project.id, kind="flag")
    threshold_choice(actor, project)
    check_summary(actor, project)
    check_findings(actor, project)


def review_tab(actor: Any, project: Any, flt: Any, cursor: Any) -> Any:
    """components/review_queue: the queue's flag picker, then the sample at the cursor with its place in the queue
    and the one before it (Previous); returns the cursor that *Next* leaves."""
    from core.front.data import flag_kinds, review_step

    flag_kinds(actor, project)
    step = review_step(actor, project, flt, cursor or None)
    return step.sample.id + 1 if step.sample is not None else None


def review_start(actor: Any, project: Any, flt: Any, ids: list[int], middle: bool) -> Any:
    """The cursor of the first view: none (the queue's first sample), or the middle of the project."""
    return ids[len(ids) // 2] if middle else None


def browse_tab(actor: Any, project: Any, flt: Any, cursor: Any) -> Any:
    """components/sample_browser: the flag picker and one page of 50 after the last one shown; returns the id
    *Next* pages from."""
    from core.front.data import browse_page, flag_kinds

    flag_kinds(actor, project)
    page = browse_page(actor, project, flt, after=cursor, page_size=50)
    return page.samples[-1].id if page.has_next else cursor


def browse_start(actor: Any, project: Any, flt: Any, ids: list[int], middle: bool) -> Any:
    return ids[len(ids) // 2] if middle else None


def my_queue_tab(actor: Any, project: Any, flt: Any, cursor: Any) -> Any:
    """components/assigned_review: the annotator's first 200 open assignments and their counts (N moves within
    them)."""
    from core.front.review import my_queue

    my_queue(actor, project, 200)
    return cursor


def my_queue_start(actor: Any, project: Any, flt: Any, ids: list[int], middle: bool) -> Any:
    return 0


# --- the queues the page offers ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Queue:
    tab: str
    name: str
    filters: dict[str, tuple[str, ...]]


REVIEW_QUEUES = [
    Queue("Review", "To review (pending)", {"statuses": ("pending",)}),
    Queue("Review", "Flagged, to review", {"statuses": ("pending",), "flags": ("any",)}),
    Queue("Review", "To label (no label yet)", {"statuses": ("unlabeled",)}),
    Queue("Review", "Accepted", {"statuses": ("accepted",)}),
    Queue("Review", "Rejected", {"statuses": ("rejected",)}),
    Queue("Review", "pending, Swahili", {"statuses": ("pending",), "languages": ("sw",)}),
    Queue("Review", "pending, label credit", {"statuses": ("pending",), "labels": ("credit",)}),
    Queue(
        "Review", "pending, Swahili, credit", {"statuses": ("pending",), "languages": ("sw",), "labels": ("credit",)}
    ),
    Queue("Review", "flagged: wrong language", {"statuses": ("pending",), "flags": ("wrong_language",)}),
    Queue(
        "Review",
        "flagged: too short, Swahili",
        {"statuses": ("pending",), "flags": ("too_short",), "languages": ("sw",)},
    ),
]
BROWSE_QUEUES = [
    Queue("Browse", "no filter", {}),
    Queue("Browse", "status pending", {"statuses": ("pending",)}),
    Queue("Browse", "Swahili + credit", {"languages": ("sw",), "labels": ("credit",)}),
    Queue("Browse", "human test", {"origins": ("human",), "splits": ("test",)}),
    Queue("Browse", "no label", {"labels": ("",)}),
    Queue("Browse", "flag: none", {"flags": ("none",)}),
    Queue("Browse", "flag: any", {"flags": ("any",)}),
    Queue("Browse", "flag: too short", {"flags": ("too_short",)}),
]
MY_QUEUE = [Queue("My queue", "annotator0, a fifth of the samples", {})]

# tab -> (one drawing of it, where its first view starts, whether Next redraws the whole page): Review, Browse and My
# queue are fragments (a key press redraws them alone)
TABS: dict[str, tuple[Callable[..., Any], Callable[..., Any], bool]] = {
    "Review": (review_tab, review_start, False),
    "Browse": (browse_tab, browse_start, False),
    "My queue": (my_queue_tab, my_queue_start, False),
}


@dataclass(frozen=True)
class Timing:
    backend: str
    queue: Queue
    where: str
    first_wall: float
    first_cpu: float
    next_walls: list[float]
    next_cpus: list[float]
    frame_wall: float  # median of the Next calls' frame share
    first_db: float  # PostgreSQL's own CPU seconds (0 for SQLite: its work is in this process)
    next_dbs: list[float]


def timed(fn: Callable[[], Any]) -> tuple[Any, float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    result = fn()
    return result, time.perf_counter() - wall, time.process_time() - cpu


def timed_with_server(fn: Callable[[], Any]) -> tuple[Any, float, float, float]:
    server = server_cpu()
    result, wall, cpu = timed(fn)
    return result, wall, cpu, server_cpu() - server


def measure(backend: str, filled: Filled, queue: Queue, middle: bool, steps: int) -> Timing:
    from core.front.data import SampleFilter

    actor = filled.annotator if queue.tab == "My queue" else filled.owner
    tab, start, whole_page = TABS[queue.tab]
    flt = SampleFilter(**queue.filters)  # type: ignore[arg-type]
    cursor = start(actor, filled.project, flt, filled.ids, middle)

    def drawing(cursor: Any, with_frame: bool) -> tuple[Any, float]:
        frame_wall = timed(lambda: frame(actor, filled.project))[1] if with_frame else 0.0
        return tab(actor, filled.project, flt, cursor), frame_wall

    (cursor, _), first_wall, first_cpu, first_db = timed_with_server(lambda: drawing(cursor, True))
    walls, cpus, frames, dbs = [], [], [], []
    for _ in range(steps):
        (cursor, frame_wall), wall, cpu, db = timed_with_server(lambda cursor=cursor: drawing(cursor, whole_page))
        walls.append(wall)
        cpus.append(cpu)
        frames.append(frame_wall)
        dbs.append(db)
    where = "middle" if middle else "start"
    frame_share = statistics.median(frames)
    return Timing(backend, queue, where, first_wall, first_cpu, walls, cpus, frame_share, first_db, dbs)


def postgres_database(admin_url: str) -> tuple[str, Callable[[], None]]:
    return shared_postgres_database(admin_url, "bench_queue")


def bench_backend(backend: str, url: str, args: argparse.Namespace) -> list[Timing]:
    import core.front.curation
    import core.front.data
    import core.front.jobs
    import core.front.review  # noqa: F401  (imported before any timing: the first import costs seconds)

    filled, fill_wall = fill(url, args.samples, args.flagged)
    print(
        f"{backend}: filled {args.samples:,} samples ({filled.flagged:,} flags, {args.samples:,} assignments) in "
        f"{fill_wall:.1f} s",
        flush=True,
    )
    queues = [*REVIEW_QUEUES, *BROWSE_QUEUES, *MY_QUEUE]
    if args.queues:
        queues = [q for q in queues if any(word.lower() in f"{q.tab} {q.name}".lower() for word in args.queues)]
    timings = []
    for queue in queues:
        for middle in (False, True) if queue.tab != "My queue" else (False,):
            timing = measure(backend, filled, queue, middle, args.steps)
            print_row(timing, flush=True)
            timings.append(timing)
    filled.store.dispose()
    return timings


HEADER = (
    f"{'store':<10} {'tab':<8} {'queue':<28} {'from':<6} {'first ms':>8} {'CPU':>6} {'DB CPU':>6} "
    f"{'Next med':>8} {'max':>7} {'CPU':>6} {'DB CPU':>6} {'frame':>6}"
)


def print_row(t: Timing, flush: bool = False) -> None:
    ms = 1000
    print(
        f"{t.backend:<10} {t.queue.tab:<8} {t.queue.name[:28]:<28} {t.where:<6} {t.first_wall * ms:>8.1f} "
        f"{t.first_cpu * ms:>6.1f} {t.first_db * ms:>6.1f} {statistics.median(t.next_walls) * ms:>8.1f} "
        f"{max(t.next_walls) * ms:>7.1f} {statistics.median(t.next_cpus) * ms:>6.1f} "
        f"{statistics.median(t.next_dbs) * ms:>6.1f} {t.frame_wall * ms:>6.1f}",
        flush=flush,
    )


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--samples", type=int, default=1_000_000)
    parser.add_argument("--flagged", type=float, default=0.1, help="share of the samples with a flag")
    parser.add_argument("--steps", type=int, default=20, help="consecutive Next calls measured")
    parser.add_argument("--postgres", default=os.environ.get("STUDIO_TEST_POSTGRES_URL"), help="server URL")
    parser.add_argument("--only", choices=("sqlite", "postgres"), help="one store only")
    parser.add_argument("--queues", nargs="*", help="only the queues whose tab or name holds one of these words")
    parser.add_argument(
        "--parallel",
        action="store_true",
        help="let PostgreSQL use parallel workers (by default none: all of a query's work is then in the backend "
        "whose CPU time the DB CPU column reads; this machine has two cores)",
    )
    args = parser.parse_args()
    if not args.parallel:
        os.environ["PGOPTIONS"] = "-c max_parallel_workers_per_gather=0"
    timings: list[Timing] = []
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["STUDIO_HOME"] = tmp
        from core.settings import reset_settings

        reset_settings()
        print(HEADER, flush=True)
        if args.only != "postgres":
            timings += bench_backend("SQLite", f"sqlite:///{Path(tmp) / 'studio.db'}", args)
        if args.postgres and args.only != "sqlite":
            url, drop = postgres_database(args.postgres)
            try:
                timings += bench_backend("PostgreSQL", url, args)
            finally:
                drop()
    print()
    print(
        f"Every queue at {args.samples:,} samples: the first view (the whole page) and {args.steps} Next calls "
        "(each redraws its tab alone); target: Next under 100 ms. Times in ms: wall, "
        "CPU of this process, CPU of the PostgreSQL backend (DB CPU"
        + (", parallel workers not counted)" if args.parallel else ", no parallel workers)")
        + "; frame: the page's share of a Next (none: every tab is a fragment)"
    )
    print(HEADER)
    for timing in timings:
        print_row(timing)
    slowest = max((max(t.next_walls) for t in timings), default=0.0)
    print(f"slowest Next: {slowest * 1000:.1f} ms (wall, this machine: {os.cpu_count()} cores, shared)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

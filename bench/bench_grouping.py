"""Near-duplicate grouping at scale, with the embeddings already computed (as when they are cached).

Two tables, each measurement in a fresh process so that its peak RSS is its own.

1. Per scope (cell, project) at 10k, 50k and 100k samples: seconds and peak resident memory of the flag job's
   near-duplicate step (find_near_duplicates), on vectors that imitate multilingual-e5 (every pair fairly similar,
   texts of one label x language more so, 5% near copies of another sample of their cell).

       .venv/bin/python bench/bench_grouping.py table [--sizes 10000,50000,100000] [--scopes cell,project]

2. Whole-project grouping beside SemHash on the same vectors in the same run: at 100k and 1M 384-d vectors
   (tests/curation/embedding_like.py: calibrated on e5 vectors of the paper's texts, with planted near-duplicates
   on both sides of the threshold) or the given cached vectors (--vectors: a .npy file or a vector-cache folder of
   shard-*.npy). The vectors are written to a .npy file first and each measuring process loads them, as the
   flag job holds cached vectors. Printed: wall seconds, CPU seconds (getrusage: every thread), peak RSS and what
   it adds to the loaded vectors, samples flagged, and how many samples' flags differ from exact grouping (run up
   to --exact-up-to, 100k: it grows as N^1.8), and the 1-minute load average sampled every second during each
   measurement (the machine may be shared: wall time under load says little, CPU seconds more). SemHash
   (self_deduplicate, its usearch index) gets the vectors in the studio's leader order, so that its greedy pass
   follows the same rule and order and its differences from exact grouping compare; a measurement that runs past
   --timeout seconds of wall time is stopped and reported as not finished. After the table: the studio's phases
   (visiting order, k-means, assignment to cells, candidate search, leader rule), wall and CPU seconds each.

       .venv/bin/python bench/bench_grouping.py compare [--sizes 100000,1000000] [--vectors PATH] [--timeout 3600]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

LANGUAGES = ("en", "de", "th", "he", "id", "sw", "ro", "sl")
LABELS = ("science", "travel", "politics", "sports", "health")


def make_case(n: int, dim: int = 384, seed: int = 0):  # type: ignore[no-untyped-def]
    import numpy as np

    from core.curation.duplicate_flags import Item

    rng = np.random.default_rng(seed)
    cells = [(lang, label) for lang in LANGUAGES for label in LABELS]
    shared = rng.normal(size=dim)
    cell_centres = rng.normal(size=(len(cells), dim))
    cell_of = rng.integers(0, len(cells), n)
    vectors = 2.2 * shared + 0.9 * cell_centres[cell_of] + rng.normal(size=(n, dim))
    copies = rng.choice(n, size=n // 20, replace=False)
    for index in copies:  # a near copy of another sample of the same cell
        same = np.flatnonzero(cell_of == cell_of[index])
        source = int(rng.choice(same))
        vectors[index] = vectors[source] + rng.normal(scale=0.08, size=dim)
    vectors = (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)
    items = [
        Item(i, f"text {i}", cells[c][1], cells[c][0], "train", "synthetic", "pending") for i, c in enumerate(cell_of)
    ]
    return items, vectors


def measure_one(n: int, scope: str, threshold: float) -> dict[str, float]:
    from core.curation.duplicate_flags import Findings, find_near_duplicates

    items, vectors = make_case(n)
    findings = Findings()
    start = time.perf_counter()
    find_near_duplicates(items, vectors, threshold, scope, findings)
    seconds = time.perf_counter() - start
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"seconds": seconds, "peak_mb": peak_mb, "flagged": findings.count("near_duplicate")}


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _leader_order(vectors):  # type: ignore[no-untyped-def]
    """The studio's visiting order for a whole project with nothing accepted: the most central first."""
    import numpy as np

    from core.curation.grouping import _centrality_of_rows

    rows = np.arange(len(vectors))
    return np.lexsort((rows, -_centrality_of_rows(vectors, rows)))


class _GivenVectors:
    """SemHash's encoder protocol; never called: the vectors are given."""

    def encode(self, sentences, **kwargs):  # type: ignore[no-untyped-def]
        raise AssertionError("the bench gives SemHash its vectors")


class _LoadSampler:
    """The 1-minute load average, sampled every second while a measurement runs (the machine is shared)."""

    def __init__(self) -> None:
        import threading

        self.samples = [os.getloadavg()[0]]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while not self._stop.wait(1.0):
            self.samples.append(os.getloadavg()[0])

    def stop(self) -> dict[str, float]:
        self._stop.set()
        self._thread.join()
        self.samples.append(os.getloadavg()[0])
        return {"load_mean": sum(self.samples) / len(self.samples), "load_max": max(self.samples)}


PHASES = {  # the studio's phases (functions of core/curation/cell_join.py and grouping.py) -> their names
    "_centrality_of_rows": "visiting order (centrality)",
    "_kmeans": "k-means training (samples)",
    "_nearest": "top-cell assignment",
    "_nearest_leaves": "leaf assignment (probes)",
    "_join": "candidate search (cells, exact float32)",
}


def _time_phases() -> dict[str, list[float]]:
    """Wall and CPU seconds per phase of the studio's grouping, by wrapping its functions in this process; what is
    left of the total is the leader rule and the glue."""
    import functools

    from core.curation import cell_join, grouping

    spent: dict[str, list[float]] = {}

    def add(name: str, wall: float, cpu: float) -> None:
        total = spent.setdefault(name, [0.0, 0.0])
        total[0] += wall
        total[1] += cpu

    for module in (cell_join, grouping):
        for function, name in PHASES.items():
            original = getattr(module, function, None)
            if original is None or getattr(original, "__module__", "") != module.__name__:
                continue
            if function == "_join":  # a generator: count the time spent inside it, not in its consumer

                def generator(*args, _original=original, _name=name, **kwargs):  # type: ignore[no-untyped-def]
                    pairs = _original(*args, **kwargs)
                    while True:
                        wall, cpu = time.perf_counter(), _cpu_seconds()
                        try:
                            item = next(pairs)
                        except StopIteration:
                            add(_name, time.perf_counter() - wall, _cpu_seconds() - cpu)
                            return
                        add(_name, time.perf_counter() - wall, _cpu_seconds() - cpu)
                        yield item

                setattr(module, function, functools.wraps(original)(generator))
            else:

                def timed(*args, _original=original, _name=name, **kwargs):  # type: ignore[no-untyped-def]
                    wall, cpu = time.perf_counter(), _cpu_seconds()
                    try:
                        return _original(*args, **kwargs)
                    finally:
                        add(_name, time.perf_counter() - wall, _cpu_seconds() - cpu)

                setattr(module, function, functools.wraps(original)(timed))
    return spent


def measure_method(method: str, path: str, threshold: float, flagged_out: str) -> dict[str, Any]:
    import numpy as np

    vectors = np.load(path)
    loaded_mb = _peak_mb()
    n = len(vectors)
    phases = _time_phases() if method == "studio" else {}
    load = _LoadSampler()
    if method == "semhash":
        from semhash import SemHash

        order = _leader_order(vectors)
        records = [str(i) for i in range(n)]
        start, cpu = time.perf_counter(), _cpu_seconds()
        semhash = SemHash.from_embeddings(vectors[order], records, model=_GivenVectors())
        result = semhash.self_deduplicate(threshold=threshold)
        flagged = order[np.array([int(d.record) for d in result.filtered], dtype=np.int64)]
    else:
        from core.curation.grouping import near_duplicate_members

        exact_limit = n + 1 if method == "exact" else 20_000
        start, cpu = time.perf_counter(), _cpu_seconds()
        members = near_duplicate_members(vectors, np.arange(n), [False] * n, threshold, exact_limit=exact_limit)
        flagged = members.items
    seconds, cpu_seconds = time.perf_counter() - start, _cpu_seconds() - cpu
    np.save(flagged_out, np.sort(flagged))
    result = {"seconds": seconds, "cpu": cpu_seconds, "peak_mb": _peak_mb(), "loaded_mb": loaded_mb, "n": n}
    if phases:
        phases["leader rule and the rest"] = [
            seconds - sum(wall for wall, _ in phases.values()),
            cpu_seconds - sum(cpu for _, cpu in phases.values()),
        ]
    return result | load.stop() | {"phases": phases}


def _write_vectors(n: int, path: Path) -> None:
    import numpy as np

    from tests.curation.embedding_like import embedding_like_vectors

    np.save(path, embedding_like_vectors(n, seed=11))


def _load_given(source: str, path: Path) -> int:
    import numpy as np

    folder = Path(source)
    shards = sorted(folder.glob("shard-*.npy")) if folder.is_dir() else [folder]
    vectors = np.concatenate([np.load(shard) for shard in shards]).astype(np.float32)
    np.save(path, vectors)
    return len(vectors)


def compare(args: argparse.Namespace) -> None:
    import numpy as np

    work = Path(tempfile.mkdtemp(prefix="bench-grouping-"))
    cases: list[tuple[str, Path]] = []
    if args.vectors:
        path = work / "given.npy"
        n = _load_given(args.vectors, path)
        cases.append((f"{n:,} cached ({Path(args.vectors).name})", path))
    else:
        for n in (int(s) for s in args.sizes.split(",")):
            path = work / f"synthetic-{n}.npy"
            command = [sys.executable, __file__, "--write", str(n), str(path)]
            subprocess.run(command, check=True)
            cases.append((f"{n:,} synthetic", path))
    rows = []
    for label, path in cases:
        n = int(np.load(path, mmap_mode="r").shape[0])
        methods = (["exact"] if n <= args.exact_up_to else []) + ["studio", "semhash"]
        results: dict[str, dict[str, Any] | None] = {}
        flagged: dict[str, set[int]] = {}
        for method in methods:
            out = work / f"{method}-{n}.npy"
            command = [sys.executable, __file__, "--measure", method, str(path), str(out)]
            command += ["--threshold", str(args.threshold)]
            try:
                done = subprocess.run(command, check=True, capture_output=True, text=True, timeout=args.timeout)
            except subprocess.TimeoutExpired:
                results[method] = None
                print(f"  {label}: {method} did not finish in {args.timeout} s", file=sys.stderr, flush=True)
                continue
            results[method] = json.loads(done.stdout.strip().splitlines()[-1])
            flagged[method] = set(np.load(out).tolist())
            done_result = results[method]
            print(
                f"  {label}: {method} {done_result['seconds']:.1f} s wall, {done_result['cpu']:.1f} CPU s, "
                f"{done_result['peak_mb']:.0f} MB, load {done_result['load_mean']:.1f}, "
                f"{len(flagged[method]):,} flagged",
                file=sys.stderr,
                flush=True,
            )
        rows.append((label, n, results, flagged))
        os.unlink(path)
    shutil.rmtree(work)
    print(f"\nWhole-project near-duplicate grouping, 384-d vectors, threshold {args.threshold}, {os.cpu_count()} cores")
    print("(CPU: user + system seconds of every thread; RSS: the measuring process's peak, loaded vectors included)\n")
    print(
        "| vectors | method | wall s | CPU s | peak RSS MB | over the vectors MB | flagged | differ from exact | "
        "CPU vs SemHash | RSS vs SemHash | load (mean / max) |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    names = {"exact": "exact (leader_groups)", "studio": "studio (cells)", "semhash": "SemHash 0.5 (usearch)"}
    for label, n, results, flagged in rows:
        peer = results.get("semhash")
        for method, result in results.items():
            if result is None:
                print(f"| {label} | {names[method]} | did not finish in {args.timeout} s | | | | | | | | |")
                continue
            differ = (
                f"{len(flagged[method] ^ flagged['exact']):,} ({len(flagged[method] ^ flagged['exact']) / n:.3%})"
                if "exact" in flagged
                else "not run"
            )
            ratio_cpu = f"{result['cpu'] / peer['cpu']:.2f}x" if peer else "-"
            ratio_rss = f"{result['peak_mb'] / peer['peak_mb']:.2f}x" if peer else "-"
            print(
                f"| {label} | {names[method]} | {result['seconds']:.1f} | {result['cpu']:.1f} | "
                f"{result['peak_mb']:.0f} | {result['peak_mb'] - result['loaded_mb']:.0f} | {len(flagged[method]):,} | "
                f"{differ} | {ratio_cpu} | {ratio_rss} | {result['load_mean']:.1f} / {result['load_max']:.1f} |"
            )
    print("\nThe studio's phases (wall s / CPU s; the parallel ones use every core):\n")
    for label, _, results, _ in rows:
        studio = results.get("studio")
        if studio and studio.get("phases"):
            phases = ", ".join(f"{name} {wall:.1f} / {cpu:.1f}" for name, (wall, cpu) in studio["phases"].items())
            print(f"- {label}: {phases}")


def table(args: argparse.Namespace) -> None:
    rows = []
    for scope in args.scopes.split(","):
        for n in (int(s) for s in args.sizes.split(",")):
            command = [sys.executable, __file__, "--one", str(n), scope, "--threshold", str(args.threshold)]
            result = json.loads(subprocess.run(command, check=True, capture_output=True, text=True).stdout)
            rows.append((n, scope, result))
            print(f"  measured {n:,} ({scope}): {result['seconds']:.1f} s", file=sys.stderr, flush=True)
    print(f"\nNear-duplicate grouping, 384-d vectors, threshold {args.threshold} (the whole process's peak RSS)\n")
    print("| samples | scope | seconds | peak RSS (MB) | flagged near-duplicates |")
    print("|---:|---|---:|---:|---:|")
    for n, scope, result in rows:
        print(f"| {n:,} | {scope} | {result['seconds']:.1f} | {result['peak_mb']:.0f} | {result['flagged']:,} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("mode", nargs="?", choices=("table", "compare"), default="table")
    parser.add_argument("--sizes")
    parser.add_argument("--scopes", default="cell,project")
    parser.add_argument("--threshold", type=float, default=0.97)
    parser.add_argument("--vectors", help="cached vectors: a .npy file or a vector-cache folder")
    parser.add_argument("--exact-up-to", type=int, default=100_000)
    parser.add_argument("--timeout", type=int, default=3600, help="seconds per measurement")
    parser.add_argument("--one", nargs=2, metavar=("N", "SCOPE"), help=argparse.SUPPRESS)
    parser.add_argument("--write", nargs=2, metavar=("N", "PATH"), help=argparse.SUPPRESS)
    parser.add_argument("--measure", nargs=3, metavar=("METHOD", "PATH", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure_one(int(args.one[0]), args.one[1], args.threshold)))
    elif args.write:
        _write_vectors(int(args.write[0]), Path(args.write[1]))
    elif args.measure:
        print(json.dumps(measure_method(args.measure[0], args.measure[1], args.threshold, args.measure[2])))
    elif args.mode == "compare":
        args.sizes = args.sizes or "100000,1000000"
        compare(args)
    else:
        args.sizes = args.sizes or "10000,50000,100000"
        table(args)


if __name__ == "__main__":
    main()

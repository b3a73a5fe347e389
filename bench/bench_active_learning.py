"""Synthetic data plus a few human labels where they pay most (issue 21): the learning curve "synthetic + k human
TRAIN samples per label per language", the k human samples chosen by the synthetic model's uncertainty or at
random, for k = 0, 5, 10, 20, beside the model trained on every human TRAIN sample.

The model (`--model`) is the studio's linear probe (core.training.trainers.linear_model on the bundled e5-small's
vectors, one model over all languages, C = 3), or its hybrid trainer (character n-grams + e5, defaults) with one
model per language (`hybrid-per-language`: what PerLanguageTrainer fits; its hybrid over all languages only for a
language without training samples, as sentiment's human files lack sl). The same model type is trained on every
human TRAIN sample of the pool for the reference column. The metric is the mean over languages of the macro-F1 on
the human TEST files. A human sample weighs `--human-weight` synthetic ones (repeated that many times, as
core.training.training_run does; a list gives one row per weight). Uncertainty (`--measure`): the margin between the
synthetic model's two best labels or its entropy, least sure first, skipping near-repeats
(core.training.uncertainty). Random: the mean of three draws. Wall and CPU seconds are per row (the fits of that
row), the header line has those of the references.

Vectors come from the studio's embedding cache (under STUDIO_HOME, default /tmp/studio-bench-active-learning):
the first run embeds every text once (about 120,000; an hour on 2 cores), later runs take seconds.

    .venv/bin/python bench/bench_active_learning.py [--data ../shared/data/paper-multilingual] [--tasks topic,intent]
        [--ks 0,5,10,20] [--human-weight 1,3] [--measure margin] [--model linear|hybrid-per-language] [--pool 2000]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("STUDIO_HOME", "/tmp/studio-bench-active-learning")

from core.training.metrics import macro_f1  # noqa: E402
from core.training.trainers.linear_model import LinearClassifier  # noqa: E402
from core.training.uncertainty import MEASURES, most_uncertain  # noqa: E402

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


def mean_f1(model: Model, test: Part) -> float:
    predicted = np.asarray(model.classes)[model.predict_proba(test).argmax(axis=1)]
    scores = []
    for code in sorted(set(test.languages)):
        rows = np.flatnonzero(test.languages == code)
        scores.append(macro_f1([test.labels[r] for r in rows], [str(predicted[r]) for r in rows], model.classes))
    return float(np.mean(scores))


class Linear:
    """A linear probe over all languages on the cached vectors."""

    def __init__(self, parts: list[tuple[Part, np.ndarray, int]], classes: list[str]) -> None:
        features = np.vstack([np.repeat(part.vectors[rows], weight, axis=0) for part, rows, weight in parts])
        labels = [part.labels[r] for part, rows, weight in parts for r in rows for _ in range(weight)]
        self.classes = list(classes)
        self.model = LinearClassifier.fit(features, labels, classes, c=3.0, max_iter=2000)

    def predict_proba(self, part: Part) -> np.ndarray:
        return self.model.predict_proba(part.vectors)


class HybridPerLanguage:
    """The studio's hybrid trainer (defaults), one per language; a label a language lacks gets probability 0. A
    language without training samples (sentiment's human files lack sl) gets one hybrid over all languages, as in
    PerLanguageTrainer."""

    def __init__(self, parts: list[tuple[Part, np.ndarray, int]], classes: list[str], encoder: str) -> None:
        self.rows = [(part, r) for part, chosen, weight in parts for r in chosen for _ in range(weight)]
        self.classes = list(classes)
        self.encoder = encoder
        self.models = {
            code: self._fit([(part, r) for part, r in self.rows if part.languages[r] == code])
            for code in sorted({str(part.languages[r]) for part, r in self.rows})
        }

    def _fit(self, rows: list[tuple[Part, int]]) -> Any:
        from core.training.params import HybridParams
        from core.training.trainers.base import Monitor
        from core.training.trainers.hybrid import HybridTrainer

        model = HybridTrainer(HybridParams(encoder=self.encoder, validation_fraction=0.0))
        quiet = Monitor(progress=lambda fraction, message: None, check_cancel=lambda: None)
        model.fit([part.texts[r] for part, r in rows], [part.labels[r] for part, r in rows], quiet)
        return model

    def predict_proba(self, part: Part) -> np.ndarray:
        result = np.zeros((len(part.texts), len(self.classes)))
        languages = np.array([code if code in self.models else "" for code in part.languages])
        if "" in languages and "" not in self.models:
            self.models[""] = self._fit(self.rows)
        for code, model in self.models.items():
            rows = np.flatnonzero(languages == code)
            columns = [self.classes.index(label) for label in model.classes]
            result[np.ix_(rows, columns)] = model.predict_proba([part.texts[r] for r in rows])
        return result


Model = Linear | HybridPerLanguage


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "paper-multilingual")
    parser.add_argument("--tasks", default="topic,intent,sentiment")
    parser.add_argument("--ks", default="0,5,10,20")
    parser.add_argument("--human-weight", default="1", help="one weight or a list (1,3): one row per weight")
    parser.add_argument("--measure", choices=MEASURES, default="margin")
    parser.add_argument("--model", choices=("linear", "hybrid-per-language"), default="linear")
    parser.add_argument("--pool", type=int, default=2000, help="human TRAIN texts per language to choose from")
    parser.add_argument("--synthetic", type=int, default=0, help="synthetic texts per language (0: all; a smoke run)")
    parser.add_argument("--encoder", default="bundled:multilingual-e5-small")
    args = parser.parse_args()
    if not args.data.exists():
        sys.exit(f"No data at {args.data}: this bench needs the paper's data.")
    ks = [int(k) for k in args.ks.split(",")]
    weights = [int(w) for w in args.human_weight.split(",")]

    def fit(parts: list[tuple[Part, np.ndarray, int]], classes: list[str]) -> Model:
        if args.model == "linear":
            return Linear(parts, classes)
        return HybridPerLanguage(parts, classes, args.encoder)

    print(f"model {args.model}, uncertainty by {args.measure}; wall and CPU seconds per row")
    print(
        f"{'task':<10} {'k':>3} {'w':>3} {'synthetic + k random':>21} {'+ k by uncertainty':>19} {'all human':>10} "
        f"{'gap':>7} {'wall s':>7} {'cpu s':>6}"
    )
    for task in args.tasks.split(","):
        wall, cpu = time.monotonic(), time.process_time()
        synthetic = read(args.data, task, "train_full", args.synthetic, args.encoder)
        human = read(args.data, task, "train_human_parsed", args.pool, args.encoder)
        test = read(args.data, task, "test", 0, args.encoder)
        classes = sorted(set(synthetic.labels) | set(human.labels))
        everything = np.arange(len(synthetic.texts))
        base = fit([(synthetic, everything, 1)], classes)
        synthetic_only = mean_f1(base, test)
        all_human = mean_f1(fit([(human, np.arange(len(human.texts)), 1)], classes), test)
        pool_proba = base.predict_proba(human)
        print(
            f"{task}: synthetic only {synthetic_only:.3f}, all {len(human.texts):,} human {all_human:.3f} "
            f"(reading, both fits: {time.monotonic() - wall:.0f} s wall, {time.process_time() - cpu:.0f} s CPU)",
            flush=True,
        )
        for k, weight in [(size, w) for size in ks for w in (weights if size else weights[:1])]:
            wall, cpu = time.monotonic(), time.process_time()
            picked_by_doubt, picked_at_random = [], {seed: [] for seed in SEEDS}
            for code in sorted(set(human.languages)):
                rows = np.flatnonzero(human.languages == code)
                wanted = min(k * len(classes), len(rows))
                doubts = most_uncertain(
                    pool_proba[rows], classes, wanted, vectors=human.vectors[rows], measure=args.measure
                )
                picked_by_doubt.extend(int(rows[u.position]) for u in doubts)
                for seed in SEEDS:
                    picked_at_random[seed].extend(np.random.default_rng(seed).choice(rows, wanted, replace=False))
            if not k:
                by_doubt = at_random = synthetic_only
            else:
                by_doubt = mean_f1(
                    fit([(synthetic, everything, 1), (human, np.array(picked_by_doubt, int), weight)], classes), test
                )
                at_random = float(
                    np.mean(
                        [
                            mean_f1(
                                fit([(synthetic, everything, 1), (human, np.array(picked, int), weight)], classes),
                                test,
                            )
                            for picked in picked_at_random.values()
                        ]
                    )
                )
            print(
                f"{task:<10} {k:>3} {weight:>3} {at_random:>21.3f} {by_doubt:>19.3f} {all_human:>10.3f} "
                f"{by_doubt - all_human:>+7.3f} {time.monotonic() - wall:>7.0f} {time.process_time() - cpu:>6.0f}",
                flush=True,
            )


if __name__ == "__main__":
    main()

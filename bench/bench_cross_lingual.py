"""Cross-lingual test contamination on the paper's data (issue 21): how often the margin criterion raises a false
alarm, and how many real translations it finds, beside a plain cosine threshold.

- False alarms: every HUMAN TRAIN sample of the 8 languages as a candidate against every human TEST sample of the
  other languages. The paper's topic (SIB-200 / Flores) and intent (MASSIVE) sets share no sentence between train
  and test (their ids do not overlap), so every flag there is a false alarm.
- Recall: the test sets of topic and intent are parallel (one id, the same sentence in every language). Each
  language's TEST samples, taken as candidates against the other languages' test samples, are translations: a
  flag that names a test sample with the same id is a hit.

Vectors: the bundled e5-small (passage role), cached under --cache so that a second run costs seconds.

    .venv/bin/python bench/bench_cross_lingual.py [--data ../shared/data/paper-multilingual] [--per-language 300]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core.curation.cross_lingual import find_translations  # noqa: E402

LANGUAGES = ("de", "en", "he", "id", "ro", "sl", "sw", "th")
MARGINS = (1.04, 1.06, 1.08, 1.10, 1.12, 1.15, 1.20)
COSINES = (0.85, 0.88, 0.90, 0.93)


def vectors(texts: list[str], cache: Path, name: str, encoder: str) -> np.ndarray:
    path = cache / f"{name}.npy"
    if path.exists():
        return np.load(path)
    from core.embeddings.service import embed

    result = np.asarray(embed(texts, encoder), dtype=np.float32)
    cache.mkdir(parents=True, exist_ok=True)
    np.save(path, result)
    return result


def load(data: Path, task: str, part: str, per_language: int) -> pd.DataFrame:
    frames = []
    for code in LANGUAGES:
        frame = pd.read_csv(data / task / f"{code}-{part}.csv")
        if per_language and len(frame) > per_language:
            frame = frame.sample(per_language, random_state=0)
        frames.append(frame.assign(language=code))
    return pd.concat(frames, ignore_index=True)


def best_other_language(
    candidates: np.ndarray, cand_langs: np.ndarray, tests: np.ndarray, test_langs: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Each candidate's best similarity to a test sample of another language, and which one."""
    best = np.full(len(candidates), -1.0, dtype=np.float32)
    which = np.zeros(len(candidates), dtype=np.int64)
    for start in range(0, len(candidates), 2048):
        scores = candidates[start : start + 2048] @ tests.T
        scores[cand_langs[start : start + 2048, None] == test_langs[None, :]] = -1.0
        which[start : start + 2048] = scores.argmax(axis=1)
        best[start : start + 2048] = scores.max(axis=1)
    return best, which


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "paper-multilingual")
    parser.add_argument("--per-language", type=int, default=300, help="human train samples per language (0: all)")
    parser.add_argument("--cache", type=Path, default=Path("/tmp/studio-bench-cross-lingual"))
    parser.add_argument("--encoder", default="bundled:multilingual-e5-small")
    args = parser.parse_args()
    if not args.data.exists():
        sys.exit(f"No data at {args.data}: this bench needs the paper's data.")
    print(f"{'task':<7} {'criterion':<16} {'false alarms':>22} {'recall':>18} {'cpu s':>6}")
    for task in ("topic", "intent"):
        train = load(args.data, task, "train_human_parsed", args.per_language)
        test = load(args.data, task, "test", 0)
        assert not set(train.id) & set(test.id), "train and test share sentences: no false-alarm measure"
        train_v = vectors(train.text.tolist(), args.cache, f"{task}-train-{args.per_language}", args.encoder)
        test_v = vectors(test.text.tolist(), args.cache, f"{task}-test", args.encoder)
        train_langs, test_langs = train.language.to_numpy(), test.language.to_numpy()
        for margin in MARGINS:
            started = time.process_time()
            alarms = find_translations(train_v, train_langs, test_v, test_langs, margin=margin)
            found = find_translations(test_v, test_langs, test_v, test_langs, margin=margin)
            hits = sum(test.id[m.candidate] == test.id[m.test] for m in found)
            seconds = time.process_time() - started
            rate = len(alarms) / len(train)
            print(
                f"{task:<7} {f'margin >= {margin:.2f}':<16} {len(alarms):>6} of {len(train):>5} ({rate:6.2%})"
                f" {hits:>5} of {len(test):>5} ({hits / len(test):5.1%}) {seconds:6.1f}"
            )
        alarm_best, _ = best_other_language(train_v, train_langs, test_v, test_langs)
        found_best, found_which = best_other_language(test_v, test_langs, test_v, test_langs)
        same_id = test.id.to_numpy()[found_which] == test.id.to_numpy()
        for cosine in COSINES:
            alarms_n = int((alarm_best >= cosine).sum())
            hits = int(((found_best >= cosine) & same_id).sum())
            print(
                f"{task:<7} {f'cosine >= {cosine:.2f}':<16} {alarms_n:>6} of {len(train):>5} "
                f"({alarms_n / len(train):6.2%}) {hits:>5} of {len(test):>5} ({hits / len(test):5.1%})"
            )


if __name__ == "__main__":
    main()

"""Labelling texts with a fine-tuned model (issue 20, item 6): the old path, the studio's path and a lower bound,
in one run, on the paper's human test texts (every task and language, mixed lengths).

    .venv/bin/python bench/bench_predict.py [../shared/data/paper-multilingual] [--texts 3000] [--home DIR]

The model: the bundled multilingual-e5-small fine-tuned briefly on the topic task (the weights do not change the
cost of labelling), saved as a run's model folder. Rows, each labelling the same texts with the model loaded and
warmed up:

- before: torch, batches of 64 in the texts' own order (each padded to its longest text), as the studio did;
- torch, sorted: the studio's torch path (batches of like token lengths), to show what sorting alone gives;
- after: the studio's `predict_texts` on its ONNX export (sorted batches, ONNX Runtime on every core), the path a
  fine-tuned model of the bundled encoder takes by default;
- lower bound: a bare onnxruntime session on the same exported graph over the same sorted batches, tokenized with
  the same tokenizer, no studio code.

CPU-seconds are the process's user + system time (every thread, resource.getrusage): on a shared machine they
measure the work, where wall time also measures the neighbours. The export itself (made once per model) is timed
apart. The ONNX probabilities are compared with torch's (largest difference, labels that differ).
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

BUNDLED = "bundled:multilingual-e5-small"
TASKS = ("topic", "intent", "sentiment")
LANGUAGES = ("en", "de", "th", "he", "id", "sw", "ro", "sl")
BATCH = 64


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def measure(work: Callable[[], np.ndarray]) -> tuple[np.ndarray, float, float]:
    cpu, wall = cpu_seconds(), time.perf_counter()
    result = work()
    return result, cpu_seconds() - cpu, time.perf_counter() - wall


def read_texts(data: Path, task: str, language: str, suffix: str) -> list[tuple[str, str]]:
    import pandas as pd

    path = data / task / f"{language}-{suffix}.csv"
    if not path.exists():
        return []
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    return [(t.strip(), lab) for t, lab in zip(frame["text"], frame["intent"], strict=True) if t.strip() and lab]


def test_texts(data: Path, n: int, seed: int = 0) -> list[str]:
    pool = [t for task in TASKS for language in LANGUAGES for t, _ in read_texts(data, task, language, "test")]
    random.Random(seed).shuffle(pool)
    return pool[:n]


def fine_tuned_model(data: Path, folder: Path) -> Path:
    """The bundled encoder fine-tuned for a few steps on topic texts, saved as a run's model (once per home)."""
    from core.training.params import FinetuneParams
    from core.training.trainers import make_trainer
    from core.training.trainers.base import Monitor

    if (folder / "trainer.json").exists():
        return folder
    rows = [row for language in ("en", "sw", "th") for row in read_texts(data, "topic", language, "train_full")]
    rows = random.Random(0).sample(rows, 144)
    params = FinetuneParams(base_model=BUNDLED, epochs=1, batch_size=16, blend_with="none", max_length=128)
    trainer = make_trainer(params)
    trainer.fit([t for t, _ in rows], [label for _, label in rows], Monitor())
    folder.mkdir(parents=True, exist_ok=True)
    trainer.save(folder)
    return folder


def torch_unsorted(trainer: object, texts: list[str]) -> np.ndarray:
    """The old path: torch, batches in the texts' order, each padded to its longest text."""
    import torch

    from core.training.trainers.finetune_batches import collate, tokenize

    model = trainer.torch_model()  # type: ignore[attr-defined]
    ids = tokenize(trainer.tokenizer, texts, trainer.prompt, trainer.max_tokens())  # type: ignore[attr-defined]
    out = np.zeros((len(ids), len(trainer.classes)))  # type: ignore[attr-defined]
    with torch.inference_mode():
        for start in range(0, len(ids), BATCH):
            batch = ids[start : start + BATCH]
            logits = model(**collate(trainer.tokenizer, batch, "cpu")).logits  # type: ignore[attr-defined]
            out[start : start + len(batch)] = torch.softmax(logits.double(), dim=-1).numpy()
    return out


def bare_onnxruntime(
    model_file: Path, tokenizer_folder: Path, prompt: str, max_length: int, texts: list[str]
) -> Callable[[], np.ndarray]:
    """The lower bound: onnxruntime alone on the exported graph, the same sorted batches of 64 (no studio code)."""
    import onnxruntime as ort
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(tokenizer_folder))
    options = ort.SessionOptions()
    options.intra_op_num_threads = len(os.sched_getaffinity(0))
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    session = ort.InferenceSession(str(model_file), options, providers=["CPUExecutionProvider"])
    names = [i.name for i in session.get_inputs()]

    def run() -> np.ndarray:
        ids = tokenizer([prompt + t for t in texts], truncation=True, max_length=max_length)["input_ids"]
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
        out = np.zeros((len(ids), session.get_outputs()[0].shape[1] or 0))
        for start in range(0, len(order), BATCH):
            rows = order[start : start + BATCH]
            width = max(len(ids[i]) for i in rows)
            input_ids = np.full((len(rows), width), tokenizer.pad_token_id, dtype=np.int64)
            mask = np.zeros((len(rows), width), dtype=np.int64)
            for r, i in enumerate(rows):
                input_ids[r, : len(ids[i])], mask[r, : len(ids[i])] = ids[i], 1
            feed = {"input_ids": input_ids, "attention_mask": mask, "token_type_ids": np.zeros_like(mask)}
            logits = session.run(None, {n: feed[n] for n in names})[0].astype(np.float64)
            e = np.exp(logits - logits.max(axis=1, keepdims=True))
            out[rows] = e / e.sum(axis=1, keepdims=True)
        return out

    return run


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("data", type=Path, nargs="?", default=ROOT.parent / "shared" / "data" / "paper-multilingual")
    parser.add_argument("--texts", type=int, default=3000, help="human test texts labelled in each row")
    parser.add_argument("--home", type=Path, help="a studio home to keep the model in (else a temporary one)")
    args = parser.parse_args()
    if not (args.data / "topic").is_dir():
        print(f"skipped: no paper data at {args.data}")
        return 0
    home = args.home or Path(tempfile.mkdtemp(prefix="bench-predict-"))
    os.environ.update({"STUDIO_HOME": str(home), "HF_HUB_OFFLINE": "1", "STUDIO_DEMO": "0"})
    os.environ.pop("STUDIO_EMBEDDING_ENGINE", None)  # the default: onnx for the bundled encoder
    from core.settings import reset_settings

    reset_settings()
    from core.training.predict import predict_texts
    from core.training.trainers import load_trainer
    from core.training.trainers.finetune import MODEL_DIR, FinetuneTrainer
    from core.training.trainers.finetune_batches import tokenize
    from core.training.trainers.finetune_onnx import EXPORT_DIR, MODEL_FILE, REFUSED

    texts = test_texts(args.data, args.texts)
    started = time.perf_counter()
    folder = fine_tuned_model(args.data, home / "bench-model")
    print(f"model: {BUNDLED} fine-tuned briefly, {time.perf_counter() - started:.0f} s (made once per home)")
    warm = texts[:16]

    torch_side = FinetuneTrainer.load(folder)
    torch_side.torch_model()
    torch_unsorted(torch_side, warm)
    before, before_cpu, before_wall = measure(lambda: torch_unsorted(torch_side, texts))

    def torch_sorted() -> np.ndarray:  # the studio's torch path, tokenizing included as in the other rows
        return torch_side.torch_proba(tokenize(torch_side.tokenizer, texts, torch_side.prompt, torch_side.max_tokens()))

    sorted_torch, sorted_cpu, sorted_wall = measure(torch_sorted)

    shutil.rmtree(folder / EXPORT_DIR, ignore_errors=True)  # the export is timed in every run
    (folder / f"{EXPORT_DIR}.{REFUSED}").unlink(missing_ok=True)
    export_cpu, export_wall = cpu_seconds(), time.perf_counter()
    studio = load_trainer(folder)
    predict_texts(studio, warm)  # makes the export on first use (once per model), then reads it back
    export_cpu, export_wall = cpu_seconds() - export_cpu, time.perf_counter() - export_wall
    assert isinstance(studio, FinetuneTrainer) and studio.onnx is not None, "the ONNX export was not used"
    after_proba, after_cpu, after_wall = measure(lambda: predict_texts(studio, texts).probabilities)

    bare = bare_onnxruntime(
        folder / EXPORT_DIR / MODEL_FILE, folder / MODEL_DIR, studio.prompt, studio.max_tokens(), texts
    )
    bare()
    bound, bound_cpu, bound_wall = measure(bare)

    n = len(texts)
    rows = [
        ("before: torch, unsorted batches", before_cpu, before_wall),
        ("torch, sorted batches", sorted_cpu, sorted_wall),
        ("after: studio, sorted, ONNX", after_cpu, after_wall),
        ("lower bound: bare onnxruntime", bound_cpu, bound_wall),
    ]
    print(f"\n{n:,} human test texts of the paper (3 tasks, 8 languages), {len(os.sched_getaffinity(0))} cores")
    print(f"{'path':34} {'CPU-s':>8} {'wall s':>8} {'texts/CPU-s':>12} {'texts/s':>9} {'CPU vs before':>14}")
    for name, cpu, wall in rows:
        print(f"{name:34} {cpu:8.1f} {wall:8.1f} {n / cpu:12.1f} {n / wall:9.1f} {before_cpu / cpu:13.2f}x")
    print(f"after / lower bound: {after_cpu / bound_cpu:.2f}x CPU-s, {after_wall / bound_wall:.2f}x wall")
    print(f"ONNX export, once per model (with its check against torch): {export_cpu:.1f} CPU-s, {export_wall:.1f} s")
    labels_before = before.argmax(axis=1)
    print(
        f"sameness: ONNX vs torch largest probability difference {np.abs(after_proba - before).max():.2e}, "
        f"labels differing {(after_proba.argmax(axis=1) != labels_before).sum()} of {n}; "
        f"sorted vs unsorted torch {np.abs(sorted_torch - before).max():.2e}; "
        f"bare vs studio {np.abs(bound - after_proba).max():.2e}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

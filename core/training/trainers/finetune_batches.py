"""Tokenised texts in batches of similar length (little padding: much faster on a CPU), and the encoder's prompt."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

GROUP_BATCHES = 50  # texts are sorted by length inside groups of this many batches, then the batches are shuffled


def query_prompt(folder: Path) -> str:
    """The prompt the encoder expects before an input to classify ("query: " for e5), from its own config."""
    config = Path(folder) / "config_sentence_transformers.json"
    if not config.exists():
        return ""
    try:
        prompts = json.loads(config.read_text(encoding="utf-8")).get("prompts") or {}
    except (OSError, ValueError):
        return ""
    return str(prompts.get("query", ""))


def tokenize(tokenizer: Any, texts: list[str], prompt: str, max_length: int) -> list[list[int]]:
    encoded = tokenizer([prompt + t for t in texts], truncation=True, max_length=max_length, padding=False)
    return [list(ids) for ids in encoded["input_ids"]]


def training_batches(lengths: list[int], batch_size: int, rng: np.random.Generator) -> list[list[int]]:
    """One epoch of batches (index lists): random, but each batch holds texts of similar length."""
    order = rng.permutation(len(lengths))
    group = batch_size * GROUP_BATCHES
    batches: list[list[int]] = []
    for start in range(0, len(order), group):
        chunk = sorted(order[start : start + group].tolist(), key=lambda i: lengths[i])
        batches += [chunk[i : i + batch_size] for i in range(0, len(chunk), batch_size)]
    return [batches[i] for i in rng.permutation(len(batches))]


def inference_batches(lengths: list[int], batch_size: int) -> Iterator[list[int]]:
    """Batches for prediction: sorted by length (the caller puts results back in the original order)."""
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    for start in range(0, len(order), batch_size):
        yield order[start : start + batch_size]


def collate(tokenizer: Any, ids: list[list[int]], device: str) -> dict[str, Any]:
    batch = tokenizer.pad({"input_ids": ids}, padding=True, return_tensors="pt")
    return {k: v.to(device) for k, v in batch.items()}

"""Synthetic sentence embeddings with the structure near-duplicate grouping meets in real data (used by
tests/curation/test_ann_grouping.py and bench/bench_grouping.py).

- Every pair is fairly similar (a shared component), as multilingual-e5 puts unrelated texts of one language at
  0.7-0.8.
- Topics of varied tightness: in the tightest, unrelated members sit at 0.97, on the threshold, as short questions
  of one language do with e5; in the loosest, near 0.85.
- Planted near-duplicates: a share of the items are copies of another item at a cosine drawn evenly from
  0.94-1.0 (on both sides of the threshold); some copy a copy (chains), and a third copy one of a few
  "templates" (an LLM repeating itself), which makes dense groups of hundreds of close variants.

Calibrated on 8,000 texts of the paper's synthetic training data embedded with multilingual-e5-small: their
nearest neighbours' similarities (10th/50th/90th/99th percentile 0.89/0.945/0.985/0.997) against these vectors'
0.87/0.95/0.98/0.998; 0.2 pairs per text at >= 0.97 there, 2.2 here (denser, so harder to get right).

The vectors are generated a chunk at a time in float32, so a million of them cost little more than their 1.5 GB.
"""

from __future__ import annotations

import numpy as np


def embedding_like_vectors(
    n: int, dim: int = 384, *, seed: int = 0, copy_share: float = 0.15, chunk: int = 8192
) -> np.ndarray:
    """n L2-normalised float32 vectors (fixed by the seed)."""
    rng = np.random.default_rng(seed)
    topics = max(8, n // 200)
    shared = (rng.normal(size=dim) * 3.9).astype(np.float32)
    centres = (rng.normal(size=(topics, dim)) * 2.0).astype(np.float32)
    spread = rng.uniform(0.7, 1.8, topics).astype(np.float32)  # per-dimension noise: 0.7 is tight, 1.8 loose
    topic_of = rng.integers(0, topics, n)
    vectors = np.empty((n, dim), dtype=np.float32)
    for start in range(0, n, chunk):
        t = topic_of[start : start + chunk]
        x = shared + centres[t] + spread[t, None] * rng.standard_normal((len(t), dim), dtype=np.float32)
        vectors[start : start + chunk] = x / np.linalg.norm(x, axis=1, keepdims=True)
    copies = rng.choice(n, size=int(n * copy_share), replace=False)
    templates = rng.choice(n, size=max(1, n // 2000), replace=False)
    sources = np.where(
        rng.random(len(copies)) < 1 / 3, rng.choice(templates, len(copies)), rng.integers(0, n, len(copies))
    )
    cosines = rng.uniform(0.94, 1.0, len(copies)).astype(np.float32)
    for start in range(0, len(copies), chunk):  # copies made earlier can be sources of later ones: chains
        target, source = copies[start : start + chunk], sources[start : start + chunk]
        cosine = cosines[start : start + chunk, None]
        base = vectors[source]
        away = rng.standard_normal(base.shape, dtype=np.float32)
        away -= (away * base).sum(axis=1, keepdims=True) * base  # orthogonal to the source
        away /= np.linalg.norm(away, axis=1, keepdims=True)
        copy = cosine * base + np.sqrt(1 - cosine * cosine) * away
        vectors[target] = copy / np.linalg.norm(copy, axis=1, keepdims=True)
    return vectors

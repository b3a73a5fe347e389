"""Choosing the in-context examples put into a prompt: k at random (seeded) or the k most diverse.

Examples come ONLY from human samples of the train split. The test split is for evaluation: a test text in a
prompt would leak into the generated data and inflate every score measured on it. `select_examples` refuses any
other candidate outright rather than filtering it silently, so a caller that queries the wrong rows finds out.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Literal

import numpy as np

from core.errors import InvalidInput

Method = Literal["random", "diverse"]
METHODS: tuple[str, ...] = ("random", "diverse")


@dataclass(frozen=True)
class ExampleCandidate:
    sample_id: int
    text: str
    split: str
    origin: str


def select_examples(
    candidates: list[ExampleCandidate],
    k: int,
    method: Method,
    seed: int,
    vectors: np.ndarray | None = None,
) -> list[ExampleCandidate]:
    """k examples in the order chosen. Reproducible: the same candidates (in any order) and seed give the same
    examples. Repeated texts count once (the lowest sample id). `diverse` needs `vectors`, row-aligned with
    `candidates`: it starts from a seeded random pick, then adds the candidate least similar (max-min cosine)
    to those already chosen."""
    _refuse_outside_train(candidates)
    if method not in METHODS:
        raise InvalidInput(f"Unknown way to choose examples '{method}': use random or diverse.")
    if k <= 0 or not candidates:
        return []
    if method == "diverse" and vectors is None:
        raise ValueError("diverse example selection needs the candidates' vectors")
    matrix = None if vectors is None else _normalized(vectors, len(candidates))
    order = _unique_by_id(candidates)
    rng = random.Random(seed)
    if method == "random":
        chosen = rng.sample(order, min(k, len(order)))
    else:
        assert matrix is not None
        chosen = _farthest_first(order, matrix, k, rng)
    return [candidates[i] for i in chosen]


def _refuse_outside_train(candidates: list[ExampleCandidate]) -> None:
    for candidate in candidates:
        if candidate.split != "train":
            raise InvalidInput(
                f"Sample {candidate.sample_id} is in the {candidate.split} split: examples shown to the model may "
                "only come from the train split (the test split is kept for evaluation)."
            )
        if candidate.origin != "human":
            raise InvalidInput(
                f"Sample {candidate.sample_id} is {candidate.origin}, not written by a person: examples shown to "
                "the model may only be human samples of the train split."
            )


def _unique_by_id(candidates: list[ExampleCandidate]) -> list[int]:
    """Indices sorted by sample id, one per distinct text: the order no longer depends on how rows were queried."""
    indices = sorted(range(len(candidates)), key=lambda i: (candidates[i].sample_id, i))
    seen: set[str] = set()
    unique = []
    for index in indices:
        key = " ".join(candidates[index].text.casefold().split())
        if key not in seen:
            seen.add(key)
            unique.append(index)
    return unique


def _farthest_first(order: list[int], matrix: np.ndarray, k: int, rng: random.Random) -> list[int]:
    rows = matrix[order]
    picked = [rng.randrange(len(order))]
    closest = rows @ rows[picked[0]]  # each candidate's highest similarity to anything picked so far
    closest[picked[0]] = np.inf
    while len(picked) < min(k, len(order)):
        best = int(np.argmin(closest))  # ties: the lowest sample id
        picked.append(best)
        closest = np.maximum(closest, rows @ rows[best])
        closest[best] = np.inf
    return [order[p] for p in picked]


def _normalized(vectors: np.ndarray, rows: int) -> np.ndarray:
    matrix = np.asarray(vectors, dtype=np.float64)
    if matrix.ndim != 2 or matrix.shape[0] != rows:
        raise ValueError(f"expected one vector per candidate ({rows}), got an array of shape {matrix.shape}")
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix / np.where(norms > 0, norms, 1.0)

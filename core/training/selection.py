"""How many samples each language x label cell gives to a snapshot, and which ones (pure functions, no store).

A cell's samples are taken in a fixed random order (seeded per cell), so a smaller budget always picks a subset of
what a larger one picks: the points of a learning curve are nested, as in the paper.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np


def spread_budget(available: dict[str, int], budget: int) -> dict[str, int]:
    """Split `budget` over the labels as evenly as their availability allows (water-filling).

    A label with fewer samples than its share gives all it has, and the rest of its share goes to the others.
    Leftover single samples go to the labels with the most still available (ties: in the given order).
    """
    quotas = dict.fromkeys(available, 0)
    remaining = max(0, budget)
    open_labels = [label for label, n in available.items() if n > 0]
    while remaining > 0 and open_labels:
        share = remaining // len(open_labels)
        if share == 0:
            ranked = sorted(open_labels, key=lambda label: -(available[label] - quotas[label]))
            for label in ranked[:remaining]:
                quotas[label] += 1
            break
        for label in open_labels:
            take = min(share, available[label] - quotas[label])
            quotas[label] += take
            remaining -= take
        open_labels = [label for label in open_labels if quotas[label] < available[label]]
    return quotas


def cell_quotas(
    available: dict[str, int], *, per_cell: int | None = None, balance: bool = False, budget: int | None = None
) -> dict[str, int]:
    """Samples to take per label in one language: the cap per cell, then strict balance, then the budget."""
    counts = {label: min(n, per_cell) if per_cell is not None else n for label, n in available.items()}
    if balance:
        present = [n for n in counts.values() if n > 0]
        floor = min(present) if present else 0
        counts = {label: min(n, floor) for label, n in counts.items()}
    if budget is not None:
        counts = spread_budget(counts, budget)
    return counts


def cell_order(ids: Sequence[int], seed: int, language: str, label: str) -> list[int]:
    """The cell's sample ids in the fixed random order that selection takes them in."""
    digest = hashlib.sha256(f"{seed}\x1f{language}\x1f{label}".encode()).digest()
    rng = np.random.default_rng(int.from_bytes(digest[:8], "little"))
    ordered = sorted(ids)
    return [ordered[i] for i in rng.permutation(len(ordered))]


def validation_split(keys: Sequence[tuple[str, str]], fraction: float, seed: int) -> tuple[list[int], list[int]]:
    """Positions for training and for validation: `fraction` of each (language, label) group, at least one sample
    from groups of three or more, none from smaller ones (they are all needed for training)."""
    if fraction <= 0:
        return list(range(len(keys))), []
    groups: dict[tuple[str, str], list[int]] = {}
    for position, key in enumerate(keys):
        groups.setdefault(key, []).append(position)
    held: set[int] = set()
    rng = np.random.default_rng(seed)
    for key in sorted(groups):
        members = groups[key]
        if len(members) < 3:
            continue
        n = min(len(members) - 1, max(1, round(len(members) * fraction)))
        held.update(members[i] for i in rng.permutation(len(members))[:n])
    train = [i for i in range(len(keys)) if i not in held]
    return train, sorted(held)

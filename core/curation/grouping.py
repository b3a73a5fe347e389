"""Near-duplicate groups that cannot chain.

Single linkage (join whatever is close to anything in the group) lets a series of close pairs chain a whole cell
together, and multilingual-e5's similarities sit in a narrow band, so chains are real. Leader clustering avoids
that: items are visited in priority order; each joins the first leader it is close enough to, or becomes a leader
itself. Every member is within the threshold of its group's leader, never merely of another member.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class Group:
    leader: int  # index of the representative
    members: list[tuple[int, float]] = field(default_factory=list)  # (index, similarity to the leader)


def centrality(vectors: np.ndarray) -> np.ndarray:
    """Mean cosine similarity of each (L2-normalised) vector to all the others."""
    if len(vectors) <= 1:
        return np.zeros(len(vectors), dtype=np.float32)
    total = vectors @ vectors.sum(axis=0)
    return (total - 1.0) / (len(vectors) - 1)


def leader_order(vectors: np.ndarray, preferred: list[bool]) -> list[int]:
    """Who becomes a representative first: preferred items (e.g. accepted ones) in their given order, then the
    others from the most central (the most typical text of the cell) down."""
    central = centrality(vectors)
    first = [i for i, p in enumerate(preferred) if p]
    rest = sorted((i for i, p in enumerate(preferred) if not p), key=lambda i: (-float(central[i]), i))
    return first + rest


def leader_groups(vectors: np.ndarray, threshold: float, order: list[int] | None = None) -> list[Group]:
    """Groups of items whose cosine similarity to their leader is >= threshold (vectors L2-normalised).

    Every item appears in exactly one group; singletons are groups without members. Cost: O(items x leaders).
    """
    n = len(vectors)
    order = list(range(n)) if order is None else order
    if sorted(order) != list(range(n)):
        raise ValueError("order must be a permutation of the items")
    groups: list[Group] = []
    leader_vectors = np.empty_like(vectors)  # the first len(groups) rows are the leaders' vectors
    for index in order:
        if groups:
            similarities = leader_vectors[: len(groups)] @ vectors[index]
            best = int(np.argmax(similarities))
            if similarities[best] >= threshold:
                groups[best].members.append((index, float(similarities[best])))
                continue
        leader_vectors[len(groups)] = vectors[index]
        groups.append(Group(leader=index))
    return groups

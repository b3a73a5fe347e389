"""Near-duplicate groups that cannot chain.

Single linkage (join whatever is close to anything in the group) lets a series of close pairs chain a whole cell
together, and multilingual-e5's similarities sit in a narrow band, so chains are real. Leader clustering avoids
that: items are visited in priority order; each joins the most similar leader it is close enough to, or becomes a
leader itself. Every member is within the threshold of its group's leader, never merely of another member.
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


def leader_groups(
    vectors: np.ndarray, threshold: float, order: list[int] | None = None, *, block: int = 1024
) -> list[Group]:
    """Groups of items whose cosine similarity to their leader is >= threshold (vectors L2-normalised).

    Every item appears in exactly one group; singletons are groups without members. The result is exactly that of
    visiting the items one by one in `order`; the work is done a block of items at a time with matrix products
    against the leaders found so far (column chunks bound the memory), so it is never an N x N matrix.
    """
    n = len(vectors)
    order = list(range(n)) if order is None else list(order)
    if len(order) != n or sorted(order) != list(range(n)):
        raise ValueError("order must be a permutation of the items")
    if n == 0:
        return []
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    ordered = vectors[order]
    leader_vectors = np.empty_like(vectors)  # the first `leaders` rows are the leaders' vectors, in creation order
    leader_items: list[int] = []
    groups: list[Group] = []
    for start in range(0, n, block):
        rows = ordered[start : start + block]
        best_sim, best_leader = _best_leaders(rows, leader_vectors[: len(leader_items)])
        within = rows @ rows.T  # columns of rows that did not become leaders are masked out as we go
        group_of_row = np.empty(len(rows), dtype=np.int64)
        new_rows: list[int] = []
        first_new = len(leader_items)
        for r in range(len(rows)):
            similarity, leader = float(best_sim[r]), int(best_leader[r])
            if new_rows:
                j = int(np.argmax(within[r, :r]))  # only this block's leaders are left unmasked
                if within[r, j] > similarity:
                    similarity, leader = float(within[r, j]), int(group_of_row[j])
            item = order[start + r]
            if similarity >= threshold:
                groups[leader].members.append((item, similarity))
                within[:, r] = -np.inf
            else:
                group_of_row[r] = len(groups)
                new_rows.append(r)
                groups.append(Group(leader=item))
        leader_vectors[first_new : first_new + len(new_rows)] = rows[new_rows]
        leader_items.extend(order[start + r] for r in new_rows)
    return groups


def _best_leaders(rows: np.ndarray, leaders: np.ndarray, chunk: int = 32768) -> tuple[np.ndarray, np.ndarray]:
    """For each row, the most similar leader (first one on ties) and its similarity; -inf when there is none."""
    best_sim = np.full(len(rows), -np.inf, dtype=np.float32)
    best_leader = np.full(len(rows), -1, dtype=np.int64)
    for start in range(0, len(leaders), chunk):
        similarities = rows @ leaders[start : start + chunk].T
        local = similarities.argmax(axis=1)
        values = similarities[np.arange(len(rows)), local]
        better = values > best_sim
        best_sim[better] = values[better]
        best_leader[better] = local[better] + start
    return best_sim, best_leader

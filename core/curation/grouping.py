"""Near-duplicate groups that cannot chain.

Single linkage (join whatever is close to anything in the group) lets a series of close pairs chain a whole cell
together, and multilingual-e5's similarities sit in a narrow band, so chains are real. Leader clustering avoids
that: items are visited in priority order; each joins the most similar leader it is close enough to, or becomes a
leader itself. Every member is within the threshold of its group's leader, never merely of another member.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from core.curation.cell_join import CellParams, close_pairs

# Below this many items a scope is grouped exactly (every item against every leader so far: a few seconds at 20k,
# growing as about N^1.8); from there on, on the close pairs an inverted-file index finds (core/curation/cell_join.py:
# near-linear; the samples it flags differ from exact grouping's on under 0.02% in the tests and measurements there).
EXACT_LIMIT = 20_000


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


@dataclass(frozen=True)
class Members:
    """The members of leader groups, one entry per member: its index, its leader's index and their similarity;
    grouped by leader in the order the leaders were found, members in the order they joined (the order of
    `leader_groups`'s groups and members). Leaders without members do not appear."""

    items: np.ndarray  # int64
    leaders: np.ndarray  # int64
    similarities: np.ndarray  # float32

    @classmethod
    def of_groups(cls, groups: list[Group], index: np.ndarray | None = None) -> Members:
        """From `leader_groups`'s result; `index` maps its indices to others (e.g. rows of a larger array)."""
        items = np.array([m for g in groups for m, _ in g.members], dtype=np.int64)
        leaders = np.array([g.leader for g in groups for _ in g.members], dtype=np.int64)
        similarities = np.array([s for g in groups for _, s in g.members], dtype=np.float32)
        if index is not None:
            items, leaders = index[items], index[leaders]
        return cls(items, leaders, similarities)


def near_duplicate_members(
    vectors: np.ndarray,
    rows: Sequence[int] | np.ndarray,
    preferred: list[bool],
    threshold: float,
    *,
    exact_limit: int = EXACT_LIMIT,
    params: CellParams | None = None,
) -> Members:
    """Leader groups of these rows of `vectors` (one scope), visited in `leader_order`; indices are rows of
    `vectors`. Fewer than `exact_limit` rows: `leader_groups`, exact. More: `cell_leader_members`, the same rule and
    order decided on the close pairs found cell by cell, without copying the rows (a whole project's vectors are
    most of the memory)."""
    rows = np.asarray(rows, dtype=np.int64)
    if len(rows) < exact_limit:
        scope_vectors = vectors[rows]
        order = leader_order(scope_vectors, preferred)
        return Members.of_groups(leader_groups(scope_vectors, threshold, order), rows)
    central = _centrality_of_rows(vectors, rows)
    preferred_mask = np.asarray(preferred, dtype=bool)
    positions = np.arange(len(rows))
    rest = positions[~preferred_mask]
    rest = rest[np.lexsort((rest, -central[rest]))]  # leader_order's order: the most central first, then by index
    order = rows[np.concatenate([positions[preferred_mask], rest])]
    return cell_leader_members(vectors, threshold, order, params=params)


def _centrality_of_rows(vectors: np.ndarray, rows: np.ndarray, chunk: int = 16384) -> np.ndarray:
    """`centrality(vectors[rows])` to the last bit, a chunk of rows at a time (numpy sums axis 0 row after row)."""
    if len(rows) <= 1:
        return np.zeros(len(rows), dtype=np.float32)
    total = np.zeros(vectors.shape[1], dtype=np.float32)
    for start in range(0, len(rows), chunk):
        part = np.asarray(vectors[rows[start : start + chunk]], dtype=np.float32)
        total = np.add.reduce(np.concatenate([total[None, :], part]), axis=0)
    dots = [np.asarray(vectors[rows[s : s + chunk]], dtype=np.float32) @ total for s in range(0, len(rows), chunk)]
    return (np.concatenate(dots) - 1.0) / (len(rows) - 1)


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


def cell_leader_members(
    vectors: np.ndarray, threshold: float, order: Sequence[int] | np.ndarray, *, params: CellParams | None = None
) -> Members:
    """`leader_groups` over the rows of `vectors` listed in `order` (all of them or a subset), decided on the
    pairs within the threshold that `close_pairs` finds (cell by cell, exact similarities). With every such pair
    found this is exactly `leader_groups`: an item joins the most similar earlier leader among its close pairs
    (the earliest on ties), else leads. A missed pair changes the result only when it was the item's only link
    to a leader."""
    order = np.asarray(order, dtype=np.int64)
    n = len(order)
    if n and (len(np.unique(order)) != n or order.min() < 0 or order.max() >= len(vectors)):
        raise ValueError("order must list distinct rows of the vectors")
    if n < 2:
        return Members(np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, np.float32))
    status = np.ones(n, dtype=np.int8)  # 1: leads, 0: joined a leader, -1: not decided yet
    leader = np.full(n, -1, dtype=np.int64)
    best = np.zeros(n, dtype=np.float32)
    for later, earlier, similarity in close_pairs(vectors, order, threshold, params or CellParams()):
        ranked = np.lexsort((earlier, later))  # by item in visiting order, its earlier neighbours earliest first
        later, earlier, similarity = later[ranked], earlier[ranked], similarity[ranked]
        _decide(status, later, earlier)
        # each member joins its most similar leading neighbour (the earliest on ties: `leader_groups`'s argmax)
        joins = np.flatnonzero((status[earlier] == 1) & (status[later] == 0))
        joins = joins[np.lexsort((earlier[joins], -similarity[joins], later[joins]))]
        first = joins[np.flatnonzero(np.diff(later[joins], prepend=-1))]
        leader[later[first]], best[later[first]] = earlier[first], similarity[first]
    members = np.flatnonzero(status == 0)
    members = members[np.lexsort((members, leader[members]))]  # leaders in creation order, then joining order
    return Members(order[members], order[leader[members]], best[members])


def _decide(status: np.ndarray, later: np.ndarray, earlier: np.ndarray, rounds: int = 64) -> None:
    """Who leads among the items with close earlier neighbours (these pairs sorted by `later`; the items before
    them already decided): an item joins a group when one of its earlier neighbours leads, else it leads. Decided in
    rounds over every undecided item at once (a round settles each item whose neighbours are settled: chains of
    close items take one round per link), the last few one by one in visiting order."""
    starts = np.flatnonzero(np.diff(later, prepend=-1))
    items, lengths = later[starts], np.diff(np.append(starts, len(later)))
    status[items] = -1
    for _ in range(rounds):
        if len(items) == 0:
            return
        neighbour = status[earlier]
        joins = np.logical_or.reduceat(neighbour == 1, starts)
        leads = ~joins & ~np.logical_or.reduceat(neighbour == -1, starts)
        status[items[joins]] = 0
        status[items[leads]] = 1
        left = ~(joins | leads)
        earlier = earlier[np.repeat(left, lengths)]
        items, lengths = items[left], lengths[left]
        starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
    for item, a, b in zip(items.tolist(), starts.tolist(), (starts + lengths).tolist(), strict=True):
        status[item] = 0 if (status[earlier[a:b]] == 1).any() else 1


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

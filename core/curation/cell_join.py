"""Every pair of items within the similarity threshold, found cell by cell (an inverted-file index).

The items are partitioned into cells of a few hundred by a two-level spherical k-means (a few dozen top cells,
each split into leaves), fitted on samples. Each item is compared, with exact float32 matrix products, against
the earlier items whose own cell is among its `probes` nearest cells (a further cell only when it is nearly as
near as its own: `margin`). Near-duplicates sit close to each other and so, almost always, in one cell or in
neighbouring ones: a pair is missed only when the earlier item's cell is not among the later item's nearest. The
items near the centre of everything gather in a few crowded cells that many items have as their next nearest;
those are split again (`crowded`), so that the work stays about probes x cell size dot products per item (linear
in the number of items), done as matrix products (what a CPU does fastest) by a thread per core, with no copy of
the vectors. An HNSW index (usearch, int8) measured on the same vectors took several times the CPU and missed more.

Measured on embedding-like vectors (tests/curation/embedding_like.py) at 0.97, against exact grouping: the samples
flagged differ on 0.002% of 50,000 (tests/curation/test_ann_grouping.py) and 0.018% of 100,000; 1,000,000 take
about 30 CPU-seconds (bench/bench_grouping.py).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from typing import TypeVar

import numpy as np
from threadpoolctl import threadpool_limits


@dataclass(frozen=True)
class CellParams:
    """The partition's settings (see the module's docstring for what the defaults miss). Measured at 100,000:
    comparing with the leaves of 5 top cells rather than 3 found most of what 3 missed (0.018% of the samples
    flagged differ from exact grouping, 0.070% with 3); the margin took a third of the CPU (12 more samples
    differing of 100,000), the split of crowded leaves 40% of the candidate search's products (none)."""

    cell: int = 256  # items per leaf cell, on average
    probes: int = 3  # leaf cells each item is compared with: its own and the next nearest
    top_probes: int = 5  # top-level cells whose leaves are considered for those
    # a leaf beyond the item's own is compared only when the item is at most this much less similar to its centre
    # than to its own leaf's: leaves near the centre of everything are the next nearest of a great many items
    margin: float = 0.03
    # a leaf with more than this many times `cell` items (those near the centre of everything gather in a few) is
    # split in sub-leaves: whoever probes it probes its nearest sub-leaves instead, as many as `probes`
    crowded: float = 3.0
    iterations: int = 4  # k-means rounds
    seed: int = 0
    chunk: int = 262144  # items whose pairs are found (and kept) at a time
    workers: int = 0  # threads (numpy's matrix products release the GIL); 0: one per core


Pairs = tuple[np.ndarray, np.ndarray, np.ndarray]  # (later, earlier, similarity)
_Item = TypeVar("_Item")
_Result = TypeVar("_Result")
Run = Callable[[Callable[[_Item], _Result], Iterable[_Item]], list[_Result]]
_BLOCK = 8192  # items assigned to cells at a time


def close_pairs(vectors: np.ndarray, order: np.ndarray, threshold: float, params: CellParams) -> Iterator[Pairs]:
    """Pairs of positions in `order` (the items are the rows `vectors[order]`) whose cosine similarity is >=
    threshold: (later, earlier, similarity), each pair once, `later` > `earlier`. They come in runs of
    consecutive `later` positions (`params.chunk` at a time, in visiting order), which bounds the memory they
    take however many there are."""
    n = len(order)
    rng = np.random.default_rng(params.seed)
    leaves = max(1, round(n / params.cell))
    top_count = max(1, round(np.sqrt(leaves)))
    with _workers(params.workers) as run:
        top = _kmeans(_rows(vectors, order[_sample(n, 256 * top_count, rng)]), top_count, params.iterations, rng)
        top_near = _nearest(vectors, order, top, min(params.top_probes, top_count), run)
        # leaves of each top cell, fitted on its own items (split in proportion to its size)
        own_top = top_near[:, 0]
        by_top = np.argsort(own_top, kind="stable")
        top_starts = np.searchsorted(own_top[by_top], np.arange(top_count + 1))
        leaf_centres: list[np.ndarray] = []
        first_leaf = [0]
        for t in range(top_count):
            own = by_top[top_starts[t] : top_starts[t + 1]]
            k = max(1, min(len(own), round(len(own) / params.cell)))
            if len(own):
                sample = np.sort(own[_sample(len(own), 64 * k, rng)])
                leaf_centres.append(_kmeans(_rows(vectors, order[sample]), k, params.iterations, rng))
            else:
                leaf_centres.append(top[t : t + 1])
            first_leaf.append(first_leaf[-1] + len(leaf_centres[-1]))
        del own_top, by_top
        near_leaf = _nearest_leaves(vectors, order, top_near, leaf_centres, first_leaf, params, run)
        del top_near
        own, probes, leaves = _split_crowded(vectors, order, near_leaf, first_leaf[-1], params, rng, run)
        del near_leaf
        yield from _join(vectors, order, own, probes, leaves, threshold, params.chunk, run)


@contextmanager
def _workers(count: int) -> Iterator[Run]:
    """`run(task, items)`: the tasks' results in order, done by a pool of threads, each running one-threaded matrix
    products (BLAS threads on top would compete for the same cores and spin)."""
    count = count or (len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)
    with threadpool_limits(limits=1, user_api="blas"), ThreadPoolExecutor(max(1, count)) as pool:

        def run(task: Callable[[_Item], _Result], items: Iterable[_Item]) -> list[_Result]:
            return list(pool.map(task, items))

        yield run


def _sample(n: int, size: int, rng: np.random.Generator) -> np.ndarray:
    return np.sort(rng.choice(n, size, replace=False)) if size < n else np.arange(n)


def _rows(vectors: np.ndarray, rows: np.ndarray) -> np.ndarray:
    return np.asarray(vectors[rows], dtype=np.float32)


def _kmeans(sample: np.ndarray, k: int, iterations: int, rng: np.random.Generator) -> np.ndarray:
    """Spherical k-means: unit centroids."""
    centres = sample[rng.choice(len(sample), k, replace=False)].copy()
    for _ in range(iterations):
        assign = (sample @ centres.T).argmax(axis=1)
        by_centre = np.argsort(assign, kind="stable")
        counts = np.bincount(assign, minlength=k)
        starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
        filled = counts > 0
        sums = np.add.reduceat(sample[by_centre], starts[filled], axis=0)
        norms = np.linalg.norm(sums, axis=1, keepdims=True)
        centres[filled] = sums / np.where(norms == 0, 1, norms)
    return centres


def _nearest(vectors: np.ndarray, order: np.ndarray, centres: np.ndarray, count: int, run: Run) -> np.ndarray:
    """For each position, its `count` most similar centres, the most similar first."""
    out = np.empty((len(order), count), dtype=np.int32)

    def part(start: int) -> None:
        similarities = _rows(vectors, order[start : start + _BLOCK]) @ centres.T
        out[start : start + _BLOCK] = _top(similarities, count)

    run(part, range(0, len(order), _BLOCK))
    return out


def _top(similarities: np.ndarray, count: int) -> np.ndarray:
    """Each row's `count` largest columns, the largest first (the first column among equals): `count` passes of
    argmax, which beat a partition for the few that are asked for."""
    if count >= similarities.shape[1]:
        return np.argsort(-similarities, axis=1, kind="stable")
    left = similarities.copy() if count > 1 else similarities
    best = np.empty((len(similarities), count), dtype=np.int64)
    rows = np.arange(len(similarities))
    for k in range(count):
        best[:, k] = left.argmax(axis=1)
        if k + 1 < count:
            left[rows, best[:, k]] = -np.inf
    return best


def _nearest_leaves(
    vectors: np.ndarray,
    order: np.ndarray,
    top_near: np.ndarray,
    leaf_centres: list[np.ndarray],
    first_leaf: list[int],
    params: CellParams,
    run: Run,
) -> np.ndarray:
    """For each item, its `params.probes` most similar leaves among those of its nearest top cells (global leaf
    numbers, the most similar first; the first is the item's own cell), -1 where a leaf is beyond the margin or
    there are fewer leaves: n x probes, int32."""
    n, width = top_near.shape
    probes = min(params.probes, sum(len(centres) for centres in leaf_centres))
    near = np.empty((n, probes), dtype=np.int32)

    def part(start: int) -> None:
        tops = top_near[start : start + _BLOCK]
        rows = _rows(vectors, order[start : start + _BLOCK])
        # each top cell's best leaves for the items near it, then the best of those
        similarities = np.full((len(rows), width * probes), -np.inf, dtype=np.float32)
        leaf = np.full(similarities.shape, -1, dtype=np.int32)
        flat = tops.ravel()
        by_top = np.argsort(flat, kind="stable")  # (item, rank) entries by top cell
        starts = np.searchsorted(flat[by_top], np.arange(len(leaf_centres) + 1))
        for t in np.flatnonzero(np.diff(starts)):
            who, rank = np.divmod(by_top[starts[t] : starts[t + 1]], width)  # the items near top cell t
            block = rows[who] @ leaf_centres[t].T
            best = _top(block, min(probes, block.shape[1]))
            columns = rank[:, None] * probes + np.arange(best.shape[1])  # the rank's own columns
            similarities[who[:, None], columns] = np.take_along_axis(block, best, axis=1)
            leaf[who[:, None], columns] = best + first_leaf[t]
        best = _top(similarities, probes)
        best_leaf = np.take_along_axis(leaf, best, axis=1)
        best_sim = np.take_along_axis(similarities, best, axis=1)
        best_leaf[best_sim < best_sim[:, :1] - params.margin] = -1  # -inf (no leaf) included
        near[start : start + _BLOCK] = best_leaf

    run(part, range(0, n, _BLOCK))
    return near


def _split_crowded(
    vectors: np.ndarray,
    order: np.ndarray,
    near_leaf: np.ndarray,
    leaves: int,
    params: CellParams,
    rng: np.random.Generator,
    run: Run,
) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray], int]:
    """Each item's own leaf, the probes as (leaf, item) sorted by leaf then item, and the number of leaves, once the
    crowded leaves are split (k-means on their own items; see CellParams.crowded)."""
    width = near_leaf.shape[1]
    own = near_leaf[:, 0].copy()
    flat = near_leaf.ravel()
    valid = np.flatnonzero(flat >= 0)
    probe_leaf, probe_item = flat[valid], (valid // width).astype(np.int32)
    del flat, valid
    by_own = np.argsort(own, kind="stable")
    own_starts = np.searchsorted(own[by_own], np.arange(leaves + 1))
    sizes = np.diff(own_starts)
    crowded = np.flatnonzero(sizes > params.crowded * params.cell)
    if len(crowded) == 0:
        ranked = np.lexsort((probe_item, probe_leaf))
        return own, (probe_leaf[ranked], probe_item[ranked]), leaves
    is_crowded = np.zeros(leaves, dtype=bool)
    is_crowded[crowded] = True
    hit = is_crowded[probe_leaf]
    hit_leaf, hit_item = probe_leaf[hit], probe_item[hit]
    by_hit = np.argsort(hit_leaf, kind="stable")  # items ascending within a leaf
    hit_starts = np.searchsorted(hit_leaf[by_hit], np.arange(leaves + 1))
    seeds = rng.integers(0, 2**63, len(crowded))

    def split(job: tuple[int, int]) -> tuple[np.ndarray, np.ndarray, int]:
        leaf, seed = job
        local = np.random.default_rng(seed)
        members = by_own[own_starts[leaf] : own_starts[leaf + 1]]
        k = max(2, round(len(members) / params.cell))
        sample = np.sort(members[_sample(len(members), 64 * k, local)])
        centres = _kmeans(_rows(vectors, order[sample]), k, params.iterations, local)
        items = hit_item[by_hit[hit_starts[leaf] : hit_starts[leaf + 1]]]
        nearest = np.empty((len(items), min(params.probes, k)), dtype=np.int32)
        for start in range(0, len(items), _BLOCK):
            similarities = _rows(vectors, order[items[start : start + _BLOCK]]) @ centres.T
            best = _top(similarities, nearest.shape[1])
            best_sim = np.take_along_axis(similarities, best, axis=1)
            nearest[start : start + _BLOCK] = np.where(best_sim >= best_sim[:, :1] - params.margin, best, -1)
        return items, nearest, k

    results = run(split, list(zip(crowded.tolist(), seeds.tolist(), strict=True)))
    leaf_parts, item_parts = [probe_leaf[~hit]], [probe_item[~hit]]
    first = leaves
    for leaf, (items, nearest, k) in zip(crowded.tolist(), results, strict=True):
        own_items = items[own[items] == leaf]
        own[own_items] = first + nearest[own[items] == leaf, 0]
        chosen = nearest >= 0
        leaf_parts.append((first + nearest[chosen]).astype(own.dtype))
        item_parts.append(np.broadcast_to(items[:, None], nearest.shape)[chosen])
        first += k
    probe_leaf, probe_item = np.concatenate(leaf_parts), np.concatenate(item_parts)
    ranked = np.lexsort((probe_item, probe_leaf))
    return own, (probe_leaf[ranked], probe_item[ranked]), first


def _join(
    vectors: np.ndarray,
    order: np.ndarray,
    own: np.ndarray,
    probes: tuple[np.ndarray, np.ndarray],
    leaves: int,
    threshold: float,
    chunk: int,
    run: Run,
) -> Iterator[Pairs]:
    n = len(own)
    members = np.argsort(own, kind="stable").astype(np.int32)  # positions by own leaf, ascending within a leaf
    member_starts = np.searchsorted(own[members], np.arange(leaves + 1))
    probe_leaf, probing = probes  # positions by probed leaf, ascending within one
    probe_starts = np.searchsorted(probe_leaf, np.arange(leaves + 1))
    limit = np.float32(threshold)  # the smallest float32 >= threshold: compared in float32 as if in float64
    if float(limit) < threshold:
        limit = np.nextafter(limit, np.float32(np.inf))
    cells = _Cells(vectors, order, members, member_starts, probing, probe_starts, limit)
    for first in range(0, n, chunk):
        found = [p for p in run(partial(cells.pairs, first=first, last=min(n, first + chunk)), range(leaves)) if p]
        if found:
            later, earlier, similarity = (np.concatenate([pairs[i] for pairs in found]) for i in range(3))
            del found  # not kept while the pairs are used
            yield later, earlier, similarity


@dataclass(frozen=True)
class _Cells:
    vectors: np.ndarray
    order: np.ndarray
    members: np.ndarray  # positions by own leaf, ascending within a leaf
    member_starts: np.ndarray
    probing: np.ndarray  # positions by probed leaf, ascending within one
    probe_starts: np.ndarray
    limit: np.float32

    def pairs(self, leaf: int, *, first: int, last: int) -> Pairs | None:
        """The close pairs of the leaf's items with the items in [first, last) that probe it (the later ones)."""
        leaf_members = self.members[self.member_starts[leaf] : self.member_starts[leaf + 1]]
        cell = leaf_members[: np.searchsorted(leaf_members, last - 1)]  # only earlier items can be led
        if len(cell) == 0:
            return None
        queries = self.probing[self.probe_starts[leaf] : self.probe_starts[leaf + 1]]
        queries = queries[np.searchsorted(queries, max(first, int(cell[0]) + 1)) : np.searchsorted(queries, last)]
        if len(queries) == 0:
            return None
        cell_vectors = _rows(self.vectors, self.order[cell])
        step = int(np.clip(2_000_000 // len(cell), 64, 256))  # a few queries at a time: a block of <= 12 MB
        later, earlier, similarity = [], [], []
        for start in range(0, len(queries), step):
            part = queries[start : start + step]
            before = int(np.searchsorted(cell, part[-1]))  # the cell's items visited before the part's last
            similarities = _rows(self.vectors, self.order[part]) @ cell_vectors[:before].T
            q, c = np.nonzero(similarities >= self.limit)
            keep = cell[c] < part[q]  # each pair once, from the later item
            q, c = q[keep], c[keep]
            later.append(part[q])
            earlier.append(cell[c])
            similarity.append(similarities[q, c])
        if not sum(len(p) for p in later):
            return None
        return np.concatenate(later), np.concatenate(earlier), np.concatenate(similarity)

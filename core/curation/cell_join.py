"""Every pair of items within the similarity threshold, found cell by cell (an inverted-file index).

The items are partitioned into cells of a few hundred by a two-level spherical k-means (a few dozen top cells,
each split into leaves), fitted on samples. Each item is compared, with exact float32 matrix products, against
the earlier items whose own cell is among its `probes` nearest cells. Near-duplicates sit close to each other and
so, almost always, in one cell or in neighbouring ones: a pair is missed only when the earlier item's cell is not
among the later item's nearest. The work is about probes x cell size dot products per item (linear in the number
of items), done as large matrix products (what a CPU does fastest), with no copy of the vectors; an HNSW index
(usearch, int8) measured on the same vectors took several times the CPU and missed more.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class CellParams:
    """The partition's settings. With the defaults, the samples flagged differ from exact grouping on 0.008% of
    50,000 embedding-like vectors at 0.97 (tests/curation/test_ann_grouping.py), and on 0.06% (0.97) and 0.16%
    (0.95) of 8,000 multilingual-e5 vectors of the paper's texts; cells of 384 compared with 2 leaves missed 4x
    more for the same work."""

    cell: int = 256  # items per leaf cell, on average
    probes: int = 3  # leaf cells each item is compared with: its own and the next nearest
    top_probes: int = 3  # top-level cells whose leaves are considered for those
    iterations: int = 4  # k-means rounds
    seed: int = 0
    chunk: int = 131072  # items whose pairs are found (and kept) at a time


Pairs = tuple[np.ndarray, np.ndarray, np.ndarray]  # (later, earlier, similarity)


def close_pairs(vectors: np.ndarray, order: np.ndarray, threshold: float, params: CellParams) -> Iterator[Pairs]:
    """Pairs of positions in `order` (the items are the rows `vectors[order]`) whose cosine similarity is >=
    threshold: (later, earlier, similarity), each pair once, `later` > `earlier`. They come in runs of
    consecutive `later` positions (`params.chunk` at a time, in visiting order), which bounds the memory they
    take however many there are."""
    n = len(order)
    rng = np.random.default_rng(params.seed)
    leaves = max(1, round(n / params.cell))
    top_count = max(1, round(np.sqrt(leaves)))
    top = _kmeans(_rows(vectors, order, _sample(n, 256 * top_count, rng)), top_count, params.iterations, rng)
    top_near = _nearest(vectors, order, np.arange(n), top, min(params.top_probes, top_count))
    # leaves of each top cell, fitted on its own items (split in proportion to its size)
    leaf_centres: list[np.ndarray] = []
    first_leaf = [0]
    for t in range(top_count):
        own = np.flatnonzero(top_near[:, 0] == t)
        k = max(1, min(len(own), round(len(own) / params.cell)))
        if len(own):
            sample = own[_sample(len(own), 64 * k, rng)]
            leaf_centres.append(_kmeans(_rows(vectors, order, sample), k, params.iterations, rng))
        else:
            leaf_centres.append(top[t : t + 1])
        first_leaf.append(first_leaf[-1] + len(leaf_centres[-1]))
    near_leaf = _nearest_leaves(vectors, order, top_near, leaf_centres, first_leaf, params.probes)
    del top_near
    yield from _join(vectors, order, near_leaf, first_leaf[-1], threshold, params.chunk)


def _sample(n: int, size: int, rng: np.random.Generator) -> np.ndarray:
    return np.sort(rng.choice(n, size, replace=False)) if size < n else np.arange(n)


def _rows(vectors: np.ndarray, order: np.ndarray, positions: np.ndarray) -> np.ndarray:
    return np.asarray(vectors[order[positions]], dtype=np.float32)


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


def _nearest(
    vectors: np.ndarray, order: np.ndarray, positions: np.ndarray, centres: np.ndarray, count: int
) -> np.ndarray:
    """For each position, its `count` most similar centres, the most similar first."""
    out = np.empty((len(positions), count), dtype=np.int64)
    for start in range(0, len(positions), 16384):
        similarities = _rows(vectors, order, positions[start : start + 16384]) @ centres.T
        out[start : start + 16384] = _top(similarities, count)
    return out


def _top(similarities: np.ndarray, count: int) -> np.ndarray:
    if count < similarities.shape[1]:
        best = np.argpartition(-similarities, count - 1, axis=1)[:, :count]
    else:
        best = np.broadcast_to(np.arange(similarities.shape[1]), similarities.shape).copy()
    ranked = np.argsort(-np.take_along_axis(similarities, best, axis=1), axis=1, kind="stable")
    return np.take_along_axis(best, ranked, axis=1)


def _nearest_leaves(
    vectors: np.ndarray,
    order: np.ndarray,
    top_near: np.ndarray,
    leaf_centres: list[np.ndarray],
    first_leaf: list[int],
    probes: int,
) -> np.ndarray:
    """For each item, its `probes` most similar leaves among those of its nearest top cells (global leaf numbers,
    the most similar first; the first is the item's own cell), kept as a running best: n x probes, never more."""
    n = len(top_near)
    best_leaf = np.full((n, probes), -1, dtype=np.int32)
    best_sim = np.full((n, probes), -np.inf, dtype=np.float32)
    for t, centres in enumerate(leaf_centres):
        items = np.flatnonzero((top_near == t).any(axis=1))
        for start in range(0, len(items), 16384):
            part = items[start : start + 16384]
            similarities = _rows(vectors, order, part) @ centres.T
            top = _top(similarities, min(probes, len(centres)))
            leaf = np.concatenate([best_leaf[part], (top + first_leaf[t]).astype(np.int32)], axis=1)
            sim = np.concatenate([best_sim[part], np.take_along_axis(similarities, top, axis=1)], axis=1)
            keep = _top(sim, probes)
            best_leaf[part] = np.take_along_axis(leaf, keep, axis=1)
            best_sim[part] = np.take_along_axis(sim, keep, axis=1)
    width = int((best_leaf >= 0).sum(axis=1).min())  # every item has at least this many leaves to compare with
    return best_leaf[:, : max(1, width)].astype(np.int64)


def _join(
    vectors: np.ndarray, order: np.ndarray, near_leaf: np.ndarray, leaves: int, threshold: float, chunk: int
) -> Iterator[Pairs]:
    n = len(near_leaf)
    own = near_leaf[:, 0]
    members = np.argsort(own, kind="stable")  # positions by own leaf, ascending within a leaf
    member_starts = np.searchsorted(own[members], np.arange(leaves + 1))
    flat = near_leaf.ravel()
    by_leaf = np.argsort(flat, kind="stable")
    probing = (by_leaf // near_leaf.shape[1]).astype(np.int64)  # positions by probed leaf, ascending within one
    probe_starts = np.searchsorted(flat[by_leaf], np.arange(leaves + 1))
    del by_leaf, flat
    limit = np.float32(threshold)  # the smallest float32 >= threshold: compared in float32 as if in float64
    if float(limit) < threshold:
        limit = np.nextafter(limit, np.float32(np.inf))
    for first in range(0, n, chunk):
        last = min(n, first + chunk)
        later, earlier, similarity = [], [], []
        for leaf in range(leaves):
            leaf_members = members[member_starts[leaf] : member_starts[leaf + 1]]
            cell = leaf_members[: np.searchsorted(leaf_members, last - 1)]  # only earlier items can be led
            queries = probing[probe_starts[leaf] : probe_starts[leaf + 1]]
            queries = queries[np.searchsorted(queries, first) : np.searchsorted(queries, last)]
            if len(cell) == 0 or len(queries) == 0:
                continue
            cell_vectors = _rows(vectors, order, cell)
            step = max(1, 8_000_000 // len(cell))  # bound the similarity block to 32 MB
            for start in range(0, len(queries), step):
                part = queries[start : start + step]
                similarities = _rows(vectors, order, part) @ cell_vectors.T
                q, c = np.nonzero(similarities >= limit)
                keep = cell[c] < part[q]  # each pair once, from the later item
                later.append(part[q[keep]].astype(np.int32))
                earlier.append(cell[c[keep]].astype(np.int32))
                similarity.append(similarities[q[keep], c[keep]])
        if later and sum(len(part) for part in later):
            yield np.concatenate(later), np.concatenate(earlier), np.concatenate(similarity)

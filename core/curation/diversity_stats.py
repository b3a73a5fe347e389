"""How varied each (language, label) cell is, as a table that makes collapse visible.

Per cell: the number of samples, their mean pairwise cosine similarity, distinct-2 (unique subword-token bigrams
over all bigrams: the share of word pairs that are not repeats), and the number of near-duplicate groups (leader
clustering, the same as the near-duplicate flags). A generator that collapses writes the same few sentences:
similarity goes up, distinct-2 and the number of groups go down.

Raw figures depend on the encoder and the language (multilingual-e5 puts any two short texts of one language at
0.8 or more, and some languages higher than others), so each cell is also compared with the other cells of its
language: the indicator says "collapsed" or "watch" only when a cell stands out, or when near-duplicates make up
a large part of it.

The mean pairwise similarity is exact at any size and never builds an n x n matrix: for unit vectors the sum of
all pairwise dot products is |sum of vectors|^2 - n, so the mean costs one pass over the vectors.
"""

from __future__ import annotations

import random
import statistics
from collections import defaultdict
from collections.abc import Hashable, Sequence
from dataclasses import dataclass

import numpy as np

from core.curation.duplicate_flags import DEFAULT_THRESHOLD, Item
from core.curation.grouping import EXACT_LIMIT, near_duplicate_members
from core.language_names import language_name

COLLAPSE_LEVELS = ("collapsed", "watch", "ok", "too_few")  # worst first; a page colours them red, amber, -, grey


@dataclass(frozen=True)
class DiversityRules:
    """When a cell counts as collapsed. Defaults tuned on the paper's synthetic data with multilingual-e5-small
    (112 cells of 50-100 samples, 3 tasks, 8 languages): no cell collapsed, 18 to watch, among them the geography
    cells of 6 languages, whose near-duplicate groups are the same fact reworded ("Venice is built on more than
    100 small islands"); see the module docstring for why cells are compared within a language."""

    min_samples: int = 5  # fewer: no verdict ("too_few")
    collapsed_group_share: float = 0.5  # groups / samples below this: at least half the cell repeats the rest
    watch_group_share: float = 0.8
    # mean similarity this far above the median of the language's other cells
    watch_similarity_excess: float = 0.03
    # distinct-2 below this share of the median of the language's other cells
    watch_distinct_ratio: float = 0.75
    # distinct-2 falls as a cell grows (more texts, more repeated pairs): it is counted on at most this many
    # texts (a seeded random choice), so that big and small cells can be compared
    distinct_texts: int = 200
    seed: int = 0


DEFAULT_RULES = DiversityRules()


@dataclass(frozen=True)
class CellDiversity:
    language: str
    label: str
    n: int
    mean_similarity: float | None  # None for fewer than 2 samples
    distinct_2: float | None  # None when the texts have no bigram (all one token long)
    groups: int  # near-duplicate groups at `threshold`; n when every sample is distinct
    group_share: float  # groups / n: 1.0 = no near-duplicates
    reference_similarity: float | None  # median mean similarity of the language's other cells
    reference_distinct_2: float | None  # median distinct-2 of the language's other cells
    collapse: str  # one of COLLAPSE_LEVELS
    reasons: tuple[str, ...]  # plain sentences, empty when nothing stands out

    @property
    def similarity_excess(self) -> float | None:
        if self.mean_similarity is None or self.reference_similarity is None:
            return None
        return self.mean_similarity - self.reference_similarity


def mean_pairwise_similarity(vectors: np.ndarray, rows: np.ndarray | None = None) -> float | None:
    """Mean cosine similarity over all pairs of distinct rows (rows L2-normalised), exactly, in O(n x dims); of
    `vectors[rows]` when rows are given. In float64, a chunk of EXACT_LIMIT rows at a time (never a float64 copy of
    a big scope; one chunk, and so the same figure to the last bit, below that)."""
    rows = np.arange(len(vectors)) if rows is None else np.asarray(rows, dtype=np.int64)
    n = len(rows)
    if n < 2:
        return None
    total = np.zeros(vectors.shape[1], dtype=np.float64)
    squares = 0.0
    for start in range(0, n, EXACT_LIMIT):
        part = np.asarray(vectors[rows[start : start + EXACT_LIMIT]], dtype=np.float64)
        total += part.sum(axis=0)
        squares += float(np.einsum("ij,ij->", part, part))
    pair_sum = (float(total @ total) - squares) / 2
    return pair_sum / (n * (n - 1) / 2)


def distinct_n(token_rows: Sequence[Sequence[Hashable]], n: int = 2) -> float | None:
    """Unique n-grams over all n-grams, counted within each text (never across two texts)."""
    seen: set[tuple] = set()
    total = 0
    for row in token_rows:
        grams = [tuple(row[i : i + n]) for i in range(len(row) - n + 1)]
        total += len(grams)
        seen.update(grams)
    return len(seen) / total if total else None


def _sample(rows: list[Sequence[Hashable]], k: int, seed: int, key: tuple) -> list[Sequence[Hashable]]:
    if len(rows) <= k:
        return rows
    return random.Random(f"{seed}:{key}").sample(rows, k)


def _median_of_others(values: dict[tuple, float | None], key: tuple, same_language: bool) -> float | None:
    others = [v for k, v in values.items() if k != key and v is not None and (not same_language or k[0] == key[0])]
    if same_language and not others:  # a language with one label: compare with the whole project
        return _median_of_others(values, key, same_language=False)
    return statistics.median(others) if others else None


def _verdict(
    cell: tuple[str, str],
    n: int,
    groups: int,
    similarity: float | None,
    distinct: float | None,
    reference_similarity: float | None,
    reference_distinct: float | None,
    rules: DiversityRules,
) -> tuple[str, tuple[str, ...]]:
    if n < rules.min_samples:
        return "too_few", (f"Only {n} sample{'s' if n != 1 else ''}: too few to judge.",)
    where = f"'{cell[1]}' in {language_name(cell[0])}"
    share = groups / n
    reasons: list[str] = []
    level = "ok"
    if share < rules.watch_group_share:
        level = "collapsed" if share < rules.collapsed_group_share else "watch"
        reasons.append(
            f"{n - groups} of the {n} samples of {where} are near-duplicates of others: only {groups} different texts."
        )
    if (
        similarity is not None
        and reference_similarity is not None
        and similarity - reference_similarity > rules.watch_similarity_excess
    ):
        level = "watch" if level == "ok" else level
        reasons.append(
            f"The samples of {where} are more alike than those of other labels (mean similarity {similarity:.2f} "
            f"against {reference_similarity:.2f})."
        )
    if distinct is not None and reference_distinct and distinct < rules.watch_distinct_ratio * reference_distinct:
        level = "watch" if level == "ok" else level
        reasons.append(
            f"The samples of {where} repeat the same word pairs more than other labels do (distinct-2 "
            f"{distinct:.2f} against {reference_distinct:.2f})."
        )
    return level, tuple(reasons)


def diversity_table(
    items: Sequence[Item],
    vectors: np.ndarray,
    tokens: Sequence[Sequence[Hashable]],
    *,
    threshold: float = DEFAULT_THRESHOLD,
    rules: DiversityRules = DEFAULT_RULES,
) -> list[CellDiversity]:
    """One row per (language, label) cell of the labelled items, worst first.

    `vectors[i]` (L2-normalised, from the project's encoder) and `tokens[i]` (subword tokens or ids, from
    `core.curation.subword_tokens.tokens`) belong to `items[i]`. Pass the samples to compare, e.g. the synthetic
    TRAIN samples that are not rejected. Unlabelled items are left out.
    """
    if len(vectors) != len(items) or len(tokens) != len(items):
        raise ValueError(
            f"expected one vector and one token list per sample ({len(items)}), got {len(vectors)} and {len(tokens)}"
        )
    cells: dict[tuple[str, str], list[int]] = defaultdict(list)
    for position, item in enumerate(items):
        if item.label is not None:
            cells[(item.language, item.label)].append(position)
    matrix = np.asarray(vectors, dtype=np.float32)
    similarity: dict[tuple, float | None] = {}
    distinct: dict[tuple, float | None] = {}
    groups: dict[tuple, int] = {}
    for key, positions in cells.items():
        similarity[key] = mean_pairwise_similarity(matrix, np.asarray(positions))
        rows = _sample([tokens[p] for p in positions], rules.distinct_texts, rules.seed, key)
        distinct[key] = distinct_n(rows, 2)
        # the near-duplicate flags' grouping: exact below EXACT_LIMIT samples, cell by cell above (near-linear)
        members = near_duplicate_members(
            matrix, positions, [items[p].status == "accepted" for p in positions], threshold
        )
        groups[key] = len(positions) - len(members.items)  # a group per leader: the samples that are not members
    table = []
    for key, positions in cells.items():
        n = len(positions)
        reference_similarity = _median_of_others(similarity, key, same_language=True)
        reference_distinct = _median_of_others(distinct, key, same_language=True)
        level, reasons = _verdict(
            key, n, groups[key], similarity[key], distinct[key], reference_similarity, reference_distinct, rules
        )
        table.append(
            CellDiversity(
                language=key[0],
                label=key[1],
                n=n,
                mean_similarity=similarity[key],
                distinct_2=distinct[key],
                groups=groups[key],
                group_share=groups[key] / n,
                reference_similarity=reference_similarity,
                reference_distinct_2=reference_distinct,
                collapse=level,
                reasons=reasons,
            )
        )
    table.sort(
        key=lambda row: (
            COLLAPSE_LEVELS.index(row.collapse),
            row.group_share,
            -(row.similarity_excess or 0.0),
            row.language,
            row.label,
        )
    )
    return table

"""Help to pick the near-duplicate threshold by reading pairs, not by trusting a number.

Similarity scales differ by model (multilingual-e5 puts unrelated texts of one language at 0.8-0.9, other models
spread them out), so the page shows how similar each sample is to its nearest neighbour within its scope, and the
pairs just above and just below a candidate threshold. A linguist reads them and moves the threshold until the
pairs above are repeats and the pairs below are not. The choice is remembered per (project, encoder).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import numpy as np

from core.curation.duplicate_flags import DEFAULT_THRESHOLD, Item, normalised
from core.store.curation_settings import get_threshold_setting, save_threshold_setting
from core.store.database import Store
from core.store.sample_texts import items_by_id

SCOPES = ("cell", "project")


@dataclass(frozen=True)
class NeighbourPair:
    sample_id: int
    text: str
    neighbour_id: int
    neighbour_text: str
    similarity: float
    language: str
    label: str | None


@dataclass(frozen=True)
class SimilarityProfile:
    """Each sampled sample's nearest neighbour within its scope (exact repeats left out: they are 1.0 anyway)."""

    scope: str
    pairs: list[NeighbourPair]  # sorted by similarity, highest first
    sampled: int
    total: int

    @property
    def similarities(self) -> list[float]:
        return [p.similarity for p in self.pairs]

    def share_at_or_above(self, threshold: float) -> float:
        """The share of samples whose nearest neighbour is at least this similar: what the threshold would flag
        (roughly: a group's representative is counted too)."""
        if not self.pairs:
            return 0.0
        return sum(p.similarity >= threshold for p in self.pairs) / len(self.pairs)

    def around(self, threshold: float, k: int = 5) -> tuple[list[NeighbourPair], list[NeighbourPair]]:
        """The k pairs just at or above the threshold (lowest first) and the k just below it (highest first)."""
        above = sorted((p for p in self.pairs if p.similarity >= threshold), key=lambda p: p.similarity)
        below = [p for p in self.pairs if p.similarity < threshold]  # already highest first
        return _distinct(above, k), _distinct(below, k)


def _distinct(pairs: list[NeighbourPair], k: int) -> list[NeighbourPair]:
    """Mutual nearest neighbours appear twice (a->b, b->a): show each pair once."""
    seen: set[frozenset[int]] = set()
    out = []
    for pair in pairs:
        key = frozenset((pair.sample_id, pair.neighbour_id))
        if key not in seen:
            seen.add(key)
            out.append(pair)
        if len(out) == k:
            break
    return out


def _nearest(vectors: np.ndarray, rows: np.ndarray, in_scope: np.ndarray, block: int) -> tuple[np.ndarray, np.ndarray]:
    """For each of `rows` (positions among `in_scope`), the column in `in_scope` of its most similar other sample
    and that similarity; the scope's vectors are read `block` at a time (a whole project's are never copied), and a
    tie goes to the first column, as one argmax over the whole scope would have it."""
    own = np.searchsorted(in_scope, rows)
    best = np.zeros(len(rows), dtype=np.int64)
    scores = np.full(len(rows), -np.inf, dtype=np.float32)
    query = vectors[rows]
    for first in range(0, len(in_scope), block):
        similarities = query @ vectors[in_scope[first : first + block]].T
        inside = (own >= first) & (own < first + len(similarities[0]))
        similarities[np.flatnonzero(inside), own[inside] - first] = -np.inf  # not itself
        column = similarities.argmax(axis=1)
        value = similarities[np.arange(len(rows)), column]
        better = value > scores
        best[better] = column[better] + first
        scores[better] = value[better]
    return best, scores


def similarity_profile(
    items: list[Item],
    vectors: np.ndarray,
    scope: str = "cell",
    *,
    sample_size: int = 2000,
    seed: int = 0,
    block: int = 16384,
) -> SimilarityProfile:
    """Nearest neighbours of up to `sample_size` samples (seeded), each against every sample of its scope (read
    `block` samples at a time)."""
    if scope not in SCOPES:
        raise ValueError(f"scope must be one of {SCOPES}")
    cells: dict[tuple, list[int]] = defaultdict(list)
    seen_texts: set[tuple] = set()
    for position, item in enumerate(items):
        key = (item.split,) + ((item.language, item.label) if scope == "cell" else ())
        text_key = (*key, normalised(item.text))
        if text_key in seen_texts:
            continue
        seen_texts.add(text_key)
        cells[key].append(position)
    candidates = [p for positions in cells.values() if len(positions) > 1 for p in positions]
    rng = np.random.default_rng(seed)
    chosen = set(rng.choice(candidates, size=min(sample_size, len(candidates)), replace=False).tolist())
    pairs: list[NeighbourPair] = []
    for positions in cells.values():
        rows = [p for p in positions if p in chosen]
        if not rows:
            continue
        in_scope = np.asarray(positions)  # increasing: a position's column is found by bisection
        for start in range(0, len(rows), 512):
            chunk = rows[start : start + 512]
            best, scores = _nearest(vectors, np.asarray(chunk), in_scope, block)
            for r, position in enumerate(chunk):
                neighbour = items[positions[int(best[r])]]
                item = items[position]
                pairs.append(
                    NeighbourPair(
                        sample_id=item.id,
                        text=item.text,
                        neighbour_id=neighbour.id,
                        neighbour_text=neighbour.text,
                        similarity=round(float(scores[r]), 4),
                        language=item.language,
                        label=item.label,
                    )
                )
    pairs.sort(key=lambda p: (-p.similarity, p.sample_id))
    return SimilarityProfile(scope=scope, pairs=pairs, sampled=len(pairs), total=len(items))


def profile_record(profile: SimilarityProfile) -> dict[str, Any]:
    """The profile as the check job keeps it in its result: each pair's ids and similarity, highest first (the
    texts are read again when it is shown)."""
    return {
        "pairs": [[p.sample_id, p.neighbour_id, p.similarity] for p in profile.pairs],
        "total": profile.total,
    }


def stored_profile(store: Store, project_id: int, scope: str, record: dict[str, Any]) -> SimilarityProfile:
    """A profile the check job kept (`profile_record`), with the samples' texts, languages and labels as they are
    now; pairs with a sample deleted since are left out."""
    known = items_by_id(store, project_id, (i for a, b, _ in record["pairs"] for i in (a, b)))
    pairs = [
        NeighbourPair(
            sample_id=a,
            text=known[a].text,
            neighbour_id=b,
            neighbour_text=known[b].text,
            similarity=float(similarity),
            language=known[a].language,
            label=known[a].label,
        )
        for a, b, similarity in record["pairs"]
        if a in known and b in known
    ]
    return SimilarityProfile(scope=scope, pairs=pairs, sampled=len(pairs), total=int(record["total"]))


@dataclass(frozen=True)
class ThresholdChoice:
    threshold: float
    scope: str
    chosen: bool  # False: nobody chose yet, this is the studio's default


def threshold_choice(store: Store, project_id: int, encoder: str) -> ThresholdChoice:
    setting = get_threshold_setting(store, project_id, encoder)
    if setting is None:
        return ThresholdChoice(DEFAULT_THRESHOLD, "cell", chosen=False)
    return ThresholdChoice(setting.threshold, setting.scope, chosen=True)


def save_threshold_choice(store: Store, project_id: int, encoder: str, threshold: float, scope: str) -> None:
    from core.errors import InvalidInput

    if not 0 < threshold <= 1:
        raise InvalidInput("The threshold is a similarity between 0 and 1.")
    if scope not in SCOPES:
        raise InvalidInput("The scope is 'cell' (same label and language) or 'project'.")
    save_threshold_setting(store, project_id, encoder, round(float(threshold), 4), scope)

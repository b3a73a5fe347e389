"""Flags for repeats: exact duplicates, near-duplicates (embeddings), label conflicts, test contamination.

Filters never delete: each finding is a flag with a reason a non-programmer can read; people decide.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from core.curation.grouping import near_duplicate_members
from core.store import flags as stored_flags
from core.store.database import Store
from core.store.sample_texts import SampleItem, not_rejected_items

DUPLICATE_KINDS = ("exact_duplicate", "near_duplicate", "label_conflict", "test_contamination")
# multilingual-e5 puts unrelated short questions of one language at 0.95-0.97 (measured on the demo's Yoruba), so
# 0.97 is a cautious start; every encoder and language needs its own choice (threshold help: issue 5)
DEFAULT_THRESHOLD = 0.97


Item = SampleItem  # a sample as the checks read it


@dataclass
class Findings:
    flags: list[dict[str, Any]] = field(default_factory=list)

    def add(self, sample_id: int, kind: str, reason: str, *, score: float | None = None, **details: Any) -> None:
        """`score`: where the kind's ordered queue puts the flag (the higher, the sooner; core/store/ranked_queue)."""
        self.flags.append({"sample_id": sample_id, "kind": kind, "reason": reason, "details": details, "score": score})

    def count(self, kind: str) -> int:
        return sum(1 for f in self.flags if f["kind"] == kind)


def normalised(text: str) -> str:
    return " ".join(text.casefold().split())


def load_items(store: Store, project_id: int) -> list[Item]:
    """The samples the checks go through: every one not rejected, in id order."""
    return not_rejected_items(store, project_id)


def _scope_key(item: Item, scope: str) -> tuple:
    return (item.split, item.language, item.label) if scope == "cell" else (item.split,)


def _first(items: list[Item]) -> Item:
    """The representative of repeats: the earliest accepted sample, else the earliest."""
    accepted = [i for i in items if i.status == "accepted"]
    return (accepted or items)[0]


def find_exact_and_conflicts(items: list[Item], scope: str, findings: Findings) -> None:
    by_text: dict[tuple, list[Item]] = defaultdict(list)
    for item in items:
        by_text[(item.language, normalised(item.text))].append(item)
    for group in by_text.values():
        labels = {i.label for i in group if i.label}
        if len(labels) > 1:
            for item in group:
                others = sorted({f"'{o.label}' (sample #{o.id})" for o in group if o.label and o.label != item.label})
                findings.add(
                    item.id,
                    "label_conflict",
                    f"The same text is also labelled {', '.join(others)}: one of them is wrong.",
                    labels=sorted(labels),
                )
        by_scope: dict[tuple, list[Item]] = defaultdict(list)
        for item in group:
            by_scope[_scope_key(item, scope)].append(item)
        for repeats in by_scope.values():
            if len(repeats) > 1:
                keep = _first(repeats)
                for item in repeats:
                    if item.id != keep.id:
                        findings.add(
                            item.id,
                            "exact_duplicate",
                            f"Repeats sample #{keep.id} word for word.",
                            representative=keep.id,
                        )


def find_near_duplicates(
    items: list[Item], vectors: np.ndarray, threshold: float, scope: str, findings: Findings
) -> None:
    exact = {f["sample_id"] for f in findings.flags if f["kind"] == "exact_duplicate"}
    cells: dict[tuple, list[int]] = defaultdict(list)
    for position, item in enumerate(items):
        if item.id not in exact:
            cells[_scope_key(item, scope)].append(position)
    for positions in cells.values():
        if len(positions) < 2:
            continue
        preferred = [items[p].status == "accepted" for p in positions]
        members = near_duplicate_members(vectors, positions, preferred, threshold)
        for member, leader_position, similarity in zip(
            members.items.tolist(), members.leaders.tolist(), members.similarities.tolist(), strict=True
        ):
            leader = items[leader_position]
            findings.add(
                items[member].id,
                "near_duplicate",
                f"Almost the same as sample #{leader.id} (similarity {similarity:.2f}).",
                representative=leader.id,
                similarity=round(similarity, 4),
            )


# candidate x test pairs compared exactly, at most; beyond, the close pairs come from the cells of
# core/curation/cell_join.py (at 905k synthetic samples against 90k test ones the exact products took 395 CPU-s)
EXACT_CONTAMINATION_PAIRS = 400_000_000


def find_test_contamination(
    items: list[Item],
    vectors: np.ndarray,
    threshold: float,
    findings: Findings,
    *,
    exact_pairs: int = EXACT_CONTAMINATION_PAIRS,
) -> None:
    tests = np.asarray([p for p, i in enumerate(items) if i.split == "test"], dtype=np.int64)
    candidates = np.asarray(
        [p for p, i in enumerate(items) if i.origin == "synthetic" and i.split == "train"], dtype=np.int64
    )
    if not len(tests) or not len(candidates):
        return
    if len(candidates) * len(tests) <= exact_pairs:
        best_test, best_score = _closest_tests_exactly(vectors, candidates, tests)
    else:
        best_test, best_score = _closest_tests_by_cells(vectors, candidates, tests, threshold)
    for row, position in enumerate(candidates.tolist()):
        score = float(best_score[row])
        if best_test[row] >= 0 and score >= threshold:
            test_item = items[int(tests[best_test[row]])]
            findings.add(
                items[position].id,
                "test_contamination",
                f"Very close to test sample #{test_item.id} (similarity {score:.2f}): training on it "
                "would leak the evaluation.",
                test_sample=test_item.id,
                similarity=round(score, 4),
            )


def _closest_tests_exactly(
    vectors: np.ndarray, candidates: np.ndarray, tests: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """For each candidate, its most similar test (index into `tests`) and that similarity."""
    test_vectors = vectors[tests]
    best_test = np.empty(len(candidates), dtype=np.int64)
    best_score = np.empty(len(candidates), dtype=np.float32)
    for start in range(0, len(candidates), 2048):
        similarities = vectors[candidates[start : start + 2048]] @ test_vectors.T
        best_test[start : start + 2048] = similarities.argmax(axis=1)
        best_score[start : start + 2048] = similarities.max(axis=1)
    return best_test, best_score


def _closest_tests_by_cells(
    vectors: np.ndarray, candidates: np.ndarray, tests: np.ndarray, threshold: float
) -> tuple[np.ndarray, np.ndarray]:
    """The same from the close pairs of candidates and tests together: -1 where no test is within the threshold.
    Ties go to the earliest test, as with argmax."""
    from core.curation.cell_join import CellParams, close_pairs

    order = np.concatenate([candidates, tests])
    best_test = np.full(len(candidates), -1, dtype=np.int64)
    best_score = np.full(len(candidates), -np.inf, dtype=np.float32)
    for later, earlier, similarity in close_pairs(vectors, order, threshold, CellParams()):
        # a cross pair: one side a candidate (position < len(candidates)), the other a test
        low, high = np.minimum(later, earlier), np.maximum(later, earlier)
        cross = (low < len(candidates)) & (high >= len(candidates))
        if not cross.any():  # this run's close pairs are all among candidates, or among tests
            continue
        candidate, test, score = low[cross], high[cross] - len(candidates), similarity[cross]
        # best per candidate in this run: highest score, then the earliest test
        pick = np.lexsort((test, -score, candidate))
        candidate, test, score = candidate[pick], test[pick], score[pick]
        first = np.r_[True, candidate[1:] != candidate[:-1]]
        candidate, test, score = candidate[first], test[first], score[first]
        better = (score > best_score[candidate]) | (
            (score == best_score[candidate])
            & (test < np.where(best_test[candidate] < 0, len(tests), best_test[candidate]))
        )
        best_test[candidate[better]] = test[better]
        best_score[candidate[better]] = score[better]
    return best_test, best_score


def replace_flags(store: Store, project_id: int, kinds: tuple[str, ...], findings: Findings) -> None:
    """The new findings of these kinds replace the old ones, in one transaction (one flag per sample and kind)."""
    new = [
        stored_flags.NewFlag(f["sample_id"], f["kind"], f["reason"], f["details"], f.get("score"))
        for f in findings.flags
    ]
    stored_flags.replace_flags(store, project_id, kinds, new)

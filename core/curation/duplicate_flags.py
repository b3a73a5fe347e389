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

    def add(self, sample_id: int, kind: str, reason: str, **details: Any) -> None:
        self.flags.append({"sample_id": sample_id, "kind": kind, "reason": reason, "details": details})

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


def find_test_contamination(items: list[Item], vectors: np.ndarray, threshold: float, findings: Findings) -> None:
    tests = [p for p, i in enumerate(items) if i.split == "test"]
    candidates = [p for p, i in enumerate(items) if i.origin == "synthetic" and i.split == "train"]
    if not tests or not candidates:
        return
    test_vectors = vectors[tests]
    for start in range(0, len(candidates), 2048):
        chunk = candidates[start : start + 2048]
        similarities = vectors[chunk] @ test_vectors.T
        best = similarities.argmax(axis=1)
        for row, position in enumerate(chunk):
            score = float(similarities[row, best[row]])
            if score >= threshold:
                test_item = items[tests[int(best[row])]]
                findings.add(
                    items[position].id,
                    "test_contamination",
                    f"Very close to test sample #{test_item.id} (similarity {score:.2f}): training on it "
                    "would leak the evaluation.",
                    test_sample=test_item.id,
                    similarity=round(score, 4),
                )


def replace_flags(store: Store, project_id: int, kinds: tuple[str, ...], findings: Findings) -> None:
    """The new findings of these kinds replace the old ones, in one transaction (one flag per sample and kind)."""
    new = [stored_flags.NewFlag(f["sample_id"], f["kind"], f["reason"], f["details"]) for f in findings.flags]
    stored_flags.replace_flags(store, project_id, kinds, new)

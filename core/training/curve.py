"""Learning-curve mode: one job trains at several sizes per language (class-balanced, nested), as in the paper.

A size above what a language has is capped to what it has and reported; a size that would train on exactly the
same samples as the previous one is skipped (and reported).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from core.errors import InvalidInput
from core.language_names import language_name
from core.store.projects import Project
from core.training.snapshot import Candidate, Snapshot, SnapshotOptions, snapshot_from, with_budget

MAX_POINTS = 20


def parse_sizes(text: str | list[int] | tuple[int, ...]) -> list[int]:
    """'10,50,100' -> [10, 50, 100] (sorted, without repeats); every size a whole number of at least 1."""
    parts = [str(p).strip() for p in (text.split(",") if isinstance(text, str) else text)]
    parts = [p for p in parts if p]
    try:
        sizes = sorted({int(p) for p in parts})
    except ValueError:
        raise InvalidInput(
            f"Curve sizes must be whole numbers separated by commas, e.g. 10,50,100 (got '{text}')."
        ) from None
    if not sizes or sizes[0] < 1:
        raise InvalidInput("Curve sizes must be at least 1 sample per language.")
    if len(sizes) > MAX_POINTS:
        raise InvalidInput(f"A learning curve may have at most {MAX_POINTS} sizes.")
    return sizes


@dataclass(frozen=True)
class CurvePoint:
    size: int  # samples asked per language
    snapshot: Snapshot
    capped: dict[str, int] = field(default_factory=dict)  # language -> samples it had, where fewer than `size`


@dataclass(frozen=True)
class CurvePlan:
    points: list[CurvePoint]
    notes: list[str]


def plan_curve(candidates: list[Candidate], project: Project, options: SnapshotOptions, sizes: list[int]) -> CurvePlan:
    points: list[CurvePoint] = []
    notes: list[str] = []
    previous: set[int] | None = None
    for size in sizes:
        snapshot = snapshot_from(candidates, project, with_budget(options, size))
        ids = {item.sample_id for item in snapshot.items}
        if previous is not None and ids == previous:
            notes.append(f"Size {size:,} skipped: every language is already used up at {points[-1].size:,}.")
            continue
        capped = {lang: n for lang, n in snapshot.summary.by_language().items() if n < size}
        if capped:
            listed = ", ".join(f"{language_name(lang)} {n:,}" for lang, n in capped.items())
            notes.append(f"Size {size:,} is capped where a language has fewer samples: {listed}.")
        points.append(CurvePoint(size=size, snapshot=snapshot, capped=capped))
        previous = ids
    return CurvePlan(points=points, notes=notes)

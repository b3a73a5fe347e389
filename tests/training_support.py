"""Shared helpers of the training tests (no tests here): a small two-language project with learnable samples."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import pandas as pd

from core.io.importer import ColumnMapping, execute_import, plan_import
from core.store import Store
from core.store.projects import Project, create_project, get_project, parse_spec

LABELS = ("weather", "price", "disease")
LANGUAGES = ("en", "sw")
CUES = {
    "weather": ("rain", "sun", "cloud", "wind"),
    "price": ("maize", "market", "sell", "cost"),
    "disease": ("leaf", "spot", "rot", "pest"),
}


def sample_rows(train_per_cell: int = 12, test_per_cell: int = 4) -> list[dict[str, str]]:
    """Synthetic train samples (every third accepted, the rest pending), human train and human test samples."""
    rows = []
    for language in LANGUAGES:
        for label, cues in CUES.items():
            for i in range(train_per_cell):
                rows.append(
                    {
                        "text": f"{language} {cues[i % 4]} {cues[(i + 1) % 4]} synthetic {i}",
                        "label": label,
                        "language": language,
                        "split": "train",
                        "origin": "synthetic",
                        "status": "accepted" if i % 3 == 0 else "pending",
                    }
                )
            for i in range(4):
                rows.append(
                    {
                        "text": f"{cues[i]} said a person {i} {language}",
                        "label": label,
                        "language": language,
                        "split": "train",
                        "origin": "human",
                        "status": "accepted",
                    }
                )
            for i in range(test_per_cell):
                rows.append(
                    {
                        "text": f"{cues[(i + 2) % 4]} {cues[i % 4]} test {i} {language}",
                        "label": label,
                        "language": language,
                        "split": "test",
                        "origin": "human",
                        "status": "accepted",
                    }
                )
    return rows


def make_project(store: Store, encoder: Path | str, name: str = "crops", **row_options: int) -> Project:
    spec = parse_spec(
        name=name,
        labels=[{"name": label} for label in LABELS],
        languages=[{"code": code} for code in LANGUAGES],
        encoder=str(encoder),
    )
    project = create_project(store, spec)
    frame = pd.DataFrame(sample_rows(**row_options))
    mapping = ColumnMapping(text_column="text", label_column="label", language_column="language")
    plan = plan_import(store, project, frame, mapping, source="test rows")
    assert plan.ok, [p.describe() for p in plan.errors]
    execute_import(store, project, plan)
    return get_project(store, project.id)


@contextlib.contextmanager
def single_torch_thread() -> Iterator[None]:
    """Tiny models run fastest on one thread; on a busy machine more threads only wait for each other."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)

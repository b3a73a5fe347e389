"""The one interface every trainer has: fit (with progress, loss points and a cancel check), predict_proba, save,
load; and what they share: the monitor, the fit report, the trainer.json file that says how to load a model."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from core.errors import StudioError

TRAINER_FILE = "trainer.json"


@dataclass(frozen=True)
class LossPoint:
    step: int
    epoch: float
    loss: float
    split: str = "train"  # train | validation
    macro_f1: float | None = None  # validation points only

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}


def _no_progress(fraction: float, message: str) -> None:
    del fraction, message


def _no_loss(point: LossPoint) -> None:
    del point


def _no_cancel() -> None:
    return None


@dataclass
class Monitor:
    """What a trainer reports to (a job, a page, a test). `check_cancel` raises to stop the training."""

    progress: Callable[[float, str], None] = _no_progress
    loss: Callable[[LossPoint], None] = _no_loss
    check_cancel: Callable[[], None] = _no_cancel


@dataclass(frozen=True)
class Validation:
    texts: list[str]
    labels: list[str]
    languages: list[str] | None = None


@dataclass
class FitReport:
    train_samples: int
    seconds: float
    steps: int = 0
    epochs: float = 0.0
    validation: dict[str, float] | None = None  # loss, accuracy, macro_f1 on the validation part
    validation_languages: dict[str, dict[str, float]] = field(default_factory=dict)  # per language (probe, hybrid)
    device: str = "cpu"
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Trainer(Protocol):
    classes: list[str]

    @property
    def kind(self) -> str:
        """linear, hybrid or finetune (what a per-language trainer trains for each language)."""
        ...

    def fit(
        self,
        texts: list[str],
        labels: list[str],
        monitor: Monitor,
        validation: Validation | None = None,
        languages: list[str] | None = None,
    ) -> FitReport: ...

    def predict_proba(
        self,
        texts: list[str],
        progress: Callable[[float, str], None] | None = None,
        languages: list[str] | None = None,
    ) -> np.ndarray:
        """One row per text, one column per class (in `classes` order), rows sum to 1. `languages` (one code per
        text, where known) is used by per-language models; the others ignore it."""
        ...

    def save(self, folder: Path) -> None: ...

    @classmethod
    def load(cls, folder: Path) -> Trainer: ...


def class_list(labels: list[str]) -> list[str]:
    """The classes, sorted: the columns of predict_proba (the same for the same data, whatever its order)."""
    classes = sorted(set(labels))
    if len(classes) < 2:
        raise StudioError("A classifier needs samples of at least two labels.")
    return classes


def write_trainer_file(folder: Path, kind: str, classes: list[str], extra: dict[str, Any]) -> None:
    content = {"kind": kind, "classes": classes, **extra}
    (folder / TRAINER_FILE).write_text(json.dumps(content, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def read_trainer_file(folder: Path) -> dict[str, Any]:
    path = Path(folder) / TRAINER_FILE
    if not path.exists():
        raise StudioError(f"There is no trained model in {folder} (no {TRAINER_FILE}).")
    return json.loads(path.read_text(encoding="utf-8"))


def validation_scores(classes: list[str], proba: np.ndarray, labels: list[str]) -> dict[str, float]:
    """Loss (mean negative log-likelihood), accuracy and macro-F1 of predicted probabilities against labels."""
    from core.training.metrics import accuracy, macro_f1

    index = {c: i for i, c in enumerate(classes)}
    known = [i for i, label in enumerate(labels) if label in index]
    rows = proba[known]
    truth = [index[labels[i]] for i in known]
    likelihood = rows[np.arange(len(known)), truth] if known else np.ones(0)
    predicted = [classes[i] for i in rows.argmax(axis=1)] if known else []
    gold = [labels[i] for i in known]
    return {
        "loss": float(-np.log(np.clip(likelihood, 1e-12, 1.0)).mean()) if known else 0.0,
        "accuracy": accuracy(gold, predicted),
        "macro_f1": macro_f1(gold, predicted, classes),
        "samples": float(len(known)),
    }

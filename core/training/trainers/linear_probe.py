"""The linear probe: the project's sentence embeddings (frozen, cached, unit length) + logistic regression.

Seconds to train once the texts are embedded. On the paper's data, unit-length e5 embeddings with C around 3 beat
standardised ones on every task (bench/bench_training_quality.py).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import ClassVar

import numpy as np

from core.training.params import LinearParams, params_dict, saved_params_of
from core.training.trainers.base import (
    FitReport,
    Monitor,
    Validation,
    class_list,
    read_trainer_file,
    write_trainer_file,
)
from core.training.trainers.feature_head import as_dense, fit_head
from core.training.trainers.linear_model import LinearClassifier
from core.training.trainers.sentence_features import embed_texts, encoder_fingerprint

HEAD_FILE = "head.npz"


class LinearProbe:
    kind: ClassVar[str] = "linear"

    def __init__(self, params: LinearParams) -> None:
        self.params = params
        self.classes: list[str] = []
        self.head: LinearClassifier | None = None
        self.fingerprint = ""

    def _features(self, texts: list[str], progress: Callable[[float, str], None] | None = None) -> np.ndarray:
        return as_dense(embed_texts(texts, self.params.encoder, progress))

    def fit(
        self,
        texts: list[str],
        labels: list[str],
        monitor: Monitor,
        validation: Validation | None = None,
        languages: list[str] | None = None,
    ) -> FitReport:
        del languages  # one model for all languages
        started = time.monotonic()
        self.classes = class_list(labels)
        self.fingerprint = encoder_fingerprint(self.params.encoder)
        monitor.progress(0.0, f"Embedding {len(texts):,} training texts with {self.params.encoder}")
        features = self._features(texts, lambda f, m: monitor.progress(0.75 * f, m))
        self.head, report = fit_head(
            features,
            labels,
            self.classes,
            c=self.params.c,
            max_iter=self.params.max_iter,
            monitor=monitor,
            validation=validation,
            validation_features=(lambda: self._features(validation.texts)) if validation else None,
            started=started,
        )
        return report

    def predict_proba(
        self,
        texts: list[str],
        progress: Callable[[float, str], None] | None = None,
        languages: list[str] | None = None,
    ) -> np.ndarray:
        del languages
        if self.head is None:
            raise RuntimeError("predict_proba before fit or load")
        if not texts:
            return np.zeros((0, len(self.classes)))
        return self.head.predict_proba(self._features(texts, progress))

    def save(self, folder: Path) -> None:
        if self.head is None:
            raise RuntimeError("save before fit")
        self.head.save(folder / HEAD_FILE)
        write_trainer_file(
            folder,
            self.kind,
            self.classes,
            {"params": params_dict(self.params), "encoder_fingerprint": self.fingerprint},
        )

    @classmethod
    def load(cls, folder: Path) -> LinearProbe:
        content = read_trainer_file(folder)
        trainer = cls(saved_params_of(LinearParams, content["params"]))
        trainer.classes = list(content["classes"])
        trainer.fingerprint = content.get("encoder_fingerprint", "")
        trainer.head = LinearClassifier.load(folder / HEAD_FILE, trainer.classes)
        return trainer

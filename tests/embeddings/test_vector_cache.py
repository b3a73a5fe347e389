"""The vector cache's index (one sorted array of keys, plus the keys of recent shards) and its reads (no shard stays
mapped), on real files."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from core.embeddings import vector_cache
from core.embeddings.vector_cache import DIGEST_SIZE, VectorCache, text_digest


def _vectors(n: int, seed: int, dims: int = 8) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, dims)).astype(np.float32)


def test_every_text_comes_back_in_order_from_many_shards_recent_or_merged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(vector_cache, "MERGE_MIN", 10)  # a few small shards stay in the recent dict, then merge
    cache = VectorCache(tmp_path)
    texts = [f"text {i}" for i in range(100)]
    vectors = _vectors(100, 0)
    for start in range(0, 100, 7):  # 15 shards: some merged into the sorted keys, the last ones recent
        cache.add([text_digest(t) for t in texts[start : start + 7]], vectors[start : start + 7])
        assert len(cache) == min(start + 7, 100)
    assert cache._recent and len(cache._keys)  # both kinds of index are in use here
    asked = [texts[5], "never seen", texts[99], texts[0], texts[42], texts[5]]
    found, got = cache.lookup([text_digest(t) for t in asked])
    assert found.tolist() == [True, False, True, True, True, True]
    assert got is not None
    assert np.array_equal(got[[0, 2, 3, 4, 5]], vectors[[5, 99, 0, 42, 5]])
    assert not got[1].any()  # zeros where missing
    again = VectorCache(tmp_path)  # a new process: every shard at once, in the sorted array
    assert len(again) == 100 and not again._recent
    found, got = again.lookup([text_digest(t) for t in texts])
    assert found.all() and np.array_equal(got, vectors)


def test_keys_that_end_in_zero_bytes_are_told_apart(tmp_path: Path) -> None:
    stem = bytes(range(1, DIGEST_SIZE - 1))
    keys = [stem + b"\x00\x00", stem + b"\x00\x01", stem + b"\x01\x00", b"\x00" * DIGEST_SIZE]
    cache = VectorCache(tmp_path)
    vectors = _vectors(4, 1)
    cache.add(keys, vectors)
    assert len(cache) == 4
    found, got = cache.lookup(list(reversed(keys)))
    assert found.all() and np.array_equal(got, vectors[::-1])
    found, _ = cache.lookup([stem + b"\x00\x02", stem])
    assert not found.any()


def test_a_text_cached_twice_counts_once_and_the_shard_loaded_last_wins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = VectorCache(tmp_path)
    first, second = _vectors(3, 2), _vectors(3, 3)
    digests = [text_digest(t) for t in ("a", "b", "c")]
    cache.add(digests, first)
    cache.add(digests[:2], second[:2])  # a recent shard over the sorted keys
    assert len(cache) == 3
    found, got = cache.lookup(digests)
    assert found.all() and np.array_equal(got, np.stack([second[0], second[1], first[2]]))
    monkeypatch.setattr(vector_cache, "MERGE_MIN", 0)
    cache.add([digests[2]], second[2:])  # merged: the newest location still wins
    assert len(cache) == 3 and not cache._recent
    found, got = cache.lookup(digests)
    assert np.array_equal(got, second)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/maps")
def test_no_shard_stays_mapped_after_a_lookup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(vector_cache, "WINDOW", 16)  # rows read through several windows of each shard
    cache = VectorCache(tmp_path)
    vectors = _vectors(200, 4)
    digests = [text_digest(str(i)) for i in range(200)]
    cache.add(digests[:120], vectors[:120])
    cache.add(digests[120:], vectors[120:])
    order = np.random.default_rng(5).permutation(200)
    found, got = cache.lookup([digests[i] for i in order])
    assert found.all() and np.array_equal(got, vectors[order])
    maps = Path("/proc/self/maps").read_text()
    assert str(tmp_path) not in maps


def test_a_damaged_shard_is_ignored(tmp_path: Path) -> None:
    cache = VectorCache(tmp_path)
    cache.add([text_digest("a"), text_digest("b")], _vectors(2, 6))
    keys = next(tmp_path.glob("shard-*.keys"))
    keys.write_bytes(keys.read_bytes()[:DIGEST_SIZE])  # one key for two rows
    fresh = VectorCache(tmp_path)
    assert len(fresh) == 0
    found, got = fresh.lookup([text_digest("a")])
    assert not found.any() and got is None

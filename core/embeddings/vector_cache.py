"""A persistent, append-only cache of vectors keyed by text hash, one folder per (model, role, engine).

Layout: `shard-<id>.npy` (float32, n x d) and `shard-<id>.keys` (n x 20-byte SHA-1 digests of the texts). The keys
file is written last and renamed into place, so a shard without its keys file (a crash mid-write) is ignored.
Lookups build one in-memory index of every key; a hit costs a dict lookup and a row copy.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from pathlib import Path

import numpy as np

DIGEST_SIZE = 20


def text_digest(text: str) -> bytes:
    return hashlib.sha1(text.encode("utf-8")).digest()


class VectorCache:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.folder.mkdir(parents=True, exist_ok=True)
        self._index: dict[bytes, tuple[int, int]] = {}
        self._shards: list[np.ndarray] = []
        self._loaded: set[str] = set()
        self.refresh()

    def refresh(self) -> None:
        """Pick up shards written since (by this or another process)."""
        for keys_file in sorted(self.folder.glob("shard-*.keys")):
            name = keys_file.stem
            if name in self._loaded:
                continue
            vectors_file = self.folder / f"{name}.npy"
            if not vectors_file.exists():
                continue
            keys = keys_file.read_bytes()
            vectors = np.load(vectors_file, mmap_mode="r")
            if len(keys) != DIGEST_SIZE * len(vectors):
                continue  # damaged shard: ignore it, its texts are embedded again
            shard = len(self._shards)
            self._shards.append(vectors)
            for row in range(len(vectors)):
                self._index[keys[row * DIGEST_SIZE : (row + 1) * DIGEST_SIZE]] = (shard, row)
            self._loaded.add(name)

    def __len__(self) -> int:
        return len(self._index)

    def lookup(self, digests: list[bytes]) -> tuple[np.ndarray, np.ndarray | None]:
        """(found mask, vectors for every digest with zeros where missing); vectors None when the cache is empty."""
        found = np.zeros(len(digests), dtype=bool)
        if not self._shards:
            return found, None
        out = np.zeros((len(digests), self._shards[0].shape[1]), dtype=np.float32)
        by_shard: dict[int, tuple[list[int], list[int]]] = {}
        index = self._index
        for position, digest in enumerate(digests):
            hit = index.get(digest)
            if hit is not None:
                found[position] = True
                positions, rows = by_shard.setdefault(hit[0], ([], []))
                positions.append(position)
                rows.append(hit[1])
        for shard, (positions, rows) in by_shard.items():
            out[positions] = self._shards[shard][rows]
        return found, out

    def add(self, digests: list[bytes], vectors: np.ndarray) -> None:
        if not digests:
            return
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        name = f"shard-{uuid.uuid4().hex}"
        tmp_vectors = self.folder / f".{name}.npy.partial"
        with open(tmp_vectors, "wb") as handle:
            np.save(handle, vectors)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_vectors, self.folder / f"{name}.npy")
        tmp_keys = self.folder / f".{name}.keys.partial"
        tmp_keys.write_bytes(b"".join(digests))
        os.replace(tmp_keys, self.folder / f"{name}.keys")
        self.refresh()

    def size_bytes(self) -> int:
        return sum(f.stat().st_size for f in self.folder.glob("shard-*"))

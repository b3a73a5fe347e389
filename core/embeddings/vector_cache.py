"""A persistent, append-only cache of vectors keyed by text hash, one folder per (model, role, engine).

Layout: `shard-<id>.npy` (float32, n x d) and `shard-<id>.keys` (n x 20-byte SHA-1 digests of the texts). The keys
file is written last and renamed into place, so a shard without its keys file (a crash mid-write) is ignored.

Lookups search one sorted array of every key (20 bytes and a location each: about 30 MB for a million texts, where
a dict of them took 190 MB), plus a dict of the keys of shards added since that array was last rebuilt. No shard
stays mapped: a lookup maps a window of one shard at a time and lets it go once its rows are copied, so the pages
of the files it read do not stay in the process's resident memory (a million vectors: 1.5 GB of file pages, which
`top` counts as the process's own).
"""

from __future__ import annotations

import hashlib
import os
import uuid
from dataclasses import dataclass
from pathlib import Path

import numpy as np

DIGEST_SIZE = 20
KEY = np.dtype(f"S{DIGEST_SIZE}")  # compared as bytes, trailing zero bytes and all (every key has all 20)
WINDOW = 16_384  # rows of a shard mapped at a time by a lookup (25 MB at 384 dims)
MERGE_MIN = 65_536  # keys kept in the dict of recent shards before the sorted array is rebuilt (or 1/8 of it)
_ROW_BITS = 32  # a key's location: shard << _ROW_BITS | row


def text_digest(text: str) -> bytes:
    return hashlib.sha1(text.encode("utf-8")).digest()


@dataclass(frozen=True)
class _Shard:
    path: Path
    offset: int  # of the first row in the .npy file
    rows: int
    dims: int

    def read(self, rows: np.ndarray) -> np.ndarray:
        """These rows (increasing), a window of the file mapped at a time and unmapped after."""
        out = np.empty((len(rows), self.dims), dtype=np.float32)
        windows = rows // WINDOW
        bounds = np.flatnonzero(np.diff(windows)) + 1
        for start, end in zip(np.r_[0, bounds], np.r_[bounds, len(rows)], strict=True):
            first = int(rows[start])
            count = int(rows[end - 1]) - first + 1
            mapped = np.memmap(
                self.path, np.float32, "r", offset=self.offset + first * self.dims * 4, shape=(count, self.dims)
            )
            out[start:end] = mapped[rows[start:end] - first]
            del mapped  # unmapped: its pages leave this process's resident memory
        return out


def _open_shard(path: Path) -> _Shard | None:
    try:
        mapped = np.load(path, mmap_mode="r")  # reads the header; no row is read
    except (OSError, ValueError):
        return None
    if not isinstance(mapped, np.memmap) or mapped.dtype != np.float32 or mapped.ndim != 2:
        return None
    if not mapped.flags.c_contiguous:
        return None
    return _Shard(path, int(mapped.offset), int(mapped.shape[0]), int(mapped.shape[1]))


class VectorCache:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.folder.mkdir(parents=True, exist_ok=True)
        self._shards: list[_Shard] = []
        self._keys = np.zeros(0, dtype=KEY)  # sorted, each once
        self._where = np.zeros(0, dtype=np.int64)  # each key's location
        self._recent: dict[bytes, int] = {}  # keys of shards loaded since: they win over `_keys`
        self._recent_new = 0  # of those, keys not in `_keys`
        self._loaded: set[str] = set()
        self.refresh()

    def refresh(self) -> None:
        """Pick up shards written since (by this or another process)."""
        added: list[tuple[bytes, np.ndarray]] = []  # (keys, locations) per new shard, in the order loaded
        for keys_file in sorted(self.folder.glob("shard-*.keys")):
            name = keys_file.stem
            if name in self._loaded:
                continue
            vectors_file = self.folder / f"{name}.npy"
            if not vectors_file.exists():
                continue
            keys = keys_file.read_bytes()
            shard = _open_shard(vectors_file)
            if shard is None or len(keys) != DIGEST_SIZE * shard.rows:
                continue  # damaged shard: ignore it, its texts are embedded again
            if self._shards and shard.dims != self._shards[0].dims:
                continue
            number = len(self._shards)
            self._shards.append(shard)
            added.append((keys, (number << _ROW_BITS) | np.arange(shard.rows, dtype=np.int64)))
            self._loaded.add(name)
        if not added:
            return
        count = sum(len(where) for _, where in added)
        if count + len(self._recent) > max(MERGE_MIN, len(self._keys) // 8):
            self._rebuild(added)
            return
        for keys, where in added:
            known = (self._in_keys(np.frombuffer(keys, dtype=KEY)) >= 0).tolist()
            for row, location in enumerate(where.tolist()):
                key = keys[row * DIGEST_SIZE : (row + 1) * DIGEST_SIZE]
                if key not in self._recent and not known[row]:
                    self._recent_new += 1
                self._recent[key] = location

    def _rebuild(self, added: list[tuple[bytes, np.ndarray]]) -> None:
        """One sorted array of every key, the location loaded last winning."""
        recent = b"".join(self._recent)
        keys = np.concatenate(
            [self._keys, np.frombuffer(recent, dtype=KEY), *(np.frombuffer(k, dtype=KEY) for k, _ in added)]
        )
        where = np.concatenate(
            [self._where, np.fromiter(self._recent.values(), np.int64, len(self._recent)), *(w for _, w in added)]
        )
        order = np.argsort(keys, kind="stable")
        keys, where = keys[order], where[order]
        last = np.r_[keys[1:] != keys[:-1], True]
        self._keys, self._where = keys[last], where[last]
        self._recent, self._recent_new = {}, 0

    def _in_keys(self, query: np.ndarray) -> np.ndarray:
        """Each query key's position in `_keys`, -1 where absent."""
        if not len(self._keys):
            return np.full(len(query), -1, dtype=np.int64)
        at = np.minimum(np.searchsorted(self._keys, query), len(self._keys) - 1)
        return np.where(self._keys[at] == query, at, -1)

    def __len__(self) -> int:
        return len(self._keys) + self._recent_new

    def lookup(self, digests: list[bytes]) -> tuple[np.ndarray, np.ndarray | None]:
        """(found mask, vectors for every digest with zeros where missing); vectors None when the cache is empty."""
        found = np.zeros(len(digests), dtype=bool)
        if not self._shards:
            return found, None
        out = np.zeros((len(digests), self._shards[0].dims), dtype=np.float32)
        if not digests:
            return found, out
        at = self._in_keys(np.array(digests, dtype=KEY))
        where = np.full(len(digests), -1, dtype=np.int64)
        where[at >= 0] = self._where[at[at >= 0]]
        del at
        if self._recent:
            recent = self._recent
            for position, digest in enumerate(digests):
                location = recent.get(digest)
                if location is not None:
                    where[position] = location
        found = where >= 0
        positions = np.flatnonzero(found)
        positions = positions[np.argsort(where[positions], kind="stable")]  # by shard, then row
        locations = where[positions]
        del where
        shards = locations >> _ROW_BITS
        bounds = np.flatnonzero(np.diff(shards)) + 1
        for start, end in zip(np.r_[0, bounds], np.r_[bounds, len(positions)], strict=True):
            if start == end:
                continue
            rows = locations[start:end] & ((1 << _ROW_BITS) - 1)
            out[positions[start:end]] = self._shards[int(shards[start])].read(rows)
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

"""Texts counted and cut on the project encoder's own subword tokens, not on spaces.

Thai, Lao, Khmer, Burmese, Chinese and Japanese are written without spaces between words, so "words" split on
spaces mean nothing there; the encoder's tokenizer cuts every script into the units the model actually reads.
Special tokens (`<s>`, `[CLS]`, ...) are never included, and nothing is truncated: a text longer than the
encoder's limit is counted in full (that is exactly what a length flag needs to know).
"""

from __future__ import annotations

import logging
import multiprocessing
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from functools import lru_cache
from itertools import chain
from pathlib import Path
from typing import Any, overload

import numpy as np

from core.errors import StudioError

_log = logging.getLogger(__name__)
SUBSET_ROWS = 65_536  # rows copied at a time by `TokenRows.subset`
BATCH = 1024  # texts per tokenizer call: the fast tokenizer works on a batch in one go


@lru_cache(maxsize=4)
def _load(folder: Path) -> Any:
    from transformers import AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(folder, use_fast=True)
    except Exception as exc:
        raise StudioError(f"Could not read the tokenizer of the model in '{folder}' ({type(exc).__name__}).") from None
    if not getattr(tokenizer, "is_fast", False):
        raise StudioError(f"The model in '{folder}' has no fast tokenizer (tokenizer.json), which counting needs.")
    return tokenizer


def forget_tokenizers() -> None:
    """Let go of the tokenizers loaded so far (a big vocabulary takes hundreds of MB); the next use loads again."""
    _load.cache_clear()


def load_tokenizer(encoder_spec: str | Path) -> Any:
    """The encoder's fast tokenizer, loaded once per model folder in this process."""
    from core.models.resolver import resolve_model

    return _load(resolve_model(str(encoder_spec)))


def _batches(texts: list[str]) -> Iterator[list[str]]:
    for start in range(0, len(texts), BATCH):
        yield texts[start : start + BATCH]


def _ids(tokenizer: Any, texts: list[str]) -> list[list[int]]:
    if not texts:
        return []
    # verbose=False: counting a text longer than the model's limit is the point, not a mistake to warn about
    encoded = tokenizer(texts, add_special_tokens=False, truncation=False, verbose=False)
    return [list(ids) for ids in encoded["input_ids"]]


def token_ids(texts: list[str], encoder_spec: str | Path) -> list[list[int]]:
    """The subword token ids of each text (no special tokens, no truncation), in order."""
    tokenizer = load_tokenizer(encoder_spec)
    result: list[list[int]] = []
    for batch in _batches(texts):
        result.extend(_ids(tokenizer, batch))
    return result


class TokenRows(Sequence[list[int]]):
    """Each text's subword token ids, packed in one int32 array (a million texts: tens of MB, where lists of Python
    ints take gigabytes); `rows[i]` is text i's ids as a list, `lengths` every text's count."""

    def __init__(self, flat: np.ndarray, offsets: np.ndarray) -> None:
        self.flat = flat
        self.offsets = offsets  # text i is flat[offsets[i]:offsets[i + 1]]

    def __len__(self) -> int:
        return len(self.offsets) - 1

    @overload
    def __getitem__(self, index: int) -> list[int]: ...

    @overload
    def __getitem__(self, index: slice) -> list[list[int]]: ...

    def __getitem__(self, index: int | slice) -> list[int] | list[list[int]]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(index)
        return self.flat[self.offsets[index] : self.offsets[index + 1]].tolist()

    @property
    def lengths(self) -> list[int]:
        return np.diff(self.offsets).tolist()

    @classmethod
    def joined(cls, parts: Sequence[tuple[np.ndarray, np.ndarray]]) -> TokenRows:
        """The rows of these packed parts ((flat, offsets) each), one after the other."""
        if not parts:
            return cls(np.zeros(0, dtype=np.int32), np.zeros(1, dtype=np.int64))
        shifts = np.cumsum([0] + [len(flat) for flat, _ in parts[:-1]])
        offsets = np.concatenate(
            [parts[0][1][:1], *(offsets[1:] + shift for (_, offsets), shift in zip(parts, shifts, strict=True))]
        )
        return cls(np.concatenate([flat for flat, _ in parts]), offsets.astype(np.int64))

    def subset(self, positions: Sequence[int]) -> TokenRows:
        """The rows at these positions, in that order (packed again)."""
        chosen = np.asarray(positions, dtype=np.int64)
        starts, ends = self.offsets[chosen], self.offsets[chosen + 1]
        lengths = ends - starts
        offsets = np.zeros(len(chosen) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        flat = np.empty(int(offsets[-1]), dtype=self.flat.dtype)
        # SUBSET_ROWS rows at a time: the index arrays take 8 bytes per token (a million texts' at once: 700 MB)
        for first in range(0, len(chosen), SUBSET_ROWS):
            last = min(first + SUBSET_ROWS, len(chosen))
            begin, end = int(offsets[first]), int(offsets[last])
            part = lengths[first:last]
            # flat index of every kept token: its row's start in the old array plus its place within the row
            within = np.arange(end - begin, dtype=np.int64) - np.repeat(offsets[first:last] - begin, part)
            flat[begin:end] = self.flat[np.repeat(starts[first:last], part) + within]
        return TokenRows(flat, offsets)


def token_rows(texts: list[str], encoder_spec: str | Path) -> TokenRows:
    """`token_ids`, packed (TokenRows): what the checks keep for a whole project."""
    tokenizer = load_tokenizer(encoder_spec)
    parts: list[np.ndarray] = []
    lengths = np.zeros(len(texts) + 1, dtype=np.int64)
    done = 0
    for batch in _batches(texts):
        rows = _ids(tokenizer, batch)
        lengths[done + 1 : done + 1 + len(rows)] = [len(row) for row in rows]
        parts.append(np.fromiter(chain.from_iterable(rows), dtype=np.int32, count=int(sum(map(len, rows)))))
        done += len(rows)
    flat = np.concatenate(parts) if parts else np.zeros(0, dtype=np.int32)
    return TokenRows(flat, np.cumsum(lengths))


PARALLEL_MIN = 20_000  # texts: fewer are counted in this process
PARALLEL_SLICE = 25_000  # texts per task of a worker process
MAX_WORKERS = 4


def token_rows_apart(
    texts: list[str], encoder_spec: str | Path, progress: Callable[[int, int], None] | None = None
) -> TokenRows:
    """`token_rows`, counted in worker processes (spawned), one per core: the tokenizer never enters this process
    (a big vocabulary takes hundreds of MB, and the allocator keeps most of what counting a million texts took: 400
    MB measured, which the checks job would carry to its peak), and the cores share the work. Fewer than
    PARALLEL_MIN texts, or where worker processes cannot start, they are counted here. `progress(done, total)`."""
    from core.models.resolver import resolve_model

    folder = resolve_model(str(encoder_spec))
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    if len(texts) < PARALLEL_MIN:
        return token_rows(texts, folder)
    slices = [texts[start : start + PARALLEL_SLICE] for start in range(0, len(texts), PARALLEL_SLICE)]
    parts: list[tuple[np.ndarray, np.ndarray]] = []
    done = 0
    # spawned, not forked: the job's process holds threads (BLAS's, the database's) that a fork would copy stuck
    context = multiprocessing.get_context("spawn")
    try:
        with ProcessPoolExecutor(max(1, min(cores, MAX_WORKERS)), mp_context=context) as pool:
            calls = [pool.submit(_packed_rows, folder, part) for part in slices]
            for call, part in zip(calls, slices, strict=True):
                parts.append(call.result())
                done += len(part)
                if progress is not None:
                    progress(done, len(texts))
    except BrokenProcessPool:  # a worker could not start here (a spawned process re-imports this one's __main__)
        _log.warning("counting tokens in worker processes failed; counting in this process")
        return token_rows(texts, folder)
    return TokenRows.joined(parts)


def _packed_rows(folder: Path, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """One slice of `token_rows_apart`, in a worker process: (flat ids, offsets)."""
    rows = token_rows(texts, folder)
    return rows.flat, rows.offsets


def token_counts(texts: list[str], encoder_spec: str | Path) -> list[int]:
    """How many subword tokens the encoder cuts each text into (no special tokens, no truncation)."""
    return [len(ids) for ids in token_ids(texts, encoder_spec)]


def tokens(texts: list[str], encoder_spec: str | Path, *, as_text: bool = False) -> list[list[int]] | list[list[str]]:
    """Each text's subword tokens: ids (cheap; enough for n-grams) or, with `as_text`, the pieces as strings
    (e.g. '▁Habari', '##ing') for showing them to people."""
    ids = token_ids(texts, encoder_spec)
    if not as_text:
        return ids
    tokenizer = load_tokenizer(encoder_spec)
    return [tokenizer.convert_ids_to_tokens(row) for row in ids]

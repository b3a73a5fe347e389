"""Texts counted and cut on the project encoder's own subword tokens, not on spaces.

Thai, Lao, Khmer, Burmese, Chinese and Japanese are written without spaces between words, so "words" split on
spaces mean nothing there; the encoder's tokenizer cuts every script into the units the model actually reads.
Special tokens (`<s>`, `[CLS]`, ...) are never included, and nothing is truncated: a text longer than the
encoder's limit is counted in full (that is exactly what a length flag needs to know).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from functools import lru_cache
from itertools import chain
from pathlib import Path
from typing import Any, overload

import numpy as np

from core.errors import StudioError

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

    def subset(self, positions: Sequence[int]) -> TokenRows:
        """The rows at these positions, in that order (packed again)."""
        chosen = np.asarray(positions, dtype=np.int64)
        starts, ends = self.offsets[chosen], self.offsets[chosen + 1]
        lengths = ends - starts
        offsets = np.zeros(len(chosen) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        # flat index of every kept token: its row's start in the old array plus its place within the row
        within = np.arange(int(offsets[-1]), dtype=np.int64) - np.repeat(offsets[:-1], lengths)
        return TokenRows(self.flat[np.repeat(starts, lengths) + within], offsets)


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

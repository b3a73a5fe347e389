"""Texts counted and cut on the project encoder's own subword tokens, not on spaces.

Thai, Lao, Khmer, Burmese, Chinese and Japanese are written without spaces between words, so "words" split on
spaces mean nothing there; the encoder's tokenizer cuts every script into the units the model actually reads.
Special tokens (`<s>`, `[CLS]`, ...) are never included, and nothing is truncated: a text longer than the
encoder's limit is counted in full (that is exactly what a length flag needs to know).
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any

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

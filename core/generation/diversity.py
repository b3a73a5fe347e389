"""Diversity incentives for a cell's next round: taboo words and the earlier outputs to write away from.

Taboo words are counted on the project encoder's subword tokens, not on spaces, so languages written without
spaces (Thai, Lao, Khmer, Burmese, Chinese, Japanese) get meaningful tokens too: their pieces are counted as they
are, while in space-separated scripts a word's pieces are merged back into the word.

Which earlier outputs to show as "write something different from these"? The TYPICAL ones (closest to the
centroid of the cell's outputs), not the outliers: the point of the hint is to push the model out of the region it
keeps returning to, and that region is where the typical outputs sit; one typical text stands for the many
near-duplicates around it. Showing the outliers as things to avoid would push the model back toward its habits.
(The outliers are the right choice when they are shown as positive hints, "in the spirit of these", which is what
`outlier_outputs` is for.)
"""

from __future__ import annotations

import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable

import numpy as np

from core.text_scripts import written_without_spaces

SENTENCEPIECE_SPACE = "▁"
BYTE_LEVEL_SPACE = "Ġ"
WORDPIECE_CONTINUATION = "##"
NEAR_DUPLICATE = 0.98  # cosine above which two hints would show the model the same thing twice


# blocks of scripts written without spaces between words: their subword pieces are the units counted
def taboo_words(
    texts: list[str],
    tokenize: Callable[[str], list[str]],
    k: int = 10,
    stopwords: set[str] | None = None,
    *,
    background: list[str] | None = None,
    background_share: float = 0.5,
    min_texts: int = 2,
) -> list[str]:
    """The k content tokens that the most of `texts` use (ties: more uses, then alphabetical), lower-cased.

    `tokenize` is the encoder tokenizer's `tokenize` (WordPiece "##" or SentencePiece "▁" pieces, or plain
    words). Skipped: punctuation, tokens with digits, one-character tokens, special tokens, `stopwords`, and
    tokens that more than `background_share` of the `background` texts use (texts of all cells: those tokens
    are the language's function words, not this cell's habits). A token must appear in at least `min_texts`
    texts (when there are that many) to count as overused.
    """
    if k <= 0 or not texts:
        return []
    stop = {s.casefold() for s in stopwords or ()}
    document_counts: Counter[str] = Counter()
    total_counts: Counter[str] = Counter()
    for text in texts:
        units = [u for u in content_units(text, tokenize) if u not in stop]
        total_counts.update(units)
        document_counts.update(set(units))
    common = _background_tokens(background, tokenize, background_share) if background else set()
    needed = min(min_texts, len(texts))
    ranked = sorted(
        (token for token, count in document_counts.items() if count >= needed and token not in common),
        key=lambda token: (-document_counts[token], -total_counts[token], token),
    )
    return ranked[:k]


def content_units(text: str, tokenize: Callable[[str], list[str]]) -> list[str]:
    """The tokens of one text that can be content words: pieces merged into words where the script has spaces."""
    units: list[str] = []
    for word in _words(tokenize(text)):
        merged = "".join(word)
        pieces = word if written_without_spaces(merged) else [merged]
        units.extend(piece.casefold() for piece in pieces if _is_content(piece))
    return units


def _words(tokens: Iterable[str]) -> list[list[str]]:
    """Group subword pieces into words: '##' continues a word; with '▁'/'Ġ' markers, an unmarked piece does."""
    tokens = list(tokens)
    marked = any(t.startswith((SENTENCEPIECE_SPACE, BYTE_LEVEL_SPACE)) for t in tokens)
    words: list[list[str]] = []
    starts_word = True
    for token in tokens:
        if _is_special(token):
            starts_word = True
            continue
        if token.startswith(WORDPIECE_CONTINUATION) and len(token) > len(WORDPIECE_CONTINUATION):
            piece, continues = token[len(WORDPIECE_CONTINUATION) :], True
        elif marked:
            piece = token.lstrip(SENTENCEPIECE_SPACE + BYTE_LEVEL_SPACE)
            continues = not token.startswith((SENTENCEPIECE_SPACE, BYTE_LEVEL_SPACE))
        else:
            piece, continues = token, False
        if not piece:  # a lone "▁": the next piece starts a word
            starts_word = True
            continue
        if _is_punctuation(piece):  # punctuation ends a word and is no word itself
            starts_word = True
            continue
        if continues and words and not starts_word:
            words[-1].append(piece)
        else:
            words.append([piece])
        starts_word = False
    return words


def _is_special(token: str) -> bool:
    return len(token) > 2 and (token[0], token[-1]) in (("[", "]"), ("<", ">"))


def _is_punctuation(piece: str) -> bool:
    return all(unicodedata.category(ch)[0] in "PSZ" for ch in piece)


def _is_content(piece: str) -> bool:
    if len(piece) < 2 or _is_punctuation(piece):
        return False
    if any(unicodedata.category(ch) == "Nd" for ch in piece):
        return False
    return any(unicodedata.category(ch)[0] == "L" for ch in piece)


def _background_tokens(texts: list[str], tokenize: Callable[[str], list[str]], share: float) -> set[str]:
    counts: Counter[str] = Counter()
    for text in texts:
        counts.update(set(content_units(text, tokenize)))
    return {token for token, count in counts.items() if count > share * len(texts)}


# --- earlier outputs as hints ------------------------------------------------------------------------------------


def typical_outputs(texts: list[str], vectors: np.ndarray, k: int = 3) -> list[str]:
    """The k texts closest to the centroid (most typical first): what to show as "write something different".

    Exact repeats and near-duplicates (cosine >= 0.98) of a text already chosen are skipped, so k hints show k
    different things; fewer come back when there are fewer. `vectors` are row-aligned with `texts`.
    """
    return _by_centroid(texts, vectors, k, typical=True)


def outlier_outputs(texts: list[str], vectors: np.ndarray, k: int = 3) -> list[str]:
    """The k texts farthest from the centroid: for positive hints ("in the spirit of these"), not "avoid these"."""
    return _by_centroid(texts, vectors, k, typical=False)


def _by_centroid(texts: list[str], vectors: np.ndarray, k: int, *, typical: bool) -> list[str]:
    if k <= 0 or not texts:
        return []
    matrix = _normalized(vectors, len(texts))
    centroid = matrix.mean(axis=0)
    norm = float(np.linalg.norm(centroid))
    similarity = matrix @ (centroid / norm) if norm > 0 else np.zeros(len(texts))
    order = np.argsort(-similarity if typical else similarity, kind="stable")
    chosen: list[int] = []
    seen: set[str] = set()
    for index in order.tolist():
        key = " ".join(texts[index].casefold().split())
        if key in seen or any(float(matrix[index] @ matrix[c]) >= NEAR_DUPLICATE for c in chosen):
            continue
        chosen.append(index)
        seen.add(key)
        if len(chosen) == k:
            break
    return [texts[i] for i in chosen]


def _normalized(vectors: np.ndarray, rows: int) -> np.ndarray:
    matrix = np.asarray(vectors, dtype=np.float64)
    if matrix.ndim != 2 or matrix.shape[0] != rows:
        raise ValueError(f"expected one vector per text ({rows}), got an array of shape {matrix.shape}")
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix / np.where(norms > 0, norms, 1.0)

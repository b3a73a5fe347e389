"""The per-character measures the checks take of every sample (letters, cleaning, words, scripts without spaces),
rewritten to run at C speed for a million samples (issue 20), give what the character-by-character definitions
give, on texts mixing every kind of character: scripts with and without spaces, marks, emoji with their selectors
and joiners, digits, punctuation runs, links, e-mail addresses, @mentions, underscores and line breaks."""

from __future__ import annotations

import math
import random
import unicodedata

from core.curation.bare_names import _letter_runs
from core.curation.quality_flags import _is_selector, clean_text, letter_share, strip_links
from core.curation.subword_tokens import TokenRows
from core.text_scripts import UNSPACED_BLOCKS, script_of, word_count, written_without_spaces

PIECES = [
    *"abcXYZéüßøñ",  # Latin
    *"привет",  # Cyrillic
    *"مرحبا",  # Arabic
    *"नमस्ते",  # Devanagari with vowel signs (marks)
    *"สวัสดีครับ",  # Thai (no spaces, marks)
    *"中文字",  # Han
    *"ひらがなカタカナ",  # kana
    *"ᨠᨡ",  # a script outside the tables
    *"0123456789٣๓",  # digits, Arabic-Indic and Thai ones
    *".,!?;:-_()[]#%&*/'\"…",  # punctuation
    *"!!!...",
    "👍",
    "👍🏽",  # a skin tone
    "❤️",  # a variation selector
    "👨\u200d👩\u200d👧",  # joiners (format characters)
    "\u0301",  # a combining accent alone
    "\ufe0f",
    *"  \t\n\u00a0\u3000",  # spaces, a line break, no-break and ideographic spaces
    " https://example.org/a?b=1 ",
    " www.example.com ",
    " mail@example.org ",
    " @someone ",
    " example.co/path ",
    " ftp://files ",
    "ok",
    "Mvua itanyesha kesho",
]


def _texts(n: int = 4000, seed: int = 5) -> list[str]:
    rng = random.Random(seed)
    texts = ["", " ", "!!!", "....", "👍👍👍", "a", "ab_cd", "สวัสดี", "中文", "ok.", "@x", "a\u0301"]
    for _ in range(n):
        texts.append("".join(rng.choice(PIECES) for _ in range(rng.randint(1, 30))))
    return texts


# --- the character-by-character definitions (as they were written first) -----------------------------------------


def _reference_written_without_spaces(text: str) -> bool:
    return any(low <= ord(ch) <= high for ch in text for low, high in UNSPACED_BLOCKS)


def _reference_clean_text(text: str) -> str:
    kept = []
    for ch in strip_links(text):
        category = unicodedata.category(ch)[0]
        kept.append(ch if category in "LN" or (category == "M" and not _is_selector(ch)) else " ")
    cleaned = " ".join("".join(kept).split())
    return cleaned if any(unicodedata.category(ch)[0] in "LN" for ch in cleaned) else ""


def _reference_letter_share(text: str) -> float:
    letters = visible = 0
    previous = ""
    for ch in strip_links(text, " # "):
        category = unicodedata.category(ch)
        if ch.isspace() or category == "Cf" or _is_selector(ch):
            previous = ""
            continue
        letter = category[0] in "LM"
        if not letter and ch == previous:
            continue
        previous = ch
        visible += 1
        letters += letter
    return letters / visible if visible else 0.0


def _reference_letter_runs(text: str) -> list[str]:
    runs: list[str] = []
    current: list[str] = []
    for ch in text:
        if unicodedata.category(ch)[0] in "LM":
            current.append(ch)
        elif current:
            runs.append("".join(current))
            current = []
    if current:
        runs.append("".join(current))
    return runs


PER_WORD = {"Thai": 5.0, "Lao": 5.0, "Khmer": 5.0, "Myanmar": 5.0, "Tibetan": 5.0, "Han": 1.5}


def _reference_word_count(text: str) -> int:
    words = 0
    for piece in text.replace("_", " ").split():
        unspaced = 0.0
        other = False
        for ch in piece:
            script = script_of(ch)
            if script in PER_WORD:
                unspaced += 1 / PER_WORD[script]
            elif script in ("Hiragana", "Katakana"):
                unspaced += 1 / 2.5
            elif ch.isalnum():
                other = True
        words += math.ceil(unspaced) + other if unspaced else int(other)
    return words


def _reference_strip_links(text: str, placeholder: str = " ") -> str:
    from core.curation.quality_flags import _EMAIL, _MENTION, _URL

    for pattern in (_URL, _EMAIL, _MENTION):
        text = pattern.sub(placeholder, text)
    return text


def test_every_measure_gives_what_the_character_by_character_definition_gives() -> None:
    texts = _texts()
    for text in texts:
        assert written_without_spaces(text) == _reference_written_without_spaces(text), repr(text)
        assert clean_text(text) == _reference_clean_text(text), repr(text)
        assert letter_share(text) == _reference_letter_share(text), repr(text)
        assert _letter_runs(text) == _reference_letter_runs(text), repr(text)
        assert word_count(text) == _reference_word_count(text), repr(text)
        assert strip_links(text, " # ") == _reference_strip_links(text, " # "), repr(text)
    # the corpus reaches every branch: texts with and without letters, repeats, scripts without spaces
    assert any(clean_text(t) == "" for t in texts) and any(clean_text(t) for t in texts)
    assert any(written_without_spaces(t) for t in texts) and not all(written_without_spaces(t) for t in texts)
    assert len({letter_share(t) for t in texts}) > 100


def test_packed_token_rows_read_back_as_the_lists_they_were_made_from() -> None:
    import numpy as np

    rows = [[5, 9, 9], [], [250_001], [1, 2, 3, 4]]
    flat = np.array([i for row in rows for i in row], dtype=np.int32)
    offsets = np.cumsum([0, *map(len, rows)])
    packed = TokenRows(flat, offsets)
    assert len(packed) == 4 and list(packed) == rows and packed.lengths == [3, 0, 1, 4]
    assert packed[-1] == [1, 2, 3, 4] and packed[1:3] == [[], [250_001]]
    assert list(packed.subset([3, 0, 1, 3])) == [rows[3], rows[0], rows[1], rows[3]]
    assert list(packed.subset([])) == []
    assert all(type(i) is int for i in packed[0])  # Python ints, as the tokenizer gives them

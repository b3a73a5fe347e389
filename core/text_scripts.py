"""Scripts written without spaces between words (Thai, Lao, Khmer, Myanmar, Tibetan, Chinese, Japanese): word
matching and word counting must not rely on spaces there."""

from __future__ import annotations

UNSPACED_BLOCKS = (
    (0x0E00, 0x0EFF),  # Thai, Lao
    (0x0F00, 0x0FFF),  # Tibetan
    (0x1000, 0x109F),  # Myanmar
    (0x1780, 0x17FF),  # Khmer
    (0x3040, 0x30FF),  # Hiragana, Katakana
    (0x3400, 0x4DBF),  # CJK extension A
    (0x4E00, 0x9FFF),  # CJK unified ideographs
    (0xF900, 0xFAFF),  # CJK compatibility ideographs
)


def written_without_spaces(text: str) -> bool:
    """True when any character of the text belongs to a script written without spaces."""
    return any(low <= ord(ch) <= high for ch in text for low, high in UNSPACED_BLOCKS)

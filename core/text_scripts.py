"""Writing systems of characters.

- Scripts written without spaces between words (Thai, Lao, Khmer, Myanmar, Tibetan, Chinese, Japanese): word
  matching and word counting must not rely on spaces there.
- The script each letter belongs to (Latin, Cyrillic, Thai, Devanagari, ...): a Thai cell whose text is in Latin
  letters is romanised Thai or another language. Unicode blocks of the scripts in use today; a character outside
  them (digits, punctuation, emoji, combining accents shared by several scripts) belongs to none.
"""

from __future__ import annotations

import bisect
import functools
import math
import re
import unicodedata
from collections import Counter

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


def _char_class(ranges: list[tuple[int, int]]) -> re.Pattern[str]:
    """A pattern that matches one character in any of these code point ranges (inclusive)."""
    return re.compile("[" + "".join(f"\\U{low:08x}-\\U{high:08x}" for low, high in ranges) + "]")


_UNSPACED = _char_class(list(UNSPACED_BLOCKS))


def written_without_spaces(text: str) -> bool:
    """True when any character of the text belongs to a script written without spaces."""
    return _UNSPACED.search(text) is not None


# --- the script of a letter ------------------------------------------------------------------------------------

LATIN = "Latin"
HAN = "Han"  # Chinese characters (also used in Japanese and, a little, in Korean)

_SCRIPT_BLOCKS: tuple[tuple[int, int, str], ...] = (
    (0x0041, 0x005A, LATIN),
    (0x0061, 0x007A, LATIN),
    (0x00AA, 0x00AA, LATIN),
    (0x00BA, 0x00BA, LATIN),
    (0x00C0, 0x00D6, LATIN),
    (0x00D8, 0x00F6, LATIN),
    (0x00F8, 0x02AF, LATIN),  # Latin Extended A and B, IPA
    (0x0370, 0x03FF, "Greek"),
    (0x0400, 0x052F, "Cyrillic"),
    (0x0530, 0x058F, "Armenian"),
    (0x0590, 0x05FF, "Hebrew"),
    (0x0600, 0x06FF, "Arabic"),
    (0x0700, 0x074F, "Syriac"),
    (0x0750, 0x077F, "Arabic"),
    (0x0780, 0x07BF, "Thaana"),
    (0x07C0, 0x07FF, "N'Ko"),
    (0x08A0, 0x08FF, "Arabic"),
    (0x0900, 0x097F, "Devanagari"),
    (0x0980, 0x09FF, "Bengali"),
    (0x0A00, 0x0A7F, "Gurmukhi"),
    (0x0A80, 0x0AFF, "Gujarati"),
    (0x0B00, 0x0B7F, "Odia"),
    (0x0B80, 0x0BFF, "Tamil"),
    (0x0C00, 0x0C7F, "Telugu"),
    (0x0C80, 0x0CFF, "Kannada"),
    (0x0D00, 0x0D7F, "Malayalam"),
    (0x0D80, 0x0DFF, "Sinhala"),
    (0x0E00, 0x0E7F, "Thai"),
    (0x0E80, 0x0EFF, "Lao"),
    (0x0F00, 0x0FFF, "Tibetan"),
    (0x1000, 0x109F, "Myanmar"),
    (0x10A0, 0x10FF, "Georgian"),
    (0x1100, 0x11FF, "Hangul"),
    (0x1200, 0x139F, "Ethiopic"),
    (0x13A0, 0x13FF, "Cherokee"),
    (0x1400, 0x167F, "Canadian syllabics"),
    (0x1780, 0x17FF, "Khmer"),
    (0x1800, 0x18AF, "Mongolian"),
    (0x18B0, 0x18FF, "Canadian syllabics"),
    (0x19E0, 0x19FF, "Khmer"),
    (0x1A00, 0x1A1F, "Buginese"),
    (0x1B00, 0x1B7F, "Balinese"),
    (0x1B80, 0x1BBF, "Sundanese"),
    (0x1C50, 0x1C7F, "Ol Chiki"),
    (0x1C80, 0x1C8F, "Cyrillic"),
    (0x1C90, 0x1CBF, "Georgian"),
    (0x1CC0, 0x1CCF, "Sundanese"),
    (0x1D00, 0x1DBF, LATIN),  # phonetic extensions
    (0x1E00, 0x1EFF, LATIN),  # Latin Extended Additional (Vietnamese)
    (0x1F00, 0x1FFF, "Greek"),
    (0x2C60, 0x2C7F, LATIN),
    (0x2D00, 0x2D2F, "Georgian"),
    (0x2D30, 0x2D7F, "Tifinagh"),
    (0x2D80, 0x2DDF, "Ethiopic"),
    (0x2DE0, 0x2DFF, "Cyrillic"),
    (0x2E80, 0x2FDF, HAN),  # radicals
    (0x3005, 0x3007, HAN),
    (0x3021, 0x3029, HAN),
    (0x3038, 0x303B, HAN),
    (0x3040, 0x309F, "Hiragana"),
    (0x30A0, 0x30FF, "Katakana"),
    (0x3100, 0x312F, "Bopomofo"),
    (0x3130, 0x318F, "Hangul"),
    (0x31A0, 0x31BF, "Bopomofo"),
    (0x31F0, 0x31FF, "Katakana"),
    (0x3400, 0x4DBF, HAN),
    (0x4E00, 0x9FFF, HAN),
    (0xA000, 0xA4CF, "Yi"),
    (0xA500, 0xA63F, "Vai"),
    (0xA640, 0xA69F, "Cyrillic"),
    (0xA720, 0xA7FF, LATIN),
    (0xA8E0, 0xA8FF, "Devanagari"),
    (0xA960, 0xA97F, "Hangul"),
    (0xA980, 0xA9DF, "Javanese"),
    (0xA9E0, 0xA9FF, "Myanmar"),
    (0xAA60, 0xAA7F, "Myanmar"),
    (0xAAE0, 0xAAFF, "Meetei Mayek"),
    (0xAB00, 0xAB2F, "Ethiopic"),
    (0xAB30, 0xAB6F, LATIN),
    (0xAB70, 0xABBF, "Cherokee"),
    (0xABC0, 0xABFF, "Meetei Mayek"),
    (0xAC00, 0xD7FF, "Hangul"),
    (0xF900, 0xFAFF, HAN),
    (0xFB00, 0xFB06, LATIN),  # ligatures
    (0xFB13, 0xFB17, "Armenian"),
    (0xFB1D, 0xFB4F, "Hebrew"),
    (0xFB50, 0xFDFF, "Arabic"),
    (0xFE70, 0xFEFF, "Arabic"),
    (0xFF21, 0xFF3A, LATIN),  # full-width
    (0xFF41, 0xFF5A, LATIN),
    (0xFF66, 0xFF9F, "Katakana"),  # half-width
    (0xFFA0, 0xFFDC, "Hangul"),
    (0x1E900, 0x1E95F, "Adlam"),
    (0x20000, 0x3134F, HAN),
)
_STARTS = [low for low, _, _ in _SCRIPT_BLOCKS]


@functools.cache
def script_of(ch: str) -> str | None:
    """The script of a letter or vowel sign; None for anything else (digits, punctuation, emoji, spaces) and for
    scripts not in the table (historic ones)."""
    if unicodedata.category(ch)[0] not in "LM":
        return None
    code = ord(ch)
    position = bisect.bisect_right(_STARTS, code) - 1
    if position < 0:
        return None
    _, high, script = _SCRIPT_BLOCKS[position]
    return script if code <= high else None


def letter_scripts(text: str) -> Counter[str]:
    """How many letters (and vowel signs) of the text are in each script."""
    return Counter(script for script in map(script_of, text) if script is not None)


_LETTER = re.compile(r"[^\W\d_]")


@functools.cache
def _outside(scripts: tuple[str, ...]) -> re.Pattern[str]:
    ranges = "".join(
        f"{re.escape(chr(low))}-{re.escape(chr(high))}" for low, high, script in _SCRIPT_BLOCKS if script in scripts
    )
    return re.compile(f"(?![{ranges}])[^\\W\\d_]" if ranges else r"[^\W\d_]")


def letters_outside(text: str, scripts: tuple[str, ...]) -> tuple[int, int]:
    """How many letters the text has (vowel signs and other marks aside), and how many of them are in none of the
    given scripts: a quick count, at the speed of a regular expression, for the texts that `letter_scripts` need
    not look at one by one."""
    return len(_LETTER.findall(text)), len(_outside(scripts).findall(text))


# how a script's letters are named in a sentence: "written in Latin letters", "in Thai script"
_LETTERS = {LATIN, "Greek", "Cyrillic", "Armenian", "Hebrew", "Arabic", "Georgian", "Hangul"}


def script_phrase(script: str) -> str:
    if script == HAN:
        return "Chinese characters"
    if script in ("Hiragana", "Katakana", "Bopomofo", "Canadian syllabics"):
        return script
    return f"{script} letters" if script in _LETTERS else f"{script} script"


def scripts_phrase(scripts: tuple[str, ...] | list[str]) -> str:
    """ "Thai script", "Cyrillic or Latin letters", "Chinese characters, Hiragana or Katakana"."""
    if len(scripts) > 1 and all(s in _LETTERS for s in scripts):
        return f"{', '.join(scripts[:-1])} or {scripts[-1]} letters"
    phrases = [script_phrase(s) for s in scripts]
    return phrases[0] if len(phrases) == 1 else f"{', '.join(phrases[:-1])} or {phrases[-1]}"


# --- words -------------------------------------------------------------------------------------------------------

# letters per word in scripts written without spaces, measured on the paper's data: Thai intents have about 28
# letters where the other languages have 6 words, Thai topic sentences 115 where the others have 20; a Chinese word
# is one or two characters
_LETTERS_PER_WORD = {"Thai": 5.0, "Lao": 5.0, "Khmer": 5.0, "Myanmar": 5.0, "Tibetan": 5.0, HAN: 1.5}
_KANA_PER_WORD = 2.5  # Japanese: kana between or after the characters


# the characters whose script counts letters rather than spaces in word_count (a text without any: spaces alone)
_UNSPACED_WORDS = _char_class(
    [(low, high) for low, high, script in _SCRIPT_BLOCKS if script in (*_LETTERS_PER_WORD, "Hiragana", "Katakana")]
)


def word_count(text: str) -> int:
    """Words, where spaces and underscores separate them; in scripts written without spaces, the letters divided by
    the usual length of a word there. Pieces with no letter or digit (punctuation, emoji) are no words."""
    if _UNSPACED_WORDS.search(text) is None:  # the common case, at C speed: one word per piece with a letter or digit
        return sum(1 for piece in text.replace("_", " ").split() if any(ch.isalnum() for ch in piece))
    words = 0
    for piece in text.replace("_", " ").split():
        unspaced = 0.0
        other = False
        for ch in piece:
            script = script_of(ch)
            if script in _LETTERS_PER_WORD:
                unspaced += 1 / _LETTERS_PER_WORD[script]
            elif script in ("Hiragana", "Katakana"):
                unspaced += 1 / _KANA_PER_WORD
            elif ch.isalnum():
                other = True
        words += math.ceil(unspaced) + other if unspaced else int(other)
    return words

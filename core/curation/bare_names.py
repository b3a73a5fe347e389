"""Samples that read like a category name or a heading ("Invoices", "Billing issue") where the project's samples are
messages people write: the `not_a_message` quality flag.

How the studio knows that the samples are messages: from the project's own human samples of the language (the
test set people wrote); if it has fewer than `min_reference`, the human samples of every language; with none, the
other samples of the sample's cell. When their median length is clearly more than a few words (`min_usual_words`),
a synthetic text of a few words is suspicious. When people's samples are themselves short (search queries,
commands like "set alarm", titles), nothing is flagged.

A short text is still a message when it has
- sentence punctuation ("Where is my order?", "Thanks a lot!"), an emoji or an emoticon (":)");
- one of its language's common words: words that appear in many of the language's longer samples, under several
  labels ("my", "is", "the"; "ya", "kwa"; "ich", "nicht"). They are counted from the project's own samples, so
  every language has them without a word list, and words of one topic ("invoice" in a billing cell) are not
  among them. Scripts written without spaces (Thai, Chinese, Japanese) have no words to count: there, only
  the length and the punctuation decide.
"""

from __future__ import annotations

import re
import statistics
import unicodedata
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from core.curation.duplicate_flags import Item
from core.text_scripts import HAN, script_of, word_count, written_without_spaces

# sentence punctuation of the scripts in use: Latin . ! ? ... ¡ ¿, Greek question mark, Armenian, Arabic ؟ ۔,
# Devanagari danda, CJK full stops, Ethiopic, Myanmar
_SENTENCE_MARKS = frozenset(".!?…¡¿;՞։؟۔।॥。！？．።፧၊။")
_SHORT_UNITS = (HAN, "Hiragana", "Katakana")
_EMOTICON = re.compile(r"[:;=]\s?-?\s?[()DPp]|<3")


@dataclass(frozen=True)
class MessageRules:
    max_words: int = 4  # at most this many words (word equivalents in scripts without spaces)
    # the usual sample has at least this many words: the paper's intents (people's commands) have a median of 5-7
    # words, its topic sentences 17-23 and its tweets and reviews 16-30
    min_usual_words: float = 8.0
    # and at least this many times the text's length: "כתבי מייל למנהל המחלקה" ("write an email to the head of
    # the department", 4 words: Hebrew glues "to" and "the" to the word) among synthetic commands of about 9 words
    # is a message
    shorter_by: float = 3.0
    # people's own samples of the language that read like bare names by the rules above: from this share up, such
    # texts are normal in the project (one-word reviews, "terbaik", "excelenta", "เจ๋งๆ"), and nothing is flagged.
    # On the paper's sentiment data: Thai 1.99%, Hebrew 1.77%, Indonesian 1.38%, Swahili 0.77%, Romanian 0.47%,
    # English 0.08%, German 0.01%; topic 0% (bench/bench_not_a_message.py)
    people_share: float = 0.002
    min_reference: int = 10  # samples needed for a usual length
    common_share: float = 0.02  # a common word is in at least this share of the language's longer samples
    common_min: int = 3  # ... and in at least this many of them


@dataclass(frozen=True)
class Usual:
    words: int  # the median length, in words
    compared_with: str  # "human" (people's samples of the language), "human_all" (of every language), "cell"


def has_emoji(text: str) -> bool:
    return any(unicodedata.category(ch) == "So" for ch in text)


def sentence_like(text: str) -> bool:
    return any(ch in _SENTENCE_MARKS for ch in text) or has_emoji(text) or _EMOTICON.search(text) is not None


class _LettersKept(dict[int, str]):
    """str.translate's table (filled as characters are met): letters and marks stay, anything else becomes a space."""

    def __missing__(self, code: int) -> str:
        ch = chr(code)
        self[code] = value = ch if unicodedata.category(ch)[0] in "LM" else " "
        return value


_LETTERS_KEPT = _LettersKept()


def _letter_runs(text: str) -> list[str]:
    """Runs of letters with their marks (Thai vowels and tones, Devanagari vowel signs are marks, not letters)."""
    return text.translate(_LETTERS_KEPT).split()  # no letter or mark is a space


def text_words(text: str) -> list[str]:
    """The text's words, case-folded; in scripts written without spaces, its runs of 3 letters (2 in Chinese and
    Japanese), as there is nothing to tell where a word ends."""
    units: list[str] = []
    for word in _letter_runs(text):
        if not written_without_spaces(word):
            units.append(word.casefold())
            continue
        size = 2 if any(script_of(ch) in _SHORT_UNITS for ch in word) else 3
        units += [word[i : i + size] for i in range(max(1, len(word) - size + 1))]
    return units


class MessageContext:
    """What a text is compared with: the usual length of the samples around it, the common words of its language,
    and how often people's own samples look like bare names; computed once for all samples."""

    def __init__(self, items: Sequence[Item], rules: MessageRules) -> None:
        self.rules = rules
        self.lengths = [word_count(item.text or "") for item in items]
        human: dict[str, list[int]] = defaultdict(list)
        self.cells: dict[tuple, list[int]] = defaultdict(list)
        self._people: dict[str, list[tuple[Item, int]]] = defaultdict(list)
        for item, n in zip(items, self.lengths, strict=True):
            if not (item.text or "").strip():
                continue
            if item.origin == "human":
                human[item.language].append(n)
                self._people[item.language].append((item, n))
            self.cells[(item.origin, item.language, item.label)].append(n)
        self.human = {
            language: round(statistics.median(values))
            for language, values in human.items()
            if len(values) >= rules.min_reference
        }
        every = [n for values in human.values() for n in values]
        self.human_all = round(statistics.median(every)) if len(every) >= rules.min_reference else None
        self.common = _common_words(items, self.lengths, rules)
        self._people_share: dict[str, float] = {}

    def usual(self, item: Item, words: int) -> Usual | None:
        if item.language in self.human:
            return Usual(self.human[item.language], "human")
        if self.human_all is not None:
            return Usual(self.human_all, "human_all")
        others = list(self.cells.get((item.origin, item.language, item.label), []))
        if words in others:
            others.remove(words)  # the other samples of the cell
        if len(others) >= self.rules.min_reference:
            return Usual(round(statistics.median(others)), "cell")
        return None

    def has_common_word(self, item: Item) -> bool:
        common = self.common.get(item.language, frozenset())
        return any(word in common for word in text_words(item.text))

    def people_share(self, usual: Usual, language: str) -> float:
        """The share of people's samples (of the language, or of all languages) that read like bare names."""
        key = language if usual.compared_with == "human" else ""
        if key not in self._people_share:
            people = self._people[language] if key else [p for values in self._people.values() for p in values]
            bare = sum(_short_and_bare(item, n, self) is not None for item, n in people)
            self._people_share[key] = bare / len(people) if people else 0.0
        return self._people_share[key]


def _common_words(items: Sequence[Item], lengths: Sequence[int], rules: MessageRules) -> dict[str, frozenset[str]]:
    """Per language: the words in at least `common_share` (and `common_min`) of its distinct longer texts, under more
    than half of its labels."""
    texts: dict[str, dict[str, str | None]] = defaultdict(dict)  # language -> folded text -> label
    labels: dict[str, set[str | None]] = defaultdict(set)
    for item, n in zip(items, lengths, strict=True):
        if n > rules.max_words:
            texts[item.language].setdefault(" ".join(text_words(item.text)), item.label)
            labels[item.language].add(item.label)
    common: dict[str, frozenset[str]] = {}
    for language, by_text in texts.items():
        count: dict[str, int] = defaultdict(int)
        under: dict[str, set[str | None]] = defaultdict(set)
        for folded, label in by_text.items():
            for word in set(folded.split()):
                count[word] += 1
                under[word].add(label)
        needed = max(rules.common_min, rules.common_share * len(by_text))
        spread = len(labels[language]) // 2 + 1
        common[language] = frozenset(w for w, n in count.items() if n >= needed and len(under[w]) >= spread)
    return common


def _short_and_bare(item: Item, words: int, context: MessageContext) -> Usual | None:
    text = item.text or ""
    rules = context.rules
    if not 0 < words <= rules.max_words or sentence_like(text):
        return None
    usual = context.usual(item, words)
    if usual is None or usual.words < max(rules.min_usual_words, rules.shorter_by * words):
        return None
    return None if context.has_common_word(item) else usual


def bare_name(item: Item, words: int, context: MessageContext) -> Usual | None:
    """The usual length the text falls short of, when it reads like a category name rather than a message: short,
    no sentence, none of its language's common words, where samples are much longer and people's own samples
    rarely look like that."""
    usual = _short_and_bare(item, words, context)
    if usual is None:
        return None
    if usual.compared_with != "cell" and context.people_share(usual, item.language) >= context.rules.people_share:
        return None
    return usual


def bare_name_reason(item: Item, usual: Usual, language_name: str) -> str:
    shown = " ".join((item.text or "").split())
    where = {
        "human": f"people's samples in {language_name} have",
        "human_all": "people's samples have",
        "cell": "the other samples of this cell have",
    }[usual.compared_with]
    return (
        f"Reads like a category name ('{shown}'), not like a message someone would write: {where} about "
        f"{usual.words} words."
    )

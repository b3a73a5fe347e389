"""Turning an LLM's answer into one of the project's labels, tolerantly but never by guessing.

Tolerated: case, spacing, punctuation and symbols ("Science & Technology", "alarm_query", "**Travel**."), a label's
names and aliases in any of the project's languages (the answer's language first), a plural or singular form of a
Latin-script name, and extra words around the label ("The label is: travel", '{"label": "travel"}', a sentence of
explanation after a first line that is exactly a label). An answer that names no label is `unparseable`; one that
names two different labels is `ambiguous`: both are counted separately, and neither is ever mapped to a label.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

LEAD_WORDS = ("label", "answer", "category", "class", "topic", "intent", "classification", "prediction")
# scripts written without spaces between words: a label may touch the words around it
_UNSPACED = (
    (0x0E00, 0x0EFF),  # Thai, Lao
    (0x1000, 0x109F),  # Myanmar
    (0x1780, 0x17FF),  # Khmer
    (0x3040, 0x30FF),  # Hiragana, Katakana
    (0x3400, 0x4DBF),  # CJK extension A
    (0x4E00, 0x9FFF),  # CJK
)


class LabelLike(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def names(self) -> dict[str, list[str]]: ...


@dataclass(frozen=True)
class MappedAnswer:
    label: str | None
    outcome: str  # label | ambiguous | unparseable
    reason: str = ""  # for people: what was found, or why nothing was

    @property
    def ok(self) -> bool:
        return self.label is not None


def normalize(text: str) -> str:
    """Casefolded, NFKC, punctuation and symbols turned into spaces (marks of Thai or Hebrew kept), spaces collapsed."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    kept = "".join(" " if unicodedata.category(ch)[0] in "PSZC" else ch for ch in folded)
    return " ".join(kept.split())


def _variants(name: str) -> set[str]:
    """The normalised name, plus "x and y" for "x/y", plus the other number of a Latin-script last word."""
    base = normalize(name)
    if not base:
        return set()
    found = {base}
    if "/" in name:
        parts = [normalize(p) for p in name.split("/") if normalize(p)]
        found.add(" and ".join(parts))
    for form in list(found):
        last = form.rsplit(" ", 1)[-1]
        if last.isascii() and last.isalpha() and len(last) >= 4:
            found.add(form[:-1] if last.endswith("s") else form + "s")
    return found


def _unspaced(ch: str) -> bool:
    code = ord(ch)
    return any(low <= code <= high for low, high in _UNSPACED)


def _at_boundary(text: str, start: int, end: int) -> bool:
    before = start == 0 or text[start - 1] == " " or _unspaced(text[start - 1]) or _unspaced(text[start])
    after = end == len(text) or text[end] == " " or _unspaced(text[end]) or _unspaced(text[end - 1])
    return before and after


class LabelVocabulary:
    """Every way of writing each label, in two tiers: the label's own name and its names in the answer's language
    first, then its names in the other languages."""

    def __init__(self, labels: Sequence[LabelLike]) -> None:
        self.labels = [label.name for label in labels]
        self._specs = list(labels)
        self._tables: dict[tuple[str | None, bool], dict[str, set[str]]] = {}

    @classmethod
    def from_names(cls, names: Iterable[str]) -> LabelVocabulary:
        return cls([_Plain(name) for name in names])

    def aliases(self, language: str | None, *, everywhere: bool) -> dict[str, set[str]]:
        """{normalised way of writing: the labels written that way} (more than one label: ambiguous)."""
        key = (None if everywhere else language, everywhere)
        if key not in self._tables:
            self._tables[key] = self._build(language, everywhere)
        return self._tables[key]

    def _build(self, language: str | None, everywhere: bool) -> dict[str, set[str]]:
        table: dict[str, set[str]] = {}
        for spec in self._specs:
            written = [spec.name]
            for code, names in spec.names.items():
                if everywhere or code == language:
                    written += names
            for name in written:
                for variant in _variants(name):
                    table.setdefault(variant, set()).add(spec.name)
        return table

    def map(self, answer: str | None, language: str | None = None) -> MappedAnswer:
        text = normalize(answer or "")
        if not text:
            return MappedAnswer(None, "unparseable", "The answer is empty.")
        for everywhere in (False, True):
            found = _match(text, answer or "", self.aliases(language, everywhere=everywhere))
            if found is not None:
                return found
        return MappedAnswer(None, "unparseable", "The answer names none of the labels.")


@dataclass(frozen=True)
class _Plain:
    name: str
    names: dict[str, list[str]] = field(default_factory=dict)


def _decide(labels: set[str], how: str) -> MappedAnswer:
    if len(labels) == 1:
        label = next(iter(labels))
        return MappedAnswer(label, "label", how)
    return MappedAnswer(None, "ambiguous", "The answer names several labels: " + ", ".join(sorted(labels)) + ".")


def _first_line(raw: str) -> str:
    for line in raw.splitlines():
        words = normalize(line).split(" ")
        while len(words) > 1 and words[0] in LEAD_WORDS:
            words = words[1:]
        if words != [""]:
            return " ".join(words)
    return ""


def _match(text: str, raw: str, aliases: dict[str, set[str]]) -> MappedAnswer | None:
    if text in aliases:
        return _decide(aliases[text], "The answer is the label.")
    first = _first_line(raw)
    if first in aliases and len(aliases[first]) == 1:
        return _decide(aliases[first], "The answer's first line is the label.")
    spans: list[tuple[int, int, str]] = []
    for alias, labels in aliases.items():
        start = text.find(alias)
        while start != -1:
            end = start + len(alias)
            if _at_boundary(text, start, end):
                spans += [(start, end, label) for label in labels]
            start = text.find(alias, start + 1)
    if not spans:
        return None
    # a name inside a longer name found at the same place ("health" in "mental health") does not count
    kept = {
        label
        for start, end, label in spans
        if not any(s <= start and end <= e and (e - s) > (end - start) for s, e, _ in spans)
    }
    return _decide(kept, "The answer names the label among other words.")

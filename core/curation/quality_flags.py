"""Flags for samples that are poor training material: too short or too long, empty once cleaned, not really text,
several texts run together, naming their label (a "label leak"), or a bare category name where the samples are
messages (`not_a_message`, core.curation.bare_names).

Pure functions over samples, the project's labels and each sample's length in the encoder's subword tokens
(`core.curation.subword_tokens.token_counts`: Thai and Chinese have no spaces, so words are no measure). Nothing
is deleted: every finding is a flag with a sentence a linguist can read.

Label leaks — which names count, and where:
- The sample's own label, under every name it has: the label's name, its per-language names and aliases in ALL
  the project's languages (a Swahili sample that says "sport" leaks as much as one that says "michezo"). The model
  would learn the word instead of the meaning, and real texts rarely name their class.
- Other labels' names too (rule `other_labels`): "this is not about sport" labelled politics still puts the
  concept "sport" into a politics sample; either the label is wrong or the word teaches the model a misleading
  shortcut. The reason says which case it is, so a person can tell them apart.
- Only samples that have a label, and by default only synthetic ones (rule `human_kinds`): an LLM writing a
  "sports" sample that says "sports" is the habit this catches; people's own texts name topics naturally. On the
  paper's topic data the synthetic samples name their own label about 3 times as often as the human ones (11%
  against 4%; 26% against 8% in Thai).
- Matching is case-insensitive after Unicode NFKC, on whole words, so label "art" does not match "party". Names
  written in a script without spaces (Thai, Lao, Khmer, Burmese, Chinese, Japanese) match anywhere in the text.
  `alarm_query` and `well-being` also match "alarm query" and "well being"; `science/technology` also matches
  "science" and "technology" alone. Inflected forms ("sports" for "sport", Hebrew's attached prefixes) only match
  when they are given as aliases.
"""

from __future__ import annotations

import re
import statistics
import unicodedata
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from core.curation.bare_names import MessageContext, MessageRules, bare_name, bare_name_reason
from core.curation.duplicate_flags import Item
from core.language_names import language_name
from core.store.projects import LabelSpec
from core.text_scripts import written_without_spaces

QUALITY_KINDS = (
    "too_short",
    "too_long",
    "label_leak",
    "empty_after_cleaning",
    "not_text",
    "multi_line",
    "not_a_message",
)

_URL = re.compile(r"(?:https?://|ftp://|www\.)\S+|\b[\w-]+(?:\.[\w-]+)*\.[a-z]{2,}/\S*", re.IGNORECASE)
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_MENTION = re.compile(r"(?<!\w)@[A-Za-z0-9_]+")  # handles are ASCII: "@ไปคะ" is Thai text, not a handle
_VARIANT_SEPARATORS = re.compile(r"[_\-]+")
_ALTERNATIVES = re.compile(r"\s*[/|]\s*")


@dataclass(frozen=True)
class QualityRules:
    """When a sample is flagged. Defaults tuned on the paper's synthetic data (8 languages x 3 tasks, 29,772 texts,
    multilingual-e5-small tokens): apart from label leaks they flag 163 samples (0.5%), and those read as real
    problems: several samples in one text, list markers, a pasted news paragraph in a sentiment set.

    Lengths are in the encoder's subword tokens, without special tokens.
    """

    # 1-2 tokens ("ok", "yes!") say nothing about a label; intents as short as "lower the volume" (3) are fine
    min_tokens: int = 3
    # longer than any one sample in the paper's data; far beyond what a short-text classifier is trained on
    max_tokens: int = 128
    # ... or this many times the median length of its (origin, language, label) cell: a single sentence rarely
    # is; several samples run together (an answer that was not split) nearly always are
    long_factor: float = 3.0
    long_floor: int = 32  # the relative rule needs at least this many tokens (short cells have short medians)
    long_min_cell: int = 20  # and a cell with at least this many samples, so that its median means something
    # share of letters among the visible characters (a link or an @mention counts as one non-letter): below it,
    # the text is mostly digits, punctuation, symbols or links
    min_letter_share: float = 0.5
    other_labels: bool = True  # label leaks: also other labels' names (see the module's docstring)
    # the checks that also run on people's own samples; all of them run on synthetic ones. People write short
    # ("alarms"), long (reviews), on several lines (tweets) and name topics naturally: flagging that is noise,
    # while an LLM doing it is a habit to catch. An empty text or one that is not text is worth a look anywhere.
    human_kinds: tuple[str, ...] = ("empty_after_cleaning", "not_text")
    # a bare category name or heading among messages (core.curation.bare_names says how "messages" is decided)
    messages: MessageRules = field(default_factory=MessageRules)


DEFAULT_RULES = QualityRules()


# --- cleaning ----------------------------------------------------------------------------------------------------


def strip_links(text: str, placeholder: str = " ") -> str:
    """The text with URLs, e-mail addresses and @mentions replaced by `placeholder`."""
    if "@" not in text and "." not in text and ":" not in text:  # none of the patterns can match
        return text
    for pattern in (_URL, _EMAIL, _MENTION):
        text = pattern.sub(placeholder, text)
    return text


def clean_text(text: str) -> str:
    """What is left to learn from: no links, @mentions, emoji, symbols or punctuation; single spaces.

    Letters (with their combining marks) and digits stay.
    """
    cleaned = " ".join(strip_links(text).translate(_CLEANING).split())
    # marks with no letter to sit on (left over from emoji sequences) are nothing to learn from
    return cleaned if cleaned.translate(_MARKS_DROPPED).replace(" ", "") else ""


def _is_selector(ch: str) -> bool:
    """Variation selectors and skin tones: parts of an emoji, not characters of their own."""
    code = ord(ch)
    return 0xFE00 <= code <= 0xFE0F or 0xE0100 <= code <= 0xE01EF or 0x1F3FB <= code <= 0x1F3FF


class _Table(dict[int, str | None]):
    """A str.translate table filled as characters are met (a text is read at C speed, each new character judged
    once): `judge(ch)` gives what the character becomes (None: dropped)."""

    def __init__(self, judge: Callable[[str], str | None]) -> None:
        super().__init__()
        self._judge = judge

    def __missing__(self, code: int) -> str | None:
        self[code] = value = self._judge(chr(code))
        return value


def _cleaning(ch: str) -> str:
    """Letters and digits stay, and marks other than emoji selectors; anything else becomes a space."""
    category = unicodedata.category(ch)[0]
    return ch if category in "LN" or (category == "M" and not _is_selector(ch)) else " "


def _letter_class(ch: str) -> str:
    """For letter_share: a space for what is not seen (spaces, format characters, emoji selectors), "L" for a letter
    or mark, the character itself for any other visible one (so that a run of one repeated character shows)."""
    category = unicodedata.category(ch)
    if ch.isspace() or category == "Cf" or _is_selector(ch):
        return " "
    return "L" if category[0] in "LM" else ch


_CLEANING = _Table(_cleaning)
_MARKS_DROPPED = _Table(lambda ch: None if unicodedata.category(ch)[0] == "M" else ch)
_LETTER_CLASSES = _Table(_letter_class)
_REPEATS = re.compile(r"([^L ])\1+")  # a run of one repeated visible non-letter


def letter_share(text: str) -> float:
    """Share of letters (with their marks) among the visible characters. A link or an @mention counts as one
    non-letter (it is one thing, however long its address), and so does a run of one repeated non-letter ("!!!",
    "......", "👍👍👍": emphasis, not content); emoji selectors and joiners do not count."""
    classes = strip_links(text, " # ").translate(_LETTER_CLASSES)
    letters = classes.count("L")
    repeated = sum(len(run.group()) - 1 for run in _REPEATS.finditer(classes))  # all but the first of each run
    visible = len(classes) - classes.count(" ") - repeated
    return letters / visible if visible else 0.0


# --- label leaks -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LabelTerm:
    label: str
    term: str  # folded (NFKC, case-folded, single spaces): what is looked for
    shown: str  # the form found, as the project writes it: "michezo", "technology" (of "science/technology")
    language: str | None  # the language whose names it comes from; None for the label's own name
    unspaced: bool = False  # written in a script without spaces: matched anywhere, not on whole words


@dataclass(frozen=True)
class LeakMatch:
    term: LabelTerm
    own: bool  # the sample's own label


def fold(text: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def _variants(name: str) -> list[str]:
    """The name, its parts when it lists alternatives ("science/technology"), and each with '_' / '-' as spaces."""
    forms = [name]
    parts = [p for p in _ALTERNATIVES.split(name) if p]
    if len(parts) > 1:
        forms.extend(parts)
    result: list[str] = []
    for form in forms:
        for variant in (form, _VARIANT_SEPARATORS.sub(" ", form)):
            variant = " ".join(variant.split())
            if _meaningful(variant) and fold(variant) not in {fold(r) for r in result}:
                result.append(variant)
    return result


def _meaningful(term: str) -> bool:
    """Worth looking for: two letters at least (a one-letter name would match everywhere); numbers are not names."""
    return sum(1 for ch in term if unicodedata.category(ch)[0] == "L") >= 2


def label_terms(label: LabelSpec) -> list[LabelTerm]:
    """Every form of a label's names to look for: its name, then its names and aliases in each language (a name
    shared by several languages, like "sport", is listed for each of them)."""
    terms: list[LabelTerm] = []
    sources: list[tuple[str, str | None]] = [(label.name, None)]
    sources += [(name, code) for code, names in sorted(label.names.items()) for name in names]
    for name, code in sources:
        for variant in _variants(name):
            folded = fold(variant)
            term = LabelTerm(label.name, folded, variant, code, unspaced=written_without_spaces(folded))
            if term not in terms:
                terms.append(term)
    return terms


def _word_char(ch: str) -> bool:
    return ch == "_" or unicodedata.category(ch)[0] in "LMN"


def contains_term(folded_text: str, term: str, unspaced: bool | None = None) -> bool:
    """Whole-word occurrence in a folded text; anywhere for terms in scripts written without spaces."""
    if unspaced is None:
        unspaced = written_without_spaces(term)
    if unspaced:
        return term in folded_text
    start = folded_text.find(term)
    while start >= 0:
        end = start + len(term)
        before = folded_text[start - 1] if start > 0 else " "
        after = folded_text[end] if end < len(folded_text) else " "
        if not _word_char(before) and not _word_char(after):
            return True
        start = folded_text.find(term, start + 1)
    return False


def find_leaks(
    text: str,
    label: str | None,
    terms: Sequence[LabelTerm],
    *,
    language: str | None = None,
    other_labels: bool = True,
) -> list[LeakMatch]:
    """The label names a text contains, at most one match per label, its own label's first.

    When several names of one label match, the one in the text's `language` is reported, else the label's name.
    """
    if label is None:
        return []
    folded = fold(text)
    hits: dict[str, list[LabelTerm]] = defaultdict(list)
    for term in terms:
        if (term.label == label or other_labels) and contains_term(folded, term.term, term.unspaced):
            hits[term.label].append(term)
    matches = []
    for name, found in hits.items():
        best = min(found, key=lambda t: (t.language != language, t.language is not None))
        matches.append(LeakMatch(term=best, own=name == label))
    return sorted(matches, key=lambda m: not m.own)


def _named(term: LabelTerm) -> str:
    if term.language is not None:
        return f"'{term.label}' ({language_name(term.language)}: '{term.shown}')"
    if fold(term.shown) == fold(term.label):
        return f"'{term.label}'"
    return f"'{term.label}' (as '{term.shown}')"


def leak_reason(matches: list[LeakMatch], label: str) -> str:
    first = matches[0]
    if first.own:
        return f"Contains the label name {_named(first.term)}: the model would learn the word, not the meaning."
    return (
        f"Names another label, {_named(first.term)}, but is labelled '{label}': check the label; if it is right, "
        "the word would teach the model the wrong thing."
    )


# --- all rules ---------------------------------------------------------------------------------------------------


def _flag(item: Item, kind: str, reason: str, **details: Any) -> dict[str, Any]:
    return {"sample_id": item.id, "kind": kind, "reason": reason, "details": details}


def _cell(item: Item) -> tuple[str, str, str | None]:
    return (item.origin, item.language, item.label)


def _cell_medians(items: Sequence[Item], counts: Sequence[int], min_cell: int) -> dict[tuple, float]:
    cells: dict[tuple, list[int]] = defaultdict(list)
    for item, count in zip(items, counts, strict=True):
        cells[_cell(item)].append(count)
    return {key: statistics.median(values) for key, values in cells.items() if len(values) >= min_cell}


def _length_flag(
    item: Item, count: int, median: float | None, rules: QualityRules, *, several_lines: bool
) -> dict[str, Any] | None:
    if count < rules.min_tokens:
        return _flag(
            item,
            "too_short",
            f"Only {count} token{'s' if count != 1 else ''} long (the minimum is {rules.min_tokens}): too little to "
            "learn from.",
            tokens=count,
            minimum=rules.min_tokens,
        )
    if count > rules.max_tokens:
        return _flag(
            item,
            "too_long",
            f"{count} tokens long (the maximum is {rules.max_tokens}): longer than one sample should be.",
            tokens=count,
            maximum=rules.max_tokens,
        )
    if median and count >= rules.long_floor and count > rules.long_factor * median:
        where = f"'{item.label}'" if item.label else "unlabelled samples"
        why = "its lines are probably" if several_lines else "it may be"
        return _flag(
            item,
            "too_long",
            f"{count} tokens long, {count / median:.1f} times the usual length of {where} in "
            f"{language_name(item.language)} ({median:g}): {why} several samples run together.",
            tokens=count,
            median=median,
        )
    return None


def quality_flags(
    items: Sequence[Item],
    labels: Sequence[LabelSpec],
    counts: Sequence[int],
    rules: QualityRules = DEFAULT_RULES,
) -> list[dict[str, Any]]:
    """Flags `{"sample_id", "kind", "reason", "details"}` for the items (kinds: QUALITY_KINDS).

    `counts[i]` is the subword-token length of `items[i]`. A text that is empty once cleaned gets only that flag.
    """
    if len(counts) != len(items):
        raise ValueError(f"expected one token count per sample ({len(items)}), got {len(counts)}")
    terms = [term for label in labels for term in label_terms(label)]
    medians = _cell_medians(items, counts, rules.long_min_cell)
    messages = MessageContext(items, rules.messages)
    flags: list[dict[str, Any]] = []
    for item, count, words in zip(items, counts, messages.lengths, strict=True):
        checks = QUALITY_KINDS if item.origin == "synthetic" else rules.human_kinds
        if not clean_text(item.text):
            if "empty_after_cleaning" in checks:
                flags.append(
                    _flag(
                        item,
                        "empty_after_cleaning",
                        "Nothing is left once links, @mentions, emoji and punctuation are removed.",
                    )
                )
            continue
        share = letter_share(item.text)
        not_text = share < rules.min_letter_share
        if "not_text" in checks and not_text:
            flags.append(
                _flag(
                    item,
                    "not_text",
                    f"Mostly digits, symbols or links (only {share:.0%} letters): not really text.",
                    letter_share=round(share, 3),
                )
            )
        lines = [line for line in item.text.splitlines() if line.strip()]
        several_lines = len(lines) > 1
        multi_line = several_lines and "multi_line" in checks
        if multi_line:
            flags.append(
                _flag(
                    item,
                    "multi_line",
                    f"Spreads over {len(lines)} lines: it may be several samples run together, or a list marker "
                    "left over from the answer.",
                    lines=len(lines),
                )
            )
        # several lines already say "several samples run together": the length relative to the cell adds nothing
        median = None if multi_line else medians.get(_cell(item))
        length = _length_flag(item, count, median, rules, several_lines=several_lines)
        if length and length["kind"] in checks:
            flags.append(length)
        if item.label is not None and "label_leak" in checks:
            matches = find_leaks(item.text, item.label, terms, language=item.language, other_labels=rules.other_labels)
            if matches:
                flags.append(
                    _flag(
                        item,
                        "label_leak",
                        leak_reason(matches, item.label),
                        matches=[
                            {"label": m.term.label, "name": m.term.shown, "language": m.term.language, "own": m.own}
                            for m in matches
                        ],
                    )
                )
        if "not_a_message" in checks and not not_text and (usual := bare_name(item, words, messages)) is not None:
            flags.append(
                _flag(
                    item,
                    "not_a_message",
                    bare_name_reason(item, usual, language_name(item.language)),
                    words=words,
                    usual_words=usual.words,
                    compared_with=usual.compared_with,
                )
            )
    return flags

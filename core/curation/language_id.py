"""Language identification for curation: flag samples that are not written in the language of their cell.

Two detectors that ship their models inside their packages (nothing is downloaded):
- py3langid 0.4 (140 languages, naive Bayes over byte n-grams) judges every text: about 6,000 texts/s on one core.
- lingua 2.1 (75 languages, low-accuracy mode) gives a second opinion where py3langid is unsure (mostly short
  texts), and is the only detector for the three languages py3langid lacks (Maori, Tswana, Tsonga).

Both consider ALL the languages they know, not only the project's: an English sentence in a Swahili cell, or a
Spanish one in an Italian project, must be caught although English or Spanish is not a project language. Keeping
only the project's languages as candidates is faster and looks more accurate on in-project text, but makes every
other language invisible. The choice, the thresholds and the alternatives are measured in
bench/bench_language_id.py.

Three rules, in this order (a sample gets one flag, `details["rule"]` says which):
- "detected": a detector is confident in another language ("Looks like English (confidence 0.98), not Swahili.");
- "script": nearly all its letters are in scripts its language does not use (core/language_scripts.py), whatever
  the detectors say: Thai in Latin letters, romanised Hindi, Latin text in a Russian cell ("Written in Latin
  letters; Thai is written in Thai script."). Close relatives share their scripts (Serbian Cyrillic is fine in a
  Croatian cell); a script that a fifth of the project's own human samples of the language are written in is
  accepted (a project of romanised Hindi chats);
- "unsure": no language is sure, and both detectors give the expected language next to nothing, in a text long
  enough to judge: the mixed-up English and invented words that small models write for a low-resource language
  ("Does not read as Swahili: the language detectors give Swahili 1% (their best guess, English, only 49%).").

Not flagged, on purpose:
- close relatives the detectors cannot tell apart (Indonesian/Malay, Croatian/Bosnian/Serbian, Norwegian
  Bokmål/Nynorsk) count as one language, and their probabilities are added up;
- variants in py3langid's list count as their language (Ancient Hebrew as Hebrew, Nigerian Pidgin as English);
- a confusable neighbour (Slovenian and Croatian or Slovak, Hindi and Marathi, ...) unless the detector is very sure;
- classical and constructed languages (Latin, Esperanto, ...) unless the project has them;
- texts with fewer than 5 letters (empty, digits, emoji: the quality filters handle those); for their script,
  fewer than 8 letters once links, @mentions and #hashtags are left out; for the "unsure" rule, fewer than 30
  letters or 5 words;
- Thai, Hebrew... sentences with English names in them ("ชอบ iPhone 15 Pro Max มาก"): the script rule needs 90% of
  the letters in a foreign script;
- samples whose language neither detector knows: they are counted as skipped, and the report says why.
"""

from __future__ import annotations

import functools
import logging
import multiprocessing
import os
import re
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field, replace
from itertools import islice
from typing import Any

from core.curation.duplicate_flags import Item
from core.curation.quality_flags import strip_links
from core.language_names import language_name, normalize_code
from core.language_scripts import language_scripts
from core.text_scripts import (
    LATIN,
    letter_scripts,
    letters_outside,
    script_phrase,
    scripts_phrase,
    word_count,
)

_log = logging.getLogger(__name__)
WRONG_LANGUAGE = "wrong_language"
RULES = ("detected", "script", "unsure")  # the ways a sample is found not to be in its language (details["rule"])
UNDETERMINED = "und"  # ISO 639-2 "undetermined"
DETECT_SLICE = 250  # samples per detect call in `check_languages`: the unit of its progress reports
# from this many samples on, `check_languages` detects in one process per core (py3langid is Python: one core each;
# a million samples take minutes of CPU), PARALLEL_SLICE samples per call
PARALLEL_MIN = 20_000
PARALLEL_SLICE = 2_000


@dataclass(frozen=True)
class LanguageRules:
    """When a sample is flagged. Chosen on the paper's human test sets (8 languages x 3 tasks, 20,611 texts in the
    language of their file) and on the same texts put into each of the 7 other languages' cells: see the docstring
    of bench/bench_language_id.py for what each value was measured against.
    """

    # only the beginning of a long text is read: the language is clear long before, and py3langid's time grows
    # with the length (on the paper's reviews and tweets: a third less time, one false alarm fewer)
    max_chars: int = 300
    # fewer letters than this: not judged. Digits, punctuation and emoji carry no language; the quality filters
    # flag such texts
    min_letters: int = 5
    # py3langid's probability (close relatives added up) at which its answer stands on its own. At 0.7: 2 more
    # false alarms (English and Swahili files) for 1.4 points more wrong-cell intents caught; at 0.9: 1.7 points
    # fewer caught, no fewer false alarms
    confident: float = 0.8
    # a confusable neighbour of the expected language (Slovenian read as Croatian or Slovak) must be this sure: at
    # 0.8, 16 of the 565 Slovenian human intents were flagged; at 0.95 none
    neighbour_confident: float = 0.95
    # an unsure py3langid answer (at least `second_opinion_floor`) stands when lingua names the same language with
    # at least `second_opinion`: 88% of the wrong-cell intents caught instead of 79%, for 1 more false alarm in
    # 20,611 texts. At 0.3, one more false alarm and no more caught; without the floor, 11 more false alarms
    # (lingua "confirms" guesses py3langid gave 0.1: German "stopp" read as Norwegian)
    second_opinion: float = 0.5
    second_opinion_floor: float = 0.4
    # classical and constructed languages: never what an LLM writes when asked for a modern language, but a
    # frequent wrong answer on short texts ("cum putem obtine credit" read as Latin). Ignored unless the project
    # has them
    unlikely: tuple[str, ...] = ("la", "eo", "vo", "io", "ia", "ie")

    # --- the script (core.language_scripts): a text whose letters are nearly all in scripts its language does not
    # use is flagged whatever the detectors say. On the paper's 92,298 human texts, texts with at least 70% of their
    # letters foreign include 21 Thai sentences full of brand names ("Tom Fordก็ทำLiquid lipstick แล้วววว": 66%,
    # "ชอบ Biore Perfect Cleansibg Water สูตร OilClear": 83%); from 85% up only English tweets are left ("Singha is
    # the best beer" in the Thai file), and 0.9 keeps a margin: 11 flags (1.2 per 10,000), all English or no words
    script_foreign_share: float = 0.9
    # fewer letters than this (links, @mentions and #hashtags left out) are not judged by their script: "HBD&HNY"
    script_min_letters: int = 8
    # a script the language does not use is accepted in a project where at least this share (and `romanised_min`)
    # of the people's samples of that language are written in it: romanised Hindi in a project of Hinglish chats
    romanised_share: float = 0.2
    romanised_min: int = 3

    # --- unsure detectors: a text long enough to judge, in a language both detectors know, to which py3langid gives
    # less than `unsure_floor` and lingua less than `unsure_second_floor` (close relatives added up) while no
    # language is sure, does not read as its language. Small models' Swahili ("Invoices payment hapana fomu
    # processing kwa") gets 0.00 from lingua and 0.00-0.18 from py3langid. On the paper's 92,298 human test and
    # train texts (bench/bench_language_id.py --garbage): at 0.1 / 0.02 and 30 letters / 5 words, 13 flags (1.4 per
    # 10,000: code-switching, "kirim email ke andra at gmail dot com", Romanian without diacritics); 0.05 / 0.02:
    # 4, but half the made-up garbage it catches gets 0.05-0.08 from py3langid; 0.2 / 0.02: 24; at 20 letters / 4
    # words: 42 (0.1 / 0.02)
    unsure_floor: float = 0.1
    unsure_second_floor: float = 0.02
    unsure_min_letters: int = 30
    unsure_min_words: int = 5


DEFAULT_RULES = LanguageRules()

# py3langid labels (and ISO 639-3 project codes) that are a variant of one language the studio knows under
# another code: they are reported, and compared, as that language
_SAME_AS: dict[str, str] = {
    "hbo": "he",  # Ancient Hebrew: modern Hebrew with biblical quotes or spelling lands here
    "pcm": "en",  # Nigerian Pidgin: very short English is often read as it
    "ary": "ar",
    "arz": "ar",
    "grc": "el",
    "wuu": "zh",
    "uzs": "uz",
    "uzn": "uz",
    "sdh": "ku",
    "kmr": "ku",
    "fuv": "ff",
    "gug": "gn",
    "gom": "kok",
    "ext": "es",
    "zsm": "ms",
    "fil": "tl",
    "azj": "az",
    "khk": "mn",
    "plt": "mg",
    "pbt": "ps",
    "gaz": "om",
    "prs": "fa",
    "ydd": "yi",
    "quy": "qu",
}

# names for py3langid labels that are not in core.language_names
_EXTRA_NAMES = {"bcl": "Central Bikol", "gcf": "Guadeloupean Creole", "gcr": "Guianese Creole", "guw": "Gun"}

# languages the detectors cannot tell apart reliably: one language for flagging, their probabilities added up
# (207 of the 3,035 Indonesian human test texts are "Malay" for py3langid, 419 for lingua)
_CLOSE_GROUPS: tuple[frozenset[str], ...] = (
    frozenset({"id", "ms"}),
    frozenset({"hr", "bs", "sr"}),
    frozenset({"no", "nb", "nn"}),
)

# distinct languages that are easily mistaken for each other in short texts: flagged only when very sure
_NEIGHBOURS: tuple[tuple[str, str], ...] = (
    ("sl", "hr"),
    ("sl", "sk"),
    ("cs", "sk"),
    ("da", "no"),
    ("da", "sv"),
    ("sv", "no"),
    ("es", "gl"),
    ("pt", "gl"),
    ("es", "ca"),
    ("ca", "oc"),
    ("es", "an"),
    ("it", "vec"),
    ("it", "lij"),
    ("it", "co"),
    ("fr", "gcf"),
    ("fr", "gcr"),
    ("ht", "gcf"),
    ("ht", "gcr"),
    ("af", "nl"),
    ("nl", "fy"),
    ("nl", "li"),
    ("de", "lb"),
    ("be", "ru"),
    ("be", "uk"),
    ("ru", "uk"),
    ("bg", "mk"),
    ("lv", "ltg"),
    ("hi", "mr"),
    ("hi", "ne"),
    ("mr", "ne"),
    ("hi", "sa"),
    ("fa", "tg"),
    ("tr", "az"),
    ("kk", "ky"),
    ("zu", "xh"),
    ("st", "nso"),
    ("st", "tn"),
    ("tl", "bcl"),
    ("id", "jv"),
    ("ms", "jv"),
    ("id", "su"),
)


@functools.cache
def canonical(code: str) -> str | None:
    """The code a detector label or project language is compared as: its key in core.language_names, with variants
    folded (Ancient Hebrew -> he, Filipino -> tl); None for unknown codes."""
    key = code.strip().lower()
    if key in _SAME_AS:
        return _SAME_AS[key]
    if key in _EXTRA_NAMES:
        return key
    norm = normalize_code(key)
    return _SAME_AS.get(norm, norm) if norm is not None else None


def _plain(label: str) -> bool:
    return canonical(label) == label and len(_group(label)) == 1


def _group(code: str) -> frozenset[str]:
    for group in _CLOSE_GROUPS:
        if code in group:
            return group
    return frozenset({code})


def _group_of(code: str) -> frozenset[str]:
    return _group(canonical(code) or code)


def same_language(a: str, b: str) -> bool:
    """True when a and b are the same language for flagging (identical, variants or close relatives)."""
    return _group_of(a) == _group_of(b)


def neighbours(a: str, b: str) -> bool:
    """True for distinct languages that are easily mistaken for each other (flagged only when very sure)."""
    ga, gb = _group_of(a), _group_of(b)
    return any((x in ga and y in gb) or (x in gb and y in ga) for x, y in _NEIGHBOURS)


def display_name(code: str) -> str:
    if code == UNDETERMINED:
        return "undetermined"
    return _EXTRA_NAMES.get(code) or language_name(code)


def enough_letters(text: str, minimum: int) -> bool:
    return len(list(islice((ch for ch in text if ch.isalpha()), minimum))) >= minimum


_HASHTAG = re.compile(r"(?<!\w)#\w+")


def words_part(text: str) -> str:
    """What is judged for its script and length: the text without links, e-mail addresses, @mentions and
    #hashtags (in a Thai or Hebrew tweet they are often English)."""
    return _HASHTAG.sub(" ", strip_links(text))


def long_enough(text: str, rules: LanguageRules) -> bool:
    """Long enough for the detectors' doubt to mean something (`LanguageRules.unsure_min_letters` and `_words`)."""
    part = words_part(text)
    return enough_letters(part, rules.unsure_min_letters) and word_count(part) >= rules.unsure_min_words


@dataclass(frozen=True)
class Detection:
    language: str  # canonical ISO code of the most likely language (close relatives: the likeliest of them); "und"
    confidence: float  # 0..1: the detector's probability for that language (close relatives added up)
    reliable: bool  # confident enough to act on: py3langid alone, or confirmed by lingua
    detector: str  # "py3langid", "py3langid+lingua", "lingua", or "" when undetermined
    # the detectors' probability for the expected language (close relatives added up; the higher of the two), only
    # where both give it next to nothing (`LanguageRules.unsure_floor` and `unsure_second_floor`)
    expected_share: float | None = None

    @property
    def undetermined(self) -> bool:
        return self.language == UNDETERMINED


_NOTHING = Detection(UNDETERMINED, 0.0, False, "")


def _best(scores: Iterable[tuple[str, float]], ignore: frozenset[str] = frozenset()) -> tuple[str, float]:
    """The likeliest language once variants are folded in and ignored languages dropped, and its confidence: its
    share of the remaining probability, close relatives added up. The winner is chosen on its own probability, not
    its group's: Slovenian at 0.40 stays ahead of Croatian 0.25 + Serbian 0.20 + Bosnian 0.15."""
    code, share, _ = _best_and_share(scores, ignore, None)
    return code, share


def _best_and_share(
    scores: Iterable[tuple[str, float]], ignore: frozenset[str], want: str | None
) -> tuple[str, float, float]:
    """`_best`, and the share of the probability that goes to `want` and its close relatives (0 without `want`)."""
    by_code: dict[str, float] = {}
    for label, probability in scores:
        code = canonical(label)
        if code is not None and code not in ignore:
            by_code[code] = by_code.get(code, 0.0) + probability
    total = sum(by_code.values())
    if total <= 0:
        return UNDETERMINED, 0.0, 0.0
    code = max(by_code, key=by_code.__getitem__)
    share = sum(by_code.get(member, 0.0) for member in _group(code)) / total
    wanted = sum(by_code.get(member, 0.0) for member in _group(want)) / total if want else 0.0
    return code, min(share, 1.0), min(wanted, 1.0)


class LanguageDetector:
    """py3langid for every text, lingua for a second opinion; both loaded on first use."""

    def __init__(self, rules: LanguageRules = DEFAULT_RULES) -> None:
        self.rules = rules

    # --- the two detectors ---------------------------------------------------------------------------------------
    @functools.cached_property
    def _langid(self) -> Any:
        return _langid_identifier()

    @functools.cached_property
    def _lingua(self) -> Any:
        return _lingua_detector()

    @functools.cached_property
    def langid_codes(self) -> frozenset[str]:
        return frozenset(c for c in (canonical(label) for label in self._langid.labels) if c is not None)

    @functools.cached_property
    def lingua_codes(self) -> frozenset[str]:
        from lingua import Language

        return frozenset(c for c in (canonical(lang.iso_code_639_1.name) for lang in Language.all()) if c)

    # --- which languages -------------------------------------------------------------------------------------------
    def _knows(self, code: str, codes: frozenset[str]) -> bool:
        return bool(_group(code) & codes)

    def supports(self, code: str) -> bool:
        key = canonical(code)
        return key is not None and (self._knows(key, self.langid_codes) or self._knows(key, self.lingua_codes))

    def unsupported(self, codes: Iterable[str]) -> list[str]:
        """The given language codes that neither detector recognises (each once, in the given order)."""
        return [code for code in dict.fromkeys(codes) if not self.supports(code)]

    # --- detection -------------------------------------------------------------------------------------------------
    def detect(
        self,
        texts: Sequence[str],
        expected: Sequence[str | None] | None = None,
        project_languages: Iterable[str] = (),
    ) -> list[Detection]:
        """The language of each text, among all the languages the detectors know (the rules' `unlikely` ones only
        when they are project languages).

        With `expected` (a language per text), lingua is only asked where its answer could change a flag: py3langid
        unsure, and its guess neither the expected language nor a neighbour of it; or py3langid giving the expected
        language next to nothing (`Detection.expected_share`). Texts whose expected language py3langid does not
        know (Maori, Tswana, Tsonga) go to lingua alone."""
        rules = self.rules
        keep = {canonical(code) for code in project_languages}
        ignore = frozenset(code for code in rules.unlikely if code not in keep)
        results: list[Detection] = [_NOTHING] * len(texts)
        second: list[int] = []  # py3langid unsure: ask lingua
        primary: list[int] = []  # expected language unknown to py3langid, known to lingua
        doubted: dict[int, float] = {}  # py3langid gives the expected language next to nothing: its share
        wants: dict[int, str] = {}
        for i, text in enumerate(texts):
            if not text or not enough_letters(text, rules.min_letters):
                continue
            want = canonical(expected[i]) if expected is not None and expected[i] else None
            if want is not None:
                wants[i] = want
            if want is not None and not self._knows(want, self.langid_codes):
                if self._knows(want, self.lingua_codes):
                    primary.append(i)
                continue
            code, probability, wanted = self._langid_best(text[: rules.max_chars], ignore, want)
            if code == UNDETERMINED:
                continue
            reliable = probability >= rules.confident
            results[i] = Detection(code, probability, reliable, "py3langid")
            if reliable:
                continue
            if (
                want is not None
                and wanted < rules.unsure_floor
                and not neighbours(code, want)
                and self._knows(want, self.lingua_codes)
                and long_enough(text, rules)
            ):
                doubted[i] = wanted
            if probability < rules.second_opinion_floor or not self._knows(code, self.lingua_codes):
                continue
            if want is None or not (same_language(code, want) or neighbours(code, want)):
                second.append(i)
        asked = list(dict.fromkeys(second + primary + list(doubted)))
        if not asked:
            return results
        answers = self._lingua_best([texts[i][: rules.max_chars] for i in asked], ignore, [wants.get(i) for i in asked])
        confirm, alone = set(second), set(primary)
        for i, (code, probability, wanted) in zip(asked, answers, strict=True):
            first = results[i]
            if i in doubted and wanted < rules.unsure_second_floor and not neighbours(code, wants[i]):
                first = results[i] = replace(first, expected_share=max(doubted[i], wanted))
            if code == UNDETERMINED:
                continue
            if i in alone:  # lingua alone: py3langid does not know the expected language
                results[i] = Detection(code, probability, probability >= rules.confident, "lingua")
            elif i in confirm and same_language(code, first.language) and probability >= rules.second_opinion:
                results[i] = Detection(first.language, max(first.confidence, probability), True, "py3langid+lingua")
        return results

    @functools.cached_property
    def _plain_labels(self) -> frozenset[str]:
        return frozenset(label for label in self._langid.labels if _plain(label))

    def _langid_best(self, text: str, ignore: frozenset[str], want: str | None = None) -> tuple[str, float, float]:
        """The likeliest language, its confidence, and the share of `want` (see `_best_and_share`)."""
        label, probability = self._langid.classify(text)
        if label == "zxx":  # "no linguistic content"
            return UNDETERMINED, 0.0, 0.0
        if probability >= self.rules.confident and label in self._plain_labels and label not in ignore:
            # the common case: no variants or relatives to add up; the expected language's share is not needed
            return label, float(probability), float(probability) if want and label in _group(want) else 0.0
        return _best_and_share(((lab, p) for lab, p in self._langid.rank(text) if lab != "zxx"), ignore, want)

    def _lingua_best(
        self, texts: list[str], ignore: frozenset[str], wants: Sequence[str | None]
    ) -> list[tuple[str, float, float]]:
        values = self._lingua.compute_language_confidence_values_in_parallel(texts)
        return [
            _best_and_share(((v.language.iso_code_639_1.name, v.value) for v in row), ignore, want)
            for row, want in zip(values, wants, strict=True)
        ]


def likeliest_of(texts: Sequence[str], candidates: Sequence[str]) -> list[str]:
    """For each text, the candidate language py3langid finds likeliest (variants and close relatives count as one):
    how a model with one classifier per language routes a text whose language nobody gave."""
    identifier = _langid_identifier()
    owner = {label: next((c for c in candidates if same_language(label, c)), None) for label in identifier.labels}
    found = []
    for text in texts:
        totals = dict.fromkeys(candidates, 0.0)
        for label, probability in identifier.rank(text or ""):
            code = owner.get(label)
            if code is not None:
                totals[code] += float(probability)
        found.append(max(candidates, key=totals.__getitem__))
    return found


@functools.cache
def _langid_identifier() -> Any:
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    # norm_probs: probabilities that add up to 1 over the 140 languages (about 1 s to load)
    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


@functools.cache
def _lingua_detector() -> Any:
    from lingua import LanguageDetectorBuilder

    # low-accuracy mode: its models load in under a second and take about 80 MB. High-accuracy mode caught 1 point
    # more swapped intents with 3 fewer false alarms, but loads for 7-18 s and takes 1.1 GB for Latin-script text
    return LanguageDetectorBuilder.from_all_languages().with_low_accuracy_mode().build()


@functools.cache
def default_detector() -> LanguageDetector:
    return LanguageDetector()


# --- flags -----------------------------------------------------------------------------------------------------------
@dataclass
class LanguageTally:
    checked: int = 0  # judged by a detector
    flagged: int = 0
    too_short: int = 0  # too few letters to judge
    skipped: int = 0  # the detectors do not know the language


@dataclass
class LanguageReport:
    flags: list[dict[str, Any]] = field(default_factory=list)
    per_language: dict[str, LanguageTally] = field(default_factory=dict)
    unsupported: list[str] = field(default_factory=list)  # project (or sample) languages no detector knows
    skipped: dict[str, list[int]] = field(default_factory=dict)  # language -> sample ids not checked

    def skip_reason(self, code: str) -> str:
        return f"The language detectors do not know {display_name(code)}, so its samples were not checked."

    @property
    def checked(self) -> int:
        return sum(t.checked for t in self.per_language.values())

    def summary(self) -> dict[str, Any]:
        return {
            "checked": self.checked,
            "flagged": len(self.flags),
            # how each flag was found: "detected" (another language), "script", "unsure" (reads as no language)
            "by_rule": {rule: sum(f["details"]["rule"] == rule for f in self.flags) for rule in RULES},
            "per_language": {
                code: {"checked": t.checked, "flagged": t.flagged, "too_short": t.too_short, "skipped": t.skipped}
                for code, t in sorted(self.per_language.items())
            },
            "unsupported": list(self.unsupported),
            "skipped": {code: self.skip_reason(code) for code in self.unsupported},
        }

    def message(self) -> str:
        text = (
            f"{self.checked:,} samples checked for their language: {len(self.flags):,} do not read as the language "
            "of their cell."
        )
        for code in self.unsupported:
            count = len(self.skipped.get(code, []))
            samples = f"its {count:,} sample{'s were' if count != 1 else ' was'}" if count else "its samples would be"
            text += f" {display_name(code)} is not known to the language detectors: {samples} skipped."
        return text


def check_languages(
    items: Sequence[Item],
    project_languages: Iterable[str],
    rules: LanguageRules = DEFAULT_RULES,
    detector: LanguageDetector | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> LanguageReport:
    """Detect the language of every sample and flag those that are not in the language of their cell: confidently
    another language, written in a script their language does not use, or reading as no language at all (see
    `LanguageRules` for each rule's measurements). A sample gets one flag: the first rule that applies, in that
    order. `progress(done, total)` is called every DETECT_SLICE samples."""
    if detector is None:
        detector = default_detector() if rules == DEFAULT_RULES else LanguageDetector(rules)
    rules = detector.rules
    report = LanguageReport()
    languages = list(dict.fromkeys([*project_languages, *(i.language for i in items)]))
    report.unsupported = detector.unsupported(languages)
    unsupported = set(report.unsupported)
    judged = [item for item in items if item.language not in unsupported]
    for item in items:
        tally = report.per_language.setdefault(item.language, LanguageTally())
        if item.language in unsupported:
            tally.skipped += 1
            report.skipped.setdefault(item.language, []).append(item.id)
    scripts = _accepted_scripts(judged, rules)
    detections = _detect_all(detector, judged, languages, progress)
    for item, found in zip(judged, detections, strict=True):
        tally = report.per_language[item.language]
        if not enough_letters(item.text or "", rules.min_letters):
            tally.too_short += 1
            continue
        tally.checked += 1
        flag = None
        if _is_wrong(found, item.language, rules):
            flag = _flag(item, found)
        elif (foreign := foreign_scripts(item.text, scripts.get(item.language), rules)) is not None:
            flag = _script_flag(item, found, foreign)
        elif found.expected_share is not None and not _romanised(item, scripts, rules):
            flag = _unsure_flag(item, found)
        if flag is not None:
            tally.flagged += 1
            report.flags.append(flag)
    return report


def _detect_all(
    detector: LanguageDetector,
    items: Sequence[Item],
    languages: list[str],
    progress: Callable[[int, int], None] | None,
    *,
    parallel: bool = True,
) -> list[Detection]:
    """Every item's detection, in order: in this process, or, for many items on a machine with several cores, in
    one process per core (each text's detection depends on that text alone, so the answers are the same)."""
    workers = min(os.cpu_count() or 1, MAX_WORKERS)
    if not parallel or len(items) < PARALLEL_MIN or workers < 2 or type(detector) is not LanguageDetector:
        detections: list[Detection] = []
        for start in range(0, len(items), DETECT_SLICE):
            if progress is not None:
                progress(start, len(items))
            part = items[start : start + DETECT_SLICE]
            detections.extend(detector.detect([i.text for i in part], [i.language for i in part], languages))
        return detections
    slices = [
        (
            [i.text for i in items[start : start + PARALLEL_SLICE]],
            [i.language for i in items[start : start + PARALLEL_SLICE]],
        )
        for start in range(0, len(items), PARALLEL_SLICE)
    ]
    detections = []
    if progress is not None:
        progress(0, len(items))
    # spawned, not forked: the job's process holds threads (the tokenizer's, BLAS's) that a fork would copy stuck
    context = multiprocessing.get_context("spawn")
    try:
        with ProcessPoolExecutor(workers, mp_context=context) as pool:
            calls = [pool.submit(_detect_slice, detector.rules, t, e, languages) for t, e in slices]
            for call in calls:
                detections.extend(call.result())
                if progress is not None:
                    progress(len(detections), len(items))
    except BrokenProcessPool:  # a worker could not start here (a spawned process re-imports this one's __main__)
        _log.warning("language detection in worker processes failed; detecting in this process")
        return _detect_all(detector, items, languages, progress, parallel=False)
    return detections


MAX_WORKERS = 4


def _detect_slice(rules: LanguageRules, texts: list[str], expected: list[str], languages: list[str]) -> list[Detection]:
    """One slice of `_detect_all`, in a worker process (its detectors loaded once per process)."""
    detector = default_detector() if rules == DEFAULT_RULES else _detector_with(rules)
    return detector.detect(texts, expected, languages)


@functools.cache
def _detector_with(rules: LanguageRules) -> LanguageDetector:
    return LanguageDetector(rules)


def _is_wrong(found: Detection, language: str, rules: LanguageRules) -> bool:
    expected = canonical(language)
    if expected is None or found.undetermined or not found.reliable or same_language(found.language, expected):
        return False
    return not neighbours(found.language, expected) or found.confidence >= rules.neighbour_confident


def own_scripts(language: str) -> tuple[str, ...] | None:
    """The scripts a language's texts may be in: its own and those of its close relatives (Serbian Cyrillic in a
    Croatian cell is not flagged, as Serbian is not); None when a script of the group is unknown (not checked)."""
    code = canonical(language)
    if code is None:
        return None
    found: list[str] = []
    for member in sorted(_group(code)):
        member_scripts = language_scripts(member)
        if member_scripts is None:
            return None
        found += [s for s in member_scripts if s not in found]
    return tuple(found)


def foreign_scripts(text: str, accepted: Sequence[str] | None, rules: LanguageRules) -> dict[str, float] | None:
    """The share of its letters in each script outside `accepted`, largest first, when they make up at least
    `rules.script_foreign_share` of a text with `rules.script_min_letters` letters; else None. Like the detectors,
    it reads the first `rules.max_chars` characters."""
    if not accepted:
        return None
    text = (text or "")[: rules.max_chars]
    if text.isascii() and LATIN in accepted:  # the common case: nothing foreign to count
        return None
    text = words_part(text)
    letters, outside = letters_outside(text, tuple(accepted))
    # a quick count without vowel signs, with a margin for texts whose foreign script has many of them; the exact
    # count below decides
    if letters < rules.script_min_letters // 2 or outside < (rules.script_foreign_share - 0.1) * letters:
        return None
    counts = letter_scripts(text)
    total = sum(counts.values())
    if total < rules.script_min_letters:
        return None
    foreign = sorted(((n, s) for s, n in counts.items() if s not in accepted), reverse=True)
    if sum(n for n, _ in foreign) < rules.script_foreign_share * total:
        return None
    return {script: round(n / total, 3) for n, script in foreign}


def _accepted_scripts(items: Sequence[Item], rules: LanguageRules) -> dict[str, tuple[str, ...] | None]:
    """Per sample language: its scripts, and any other script in which at least `rules.romanised_share` of the
    people's samples of that language are written (romanised Hindi in a project of Hinglish chats)."""
    accepted = {language: own_scripts(language) for language in {i.language for i in items}}
    humans: dict[str, list[Item]] = {}
    for item in items:
        if item.origin == "human" and accepted[item.language]:
            humans.setdefault(item.language, []).append(item)
    for language, samples in humans.items():
        written_in: dict[str, int] = {}
        for item in samples:
            foreign = foreign_scripts(item.text, accepted[language], rules)
            if foreign:
                main = next(iter(foreign))
                written_in[main] = written_in.get(main, 0) + 1
        usual = [
            s for s, n in written_in.items() if n >= max(rules.romanised_min, rules.romanised_share * len(samples))
        ]
        if usual:
            accepted[language] = (*(accepted[language] or ()), *usual)
    return accepted


def _romanised(item: Item, accepted: dict[str, tuple[str, ...] | None], rules: LanguageRules) -> bool:
    """Written in a script the language does not use but the project accepts: the detectors know the language in
    its own script only, so their doubt means nothing there."""
    own = own_scripts(item.language)
    return bool(own) and accepted.get(item.language) != own and foreign_scripts(item.text, own, rules) is not None


def _details(item: Item, found: Detection, rule: str) -> dict[str, Any]:
    return {
        "rule": rule,
        "detected": found.language,
        "confidence": round(found.confidence, 3),
        "expected": item.language,
        "detector": found.detector,
    }


def _flag(item: Item, found: Detection) -> dict[str, Any]:
    reason = (
        f"Looks like {display_name(found.language)} (confidence {found.confidence:.2f}), "
        f"not {display_name(item.language)}."
    )
    return {
        "sample_id": item.id,
        "kind": WRONG_LANGUAGE,
        "reason": reason,
        "details": _details(item, found, "detected"),
    }


def _script_flag(item: Item, found: Detection, foreign: dict[str, float]) -> dict[str, Any]:
    main = next(iter(foreign))
    own = language_scripts(item.language) or own_scripts(item.language) or ()
    reason = f"Written in {script_phrase(main)}; {display_name(item.language)} is written in {scripts_phrase(own)}."
    details = {**_details(item, found, "script"), "scripts": foreign}
    return {"sample_id": item.id, "kind": WRONG_LANGUAGE, "reason": reason, "details": details}


def _unsure_flag(item: Item, found: Detection) -> dict[str, Any]:
    details = {**_details(item, found, "unsure"), "expected_share": round(found.expected_share or 0.0, 3)}
    name = display_name(item.language)
    if found.undetermined:
        guess = "and have no best guess"
    else:
        guess = f"their best guess, {display_name(found.language)}, only {100 * details['confidence']:.0f}%"
    reason = (
        f"Does not read as {name}: the language detectors give {name} {100 * details['expected_share']:.0f}% ({guess})."
    )
    return {"sample_id": item.id, "kind": WRONG_LANGUAGE, "reason": reason, "details": details}


def wrong_language_flags(
    items: Sequence[Item], project_languages: Iterable[str], rules: LanguageRules = DEFAULT_RULES
) -> list[dict[str, Any]]:
    """Flags of kind `wrong_language`; `check_languages` also says what was checked and skipped."""
    return check_languages(items, project_languages, rules).flags

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

Not flagged, on purpose:
- close relatives the detectors cannot tell apart (Indonesian/Malay, Croatian/Bosnian/Serbian, Norwegian
  Bokmål/Nynorsk) count as one language, and their probabilities are added up;
- variants in py3langid's list count as their language (Ancient Hebrew as Hebrew, Nigerian Pidgin as English);
- a confusable neighbour (Slovenian and Croatian or Slovak, Hindi and Marathi, ...) unless the detector is very sure;
- classical and constructed languages (Latin, Esperanto, ...) unless the project has them;
- texts with fewer than 5 letters (empty, digits, emoji: the quality filters handle those);
- samples whose language neither detector knows: they are counted as skipped, and the report says why.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

from core.curation.duplicate_flags import Item
from core.language_names import language_name, normalize_code

WRONG_LANGUAGE = "wrong_language"
UNDETERMINED = "und"  # ISO 639-2 "undetermined"


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


@dataclass(frozen=True)
class Detection:
    language: str  # canonical ISO code of the most likely language (close relatives: the likeliest of them); "und"
    confidence: float  # 0..1: the detector's probability for that language (close relatives added up)
    reliable: bool  # confident enough to act on: py3langid alone, or confirmed by lingua
    detector: str  # "py3langid", "py3langid+lingua", "lingua", or "" when undetermined

    @property
    def undetermined(self) -> bool:
        return self.language == UNDETERMINED


_NOTHING = Detection(UNDETERMINED, 0.0, False, "")


def _best(scores: Iterable[tuple[str, float]], ignore: frozenset[str] = frozenset()) -> tuple[str, float]:
    """The likeliest language once variants are folded in and ignored languages dropped, and its confidence: its
    share of the remaining probability, close relatives added up. The winner is chosen on its own probability, not
    its group's: Slovenian at 0.40 stays ahead of Croatian 0.25 + Serbian 0.20 + Bosnian 0.15."""
    by_code: dict[str, float] = {}
    for label, probability in scores:
        code = canonical(label)
        if code is not None and code not in ignore:
            by_code[code] = by_code.get(code, 0.0) + probability
    total = sum(by_code.values())
    if total <= 0:
        return UNDETERMINED, 0.0
    code = max(by_code, key=by_code.__getitem__)
    share = sum(by_code.get(member, 0.0) for member in _group(code)) / total
    return code, min(share, 1.0)


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
        unsure, and its guess neither the expected language nor a neighbour of it. Texts whose expected language
        py3langid does not know (Maori, Tswana, Tsonga) go to lingua alone."""
        rules = self.rules
        keep = {canonical(code) for code in project_languages}
        ignore = frozenset(code for code in rules.unlikely if code not in keep)
        results: list[Detection] = [_NOTHING] * len(texts)
        second: list[int] = []  # py3langid unsure: ask lingua
        primary: list[int] = []  # expected language unknown to py3langid, known to lingua
        for i, text in enumerate(texts):
            if not text or not enough_letters(text, rules.min_letters):
                continue
            want = canonical(expected[i]) if expected is not None and expected[i] else None
            if want is not None and not self._knows(want, self.langid_codes):
                if self._knows(want, self.lingua_codes):
                    primary.append(i)
                continue
            code, probability = self._langid_best(text[: rules.max_chars], ignore)
            if code == UNDETERMINED:
                continue
            reliable = probability >= rules.confident
            results[i] = Detection(code, probability, reliable, "py3langid")
            if reliable or probability < rules.second_opinion_floor or not self._knows(code, self.lingua_codes):
                continue
            if want is None or not (same_language(code, want) or neighbours(code, want)):
                second.append(i)
        if not second and not primary:
            return results
        answers = self._lingua_best([texts[i][: rules.max_chars] for i in second + primary], ignore)
        for i, (code, probability) in zip(second + primary, answers, strict=True):
            first = results[i]
            if code == UNDETERMINED:
                continue
            if first.undetermined:  # lingua alone: py3langid does not know the expected language
                results[i] = Detection(code, probability, probability >= rules.confident, "lingua")
            elif same_language(code, first.language) and probability >= rules.second_opinion:
                results[i] = Detection(first.language, max(first.confidence, probability), True, "py3langid+lingua")
        return results

    @functools.cached_property
    def _plain_labels(self) -> frozenset[str]:
        return frozenset(label for label in self._langid.labels if _plain(label))

    def _langid_best(self, text: str, ignore: frozenset[str]) -> tuple[str, float]:
        label, probability = self._langid.classify(text)
        if label == "zxx":  # "no linguistic content"
            return UNDETERMINED, 0.0
        if probability >= self.rules.confident and label in self._plain_labels and label not in ignore:
            return label, float(probability)  # the common case: no variants or relatives to add up
        return _best(((lab, p) for lab, p in self._langid.rank(text) if lab != "zxx"), ignore)

    def _lingua_best(self, texts: list[str], ignore: frozenset[str]) -> list[tuple[str, float]]:
        values = self._lingua.compute_language_confidence_values_in_parallel(texts)
        return [_best(((v.language.iso_code_639_1.name, v.value) for v in row), ignore) for row in values]


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
            "per_language": {
                code: {"checked": t.checked, "flagged": t.flagged, "too_short": t.too_short, "skipped": t.skipped}
                for code, t in sorted(self.per_language.items())
            },
            "unsupported": list(self.unsupported),
            "skipped": {code: self.skip_reason(code) for code in self.unsupported},
        }

    def message(self) -> str:
        text = f"{self.checked:,} samples checked for their language: {len(self.flags):,} look like another language."
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
) -> LanguageReport:
    """Detect the language of every sample and flag those that confidently look like another language."""
    if detector is None:
        detector = default_detector() if rules == DEFAULT_RULES else LanguageDetector(rules)
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
    detections = detector.detect([i.text for i in judged], [i.language for i in judged], languages)
    for item, found in zip(judged, detections, strict=True):
        tally = report.per_language[item.language]
        if not enough_letters(item.text or "", detector.rules.min_letters):
            tally.too_short += 1
            continue
        tally.checked += 1
        if _is_wrong(found, item.language, detector.rules):
            tally.flagged += 1
            report.flags.append(_flag(item, found))
    return report


def _is_wrong(found: Detection, language: str, rules: LanguageRules) -> bool:
    expected = canonical(language)
    if expected is None or found.undetermined or not found.reliable or same_language(found.language, expected):
        return False
    return not neighbours(found.language, expected) or found.confidence >= rules.neighbour_confident


def _flag(item: Item, found: Detection) -> dict[str, Any]:
    reason = (
        f"Looks like {display_name(found.language)} (confidence {found.confidence:.2f}), "
        f"not {display_name(item.language)}."
    )
    details = {
        "detected": found.language,
        "confidence": round(found.confidence, 3),
        "expected": item.language,
        "detector": found.detector,
    }
    return {"sample_id": item.id, "kind": WRONG_LANGUAGE, "reason": reason, "details": details}


def wrong_language_flags(
    items: Sequence[Item], project_languages: Iterable[str], rules: LanguageRules = DEFAULT_RULES
) -> list[dict[str, Any]]:
    """Flags of kind `wrong_language`; `check_languages` also says what was checked and skipped."""
    return check_languages(items, project_languages, rules).flags

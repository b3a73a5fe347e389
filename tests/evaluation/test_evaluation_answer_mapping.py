"""LLM answers -> labels: tolerant of case, spacing, symbols, per-language names and extra words; ambiguous and
unparseable answers are never mapped."""

from __future__ import annotations

import pytest

from core.evaluation.answer_mapping import LabelVocabulary, normalize
from core.store.projects import LabelSpec

VOCABULARY = LabelVocabulary(
    [
        LabelSpec(name="science/technology", names={"sw": ["sayansi na teknolojia"]}),
        LabelSpec(name="travel", names={"sw": ["usafiri", "safari"], "th": ["ท่องเที่ยว"], "he": ["טיולים"]}),
        LabelSpec(name="health", names={"sw": ["afya"]}),
        LabelSpec(name="mental health"),
        LabelSpec(name="sports"),
        LabelSpec(name="alarm_query"),
    ]
)


@pytest.mark.parametrize(
    ("answer", "language", "label"),
    [
        ("travel", None, "travel"),
        ("  TRAVEL \n", None, "travel"),
        ("**Travel**.", None, "travel"),
        ('"travel"', None, "travel"),
        ("The label is: travel.", None, "travel"),
        ("Label: Travel", None, "travel"),
        ('{"label": "travel"}', None, "travel"),
        ("Science & Technology", None, "science/technology"),
        ("science / technology", None, "science/technology"),
        ("Science and technology", None, "science/technology"),
        ("sport", None, "sports"),
        ("Sports", None, "sports"),
        ("alarm query", None, "alarm_query"),
        ("ALARM_QUERY", None, "alarm_query"),
        ("usafiri", "sw", "travel"),
        ("Safari", "sw", "travel"),
        ("usafiri", "en", "travel"),  # another language's name still counts (second tier)
        ("Jibu: afya", "sw", "health"),
        ("ท่องเที่ยวครับ", "th", "travel"),  # Thai writes no spaces: the name touches a polite particle
        ("טיולים", "he", "travel"),
        ("I think it is about mental health.", None, "mental health"),  # "health" inside a longer name
        ("travel\nIt is clearly not about sports.", None, "travel"),  # a first line that is exactly a label
    ],
)
def test_answers_that_name_one_label_are_mapped(answer: str, language: str | None, label: str) -> None:
    mapped = VOCABULARY.map(answer, language)
    assert (mapped.label, mapped.outcome) == (label, "label"), mapped


@pytest.mark.parametrize(
    ("answer", "outcome"),
    [
        ("", "unparseable"),
        ("   ", "unparseable"),
        (None, "unparseable"),
        ("I cannot decide.", "unparseable"),
        ("Sure! Here is my answer:", "unparseable"),
        ("travelling", "unparseable"),  # a word that merely starts like a label is not the label
        ("travel or sports", "ambiguous"),
        ("It is about sports, not travel.", "ambiguous"),
        ("health; mental health", "ambiguous"),
    ],
)
def test_ambiguous_and_unparseable_answers_are_never_mapped(answer: str | None, outcome: str) -> None:
    mapped = VOCABULARY.map(answer)
    assert mapped.label is None and mapped.outcome == outcome and mapped.reason, mapped
    assert not mapped.ok


def test_a_name_shared_by_two_labels_is_ambiguous() -> None:
    shared = LabelVocabulary(
        [LabelSpec(name="news", names={"sw": ["habari"]}), LabelSpec(name="greeting", names={"sw": ["habari"]})]
    )
    mapped = shared.map("Habari", "sw")
    assert mapped.label is None and mapped.outcome == "ambiguous" and "greeting" in mapped.reason


def test_the_answers_language_wins_over_another_languages_names() -> None:
    vocabulary = LabelVocabulary(
        [LabelSpec(name="price", names={"sw": ["bei"]}), LabelSpec(name="other", names={"xh": ["bei"]})]
    )
    assert vocabulary.map("bei", "sw").label == "price"
    assert vocabulary.map("bei", "en").outcome == "ambiguous"  # neither language's: both names count, and clash


def test_normalize_keeps_letters_and_marks_of_every_script() -> None:
    assert normalize("  Science &  Technology!! ") == "science technology"
    assert normalize("ท่องเที่ยว") == "ท่องเที่ยว"  # Thai vowel and tone marks are kept
    assert normalize("ＴＲＡＶＥＬ") == "travel"  # full-width letters

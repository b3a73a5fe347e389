"""Quality flags: lengths on subword tokens (Thai has no spaces), empty or non-text samples, several samples run
together, and label leaks under every name a label has."""

from __future__ import annotations

import csv
from pathlib import Path

import pandas as pd
import pytest

from core.curation.duplicate_flags import Item, load_items
from core.curation.quality_flags import (
    QUALITY_KINDS,
    QualityRules,
    clean_text,
    letter_share,
    quality_flags,
)
from core.curation.subword_tokens import load_tokenizer, token_counts, tokens
from core.errors import StudioError
from core.io.importer import ColumnMapping, execute_import, plan_import
from core.store.projects import LabelSpec, create_project, parse_spec

THAI = "ฝนจะตกพรุ่งนี้ไหม"  # "will it rain tomorrow?": one "word" between spaces, five words in fact

SPORT = LabelSpec(name="sports", names={"sw": ["michezo"], "th": ["กีฬา"], "de": ["Sport", "Sportart"], "ro": ["sport"]})
POLITICS = LabelSpec(name="politics", names={"sw": ["siasa"]})
ART = LabelSpec(name="art")
ALARM = LabelSpec(name="alarm_query")
SCIENCE = LabelSpec(name="science/technology")
LABELS = [SPORT, POLITICS, ART, ALARM, SCIENCE]


def _items(rows: list[tuple]) -> list[Item]:
    """rows: (text, label[, language[, origin]]), language "en" and origin "synthetic" unless given; ids from 1."""
    defaults = ("", None, "en", "synthetic")
    items = []
    for number, row in enumerate(rows, start=1):
        text, label, language, origin = (*row, *defaults[len(row) :])
        items.append(Item(number, text, label, language, "train", origin, "pending"))
    return items


def _by_sample(flags: list[dict]) -> dict[int, dict[str, dict]]:
    found: dict[int, dict[str, dict]] = {}
    for flag in flags:
        assert set(flag) == {"sample_id", "kind", "reason", "details"}
        assert flag["kind"] in QUALITY_KINDS
        found.setdefault(flag["sample_id"], {})[flag["kind"]] = flag
    return found


def _flags(rows: list[tuple], encoder: Path, rules: QualityRules | None = None) -> dict[int, dict[str, dict]]:
    items = _items(rows)
    counts = token_counts([i.text for i in items], str(encoder))
    return _by_sample(quality_flags(items, LABELS, counts, rules or QualityRules()))


# --- subword tokens --------------------------------------------------------------------------------------------


def test_token_counts_are_subword_tokens_without_special_tokens(tiny_encoder: Path) -> None:
    tokenizer = load_tokenizer(str(tiny_encoder))
    texts = ["Will it rain tomorrow in Nakuru?", "", "maize " * 100]
    counts = token_counts(texts, str(tiny_encoder))
    for text, count in zip(texts, counts, strict=True):
        assert count == len(tokenizer.tokenize(text))
        if text:
            assert count == len(tokenizer(text)["input_ids"]) - 2  # [CLS] and [SEP] are not counted
    assert counts[1] == 0
    assert counts[2] >= 100 > tokenizer.model_max_length  # counted in full, never truncated


def test_tokens_as_ids_or_pieces_and_the_tokenizer_is_loaded_once(tiny_encoder: Path) -> None:
    texts = ["Mvua itanyesha lini?", "The maize price fell again"]
    ids = tokens(texts, str(tiny_encoder))
    pieces = tokens(texts, str(tiny_encoder), as_text=True)
    assert [len(row) for row in ids] == token_counts(texts, str(tiny_encoder)) == [len(row) for row in pieces]
    assert all(isinstance(t, int) for row in ids for t in row)
    assert "".join(p.removeprefix("##") for p in pieces[0]) == "mvuaitanyeshalini?"  # the tiny model lowercases
    assert load_tokenizer(str(tiny_encoder)) is load_tokenizer(str(tiny_encoder))


def test_thai_is_counted_in_the_real_encoder_s_pieces_so_it_is_not_short(e5_folder: Path) -> None:
    pieces = tokens([THAI], str(e5_folder), as_text=True)[0]
    assert "".join(pieces).replace("▁", "") == THAI
    assert token_counts([THAI], str(e5_folder)) == [len(pieces)]
    assert len(pieces) >= 5 > len(THAI.split())  # its five words, however many spaces there are
    found = _flags([(THAI, None, "th"), ("rain", None)], e5_folder)
    assert set(found) == {2} and set(found[2]) == {"too_short"}


def test_a_folder_that_is_not_a_model_is_a_readable_error(tmp_path: Path) -> None:
    with pytest.raises(StudioError, match="does not look like a model"):
        token_counts(["hello"], str(tmp_path))


# --- lengths -----------------------------------------------------------------------------------------------------


def test_short_texts_are_counted_in_tokens(tiny_encoder: Path) -> None:
    one_word = "Kartoffelmahindi"  # one word between spaces, cut into several pieces by this tokenizer
    assert token_counts([one_word], str(tiny_encoder))[0] >= 3
    found = _flags([("rain", None), (one_word, None, "de"), ("Will it rain tomorrow?", None)], tiny_encoder)
    short = found[1]["too_short"]
    assert short["details"] == {"tokens": 1, "minimum": 3}
    assert short["reason"] == "Only 1 token long (the minimum is 3): too little to learn from."
    assert set(found) == {1}


def test_too_long_absolute_and_relative_to_its_cell(tiny_encoder: Path) -> None:
    usual = [(f"Will it rain tomorrow in Nakuru number {i}?", None) for i in range(25)]
    run_together = " ".join(text for text, _ in usual[:6])
    huge = "maize price " * 80
    found = _flags([*usual, (run_together, None), (huge, None)], tiny_encoder)
    relative = found[26]["too_long"]
    assert relative["details"]["tokens"] > 3 * relative["details"]["median"]
    assert "times the usual length of unlabelled samples in English" in relative["reason"]
    assert "several samples run together" in relative["reason"]
    absolute = found[27]["too_long"]
    assert absolute["details"]["maximum"] == 128 < absolute["details"]["tokens"]
    assert set(found) == {26, 27}
    # a cell too small for its median to mean anything gets no relative verdict
    small = _flags([*usual[:5], (run_together, None)], tiny_encoder)
    assert small == {}


def test_several_lines_are_flagged_once_and_only_for_synthetic_samples(tiny_encoder: Path) -> None:
    usual = [(f"Will it rain tomorrow in Nakuru number {i}?", None) for i in range(25)]
    glued = "\n".join(text for text, _ in usual[:6])
    marker = "-\nIs it going to rain in Kano tomorrow?"
    one_line = " ".join(text for text, _ in usual[:6])
    rows = [*usual, (glued, None), (one_line, None), (marker, None), (glued, None, "en", "human")]
    found = _flags(rows, tiny_encoder)
    assert found[26]["multi_line"]["details"] == {"lines": 6}
    assert "too_long" not in found[26]  # the lines already say it: one flag, not two
    assert set(found[27]) == {"too_long"}  # the same words on one line are still too long
    assert found[28]["multi_line"]["details"] == {"lines": 2}
    assert 29 not in found  # people's texts have line breaks


# --- empty and not text ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    ["https://example.com/a?b=c", "www.example.org", "😍😍😍", "👍🏽❤️", "@someone !!!", "   ...   ", "x@y.com :)"],
)
def test_nothing_left_after_cleaning(text: str, tiny_encoder: Path) -> None:
    assert clean_text(text) == ""
    found = _flags([(text, "sports")], tiny_encoder)
    assert set(found[1]) == {"empty_after_cleaning"}  # and no length flag on top
    assert found[1]["empty_after_cleaning"]["reason"].startswith("Nothing is left once links")


def test_cleaning_keeps_words_of_every_script() -> None:
    assert clean_text("Habari! 😀 @juma https://t.co/x mvua?") == "Habari mvua"
    assert clean_text("@ไปคะๆ") == "ไปคะๆ"  # handles are ASCII; this is Thai text
    assert clean_text("नमस्ते, दुनिया!") == "नमस्ते दुनिया"  # combining vowel signs stay with their letters


def test_not_text_is_mostly_digits_symbols_or_links(tiny_encoder: Path) -> None:
    rows = [
        ("0712 345 678 / 0733 222 111", None),
        ("ab 12345678 99:99 #### 0000", None),
        ("Sehr pünktlich die Bahn :) https://t.co/H7DCPXdJaM", None, "de"),  # a link is one thing, not 23 letters
        ("praf..................", None, "ro"),  # emphasis, not symbols
        ("Set an alarm for 6:30 tomorrow", None),
    ]
    found = _flags(rows, tiny_encoder)
    assert set(found) == {1, 2}
    assert found[1]["not_text"]["details"]["letter_share"] == 0
    assert found[1]["not_text"]["reason"] == "Mostly digits, symbols or links (only 0% letters): not really text."
    assert 0 < found[2]["not_text"]["details"]["letter_share"] < 0.5
    assert letter_share("praf..................") == pytest.approx(0.8)


def test_people_s_samples_get_only_empty_and_not_text_checks(tiny_encoder: Path) -> None:
    rows = [
        ("ok", "sports", "en", "human"),
        ("sports sports sports", "sports", "en", "human"),
        ("👍👍", "sports", "en", "human"),
        ("1234 5678", "sports", "en", "human"),
    ]
    found = _flags(rows, tiny_encoder)
    assert set(found) == {3, 4}
    assert set(found[3]) == {"empty_after_cleaning"} and set(found[4]) == {"not_text"}
    everything = _flags(rows, tiny_encoder, QualityRules(human_kinds=QUALITY_KINDS))
    assert "too_short" in everything[1] and "label_leak" in everything[2]


# --- label leaks -------------------------------------------------------------------------------------------------


def _leaks(rows: list[tuple], rules: QualityRules | None = None) -> dict[int, dict]:
    items = _items(rows)
    flags = quality_flags(items, LABELS, [10] * len(items), rules or QualityRules())
    return {f["sample_id"]: f for f in flags if f["kind"] == "label_leak"}


def test_leak_of_the_label_name_on_whole_words_only() -> None:
    leaks = _leaks(
        [
            ("I love modern art.", "art"),
            ("ART! Everywhere in this town", "art"),
            ("Let's go to the party tonight", "art"),  # "art" inside "party"
            ("The artist painted all night", "art"),
            ("The sports section is thin today", "sports"),
        ]
    )
    assert set(leaks) == {1, 2, 5}
    assert leaks[1]["reason"] == "Contains the label name 'art': the model would learn the word, not the meaning."
    assert leaks[1]["details"]["matches"] == [{"label": "art", "name": "art", "language": None, "own": True}]


def test_leak_through_a_per_language_name_of_any_language() -> None:
    leaks = _leaks(
        [
            ("Timu ya michezo ilishinda jana", "sports", "sw"),
            ("We played michezo after school", "sports", "en"),  # another language's name counts too
            ("Welche Sportart magst du?", "sports", "de"),  # an alias
            ("Timu ilishinda jana", "sports", "sw"),
        ]
    )
    assert set(leaks) == {1, 2, 3}
    assert leaks[1]["reason"] == (
        "Contains the label name 'sports' (Swahili: 'michezo'): the model would learn the word, not the meaning."
    )
    assert leaks[3]["details"]["matches"][0] == {"label": "sports", "name": "Sportart", "language": "de", "own": True}


def test_a_name_shared_by_languages_is_reported_in_the_sample_s_language() -> None:
    leaks = _leaks([("Ciclismul este un sport foarte solicitant", "sports", "ro"), ("Sport ist Mord", "sports", "de")])
    assert "(Romanian: 'sport')" in leaks[1]["reason"]
    assert "(German: 'Sport')" in leaks[2]["reason"]


def test_unspaced_scripts_match_inside_words() -> None:
    leaks = _leaks([("นักกีฬาวิ่งเร็วมาก", "sports", "th"), ("ฝนจะตกพรุ่งนี้ไหม", "sports", "th")])
    assert set(leaks) == {1}
    assert "Thai: 'กีฬา'" in leaks[1]["reason"]


def test_underscore_and_slash_names() -> None:
    leaks = _leaks(
        [
            ("Show me my alarm query results", "alarm_query"),
            ("run alarm_query now", "alarm_query"),
            ("What alarms do I have tomorrow?", "alarm_query"),  # the word "alarm" alone is the task, not a leak
            ("New technology makes batteries last longer", "science/technology"),
            ("Science and technology news", "science/technology"),
            ("Biotechnology firms raised money", "science/technology"),
        ]
    )
    assert set(leaks) == {1, 2, 4, 5}
    assert leaks[1]["reason"].startswith("Contains the label name 'alarm_query' (as 'alarm query'):")
    assert leaks[2]["reason"].startswith("Contains the label name 'alarm_query':")
    assert leaks[4]["reason"].startswith("Contains the label name 'science/technology' (as 'technology'):")


def test_another_label_s_name_is_a_leak_that_says_so() -> None:
    rows = [("This is not about sport, it is about the elections", "politics", "en")]
    rows_de = [("Dies ist kein Sport", "politics", "de")]
    leaks = _leaks(rows + rows_de)
    assert set(leaks) == {1, 2}
    assert leaks[2]["reason"] == (
        "Names another label, 'sports' (German: 'Sport'), but is labelled 'politics': check the label; if it is "
        "right, the word would teach the model the wrong thing."
    )
    assert leaks[2]["details"]["matches"] == [{"label": "sports", "name": "Sport", "language": "de", "own": False}]
    assert _leaks(rows + rows_de, QualityRules(other_labels=False)) == {}


def test_own_label_comes_first_and_unlabelled_samples_never_leak() -> None:
    leaks = _leaks([("siasa na michezo", "politics", "sw"), ("siasa na michezo", None, "sw")])
    assert set(leaks) == {1}
    assert [m["own"] for m in leaks[1]["details"]["matches"]] == [True, False]
    assert leaks[1]["reason"].startswith("Contains the label name 'politics' (Swahili: 'siasa')")


def test_counts_must_match_items() -> None:
    with pytest.raises(ValueError, match="one token count per sample"):
        quality_flags(_items([("a text", None)]), LABELS, [])


# --- with the store and with the paper's data --------------------------------------------------------------------


def test_flags_for_samples_loaded_from_the_store(sqlite_store, tiny_encoder: Path) -> None:  # type: ignore[no-untyped-def]
    project = create_project(
        sqlite_store,
        parse_spec(
            name="quality",
            labels=[{"name": "sports", "names": {"sw": ["michezo"]}}, {"name": "politics"}],
            languages=[{"code": "en"}, {"code": "sw"}],
        ),
    )
    frame = pd.DataFrame(
        [
            ("Timu ya michezo ilishinda jana", "sports", "sw"),
            ("Bunge limepitisha sheria mpya", "politics", "sw"),
            ("https://example.com", "politics", "en"),
            ("ok", "sports", "en"),
        ],
        columns=["text", "label", "language"],
    )
    mapping = ColumnMapping("text", "label", language_column="language", origin="synthetic")
    execute_import(sqlite_store, project, plan_import(sqlite_store, project, frame, mapping, "q.csv"))
    items = load_items(sqlite_store, project.id)
    counts = token_counts([i.text for i in items], str(tiny_encoder))
    found = _by_sample(quality_flags(items, project.labels, counts))
    by_text = {i.text: found.get(i.id, {}) for i in items}
    assert set(by_text["Timu ya michezo ilishinda jana"]) == {"label_leak"}
    assert by_text["Bunge limepitisha sheria mpya"] == {}
    assert set(by_text["https://example.com"]) == {"empty_after_cleaning"}
    assert set(by_text["ok"]) == {"too_short"}


def test_paper_data_flags_are_few_and_real(paper_data: Path, tiny_encoder: Path) -> None:
    """On a real synthetic file the flags stay rare, and what is flagged has the problem the reason names."""
    path = paper_data / "intent" / "sl-train_full.csv"
    with path.open(encoding="utf-8") as handle:
        rows = [(r["text"] or "", r["intent"] or None, "sl") for r in csv.DictReader(handle)]
    items = _items(rows)
    labels = [LabelSpec(name=name) for name in sorted({i.label for i in items if i.label})]
    counts = token_counts([i.text for i in items], str(tiny_encoder))
    flags = quality_flags(items, labels, counts)
    assert 0 < len(flags) < 0.05 * len(items)
    text = {i.id: i.text for i in items}
    for flag in flags:
        if flag["kind"] == "multi_line":
            assert len(text[flag["sample_id"]].strip().splitlines()) == flag["details"]["lines"] > 1
        if flag["kind"] == "empty_after_cleaning":
            assert clean_text(text[flag["sample_id"]]) == ""


# --- not a message -----------------------------------------------------------------------------------------------

MESSAGES = {  # what people wrote to a shop's support, by label
    "payments": [
        "I was charged twice for my last order, can you please refund one of the payments?",
        "My card was declined although there is enough money on it, what is going on",
        "Could you send me the invoice for my March order again, I cannot find the email",
        "Why is my bank statement showing a payment to you that I do not recognise?",
        "I would like to pay the rest of my bill in two parts if that is possible",
        "The payment page keeps loading forever and I am not sure if my money went through",
        "Do you accept payment by bank transfer, or only by card and through the app?",
        "I returned the shoes three weeks ago and my refund is still not on my account",
        "Please cancel the automatic payment for my subscription, I do not need it anymore",
        "The price in the shop was lower than what I was charged at the checkout",
    ],
    "delivery": [
        "My parcel was supposed to arrive on Monday and it is still not here, where is it?",
        "The courier left my package at the wrong house, what should I do now",
        "Is it possible to change the delivery address for the order I placed this morning?",
        "I have been waiting for two weeks and the tracking page still says it is being prepared",
        "Can you deliver to my office instead of my home address on Friday afternoon",
        "The box arrived damaged and one of the glasses inside is broken, I want a new one",
        "How long does shipping to Mombasa usually take if I order today?",
        "Only two of the three items I ordered were in the parcel, where is the third one",
        "The tracking number you sent me does not work on the courier's website",
        "Could the driver call me before he comes, the gate is usually locked",
    ],
}
SHOP_LABELS = [LabelSpec(name="payments"), LabelSpec(name="delivery")]


def _shop_items(synthetic: list[tuple[str, str]], human: dict[str, list[str]] | None = None) -> list[Item]:
    """People's messages (or `human`) as human test samples, then `synthetic` (text, label) rows; English."""
    rows: list[tuple] = [(t, label, "en", "human") for label, texts in (human or MESSAGES).items() for t in texts]
    rows += [(text, label, "en", "synthetic") for text, label in synthetic]
    return _items(rows)


def _not_messages(items: list[Item], rules: QualityRules | None = None) -> dict[int, dict]:
    flags = quality_flags(items, SHOP_LABELS, [10] * len(items), rules or QualityRules())
    return {f["sample_id"]: f for f in flags if f["kind"] == "not_a_message"}


def test_a_bare_category_name_is_not_a_message_when_people_write_sentences() -> None:
    synthetic = [
        ("Invoices", "payments"),
        ("Billing issue", "payments"),
        ("Delivery Status Update", "delivery"),
        ("Where is my order?", "delivery"),  # a question
        ("where is my order", "delivery"),  # no question mark, but "where", "is" and "my" make it a sentence
        ("Thanks a lot!", "payments"),
        ("Refund please 🙏", "payments"),
        ("I paid the invoice yesterday but the reminder still came today, can you check?", "payments"),
    ]
    items = _shop_items(synthetic)
    found = _not_messages(items)
    first = len(items) - len(synthetic) + 1
    assert set(found) == {first, first + 1, first + 2}
    assert "not_a_message" in QUALITY_KINDS
    reason = found[first]["reason"]
    assert reason == (
        "Reads like a category name ('Invoices'), not like a message someone would write: people's samples in "
        f"English have about {found[first]['details']['usual_words']} words."
    )
    assert found[first]["details"]["words"] == 1 and found[first]["details"]["usual_words"] >= 14
    assert found[first]["details"]["compared_with"] == "human"
    assert "('Billing issue')" in found[first + 1]["reason"]


def test_short_texts_are_fine_where_people_s_samples_are_short_too() -> None:
    queries = {
        "payments": ["invoice copy", "refund status", "card declined", "pay later", "double charge", "bank transfer"],
        "delivery": ["track parcel", "change address", "late delivery", "damaged box", "courier phone", "pickup point"],
    }
    items = _shop_items([("Invoices", "payments"), ("Billing issue", "payments")], human=queries)
    assert _not_messages(items) == {}


def test_without_people_s_samples_the_cell_s_other_samples_decide() -> None:
    sentences = [(t, label) for label, texts in MESSAGES.items() for t in texts]
    items = _items([(t, label, "en", "synthetic") for t, label in [*sentences, ("Invoices", "payments")]])
    found = _not_messages(items)
    assert set(found) == {len(items)}
    assert found[len(items)]["details"]["compared_with"] == "cell"
    assert found[len(items)]["reason"].endswith(
        f"the other samples of this cell have about {found[len(items)]['details']['usual_words']} words."
    )
    # people's own short texts are never flagged: they are what the model must learn
    human = _items([(t, label, "en", "human") for t, label in [*sentences, ("Invoices", "payments")]])
    assert _not_messages(human) == {}


def test_thai_without_spaces_is_measured_in_words_too() -> None:
    thai = {
        "payments": [
            "ฉันถูกเรียกเก็บเงินสองครั้งสำหรับคำสั่งซื้อล่าสุด ช่วยคืนเงินให้หนึ่งรายการได้ไหมคะ",
            "บัตรของฉันถูกปฏิเสธทั้งที่มีเงินพอ เกิดอะไรขึ้นครับ",
            "ช่วยส่งใบแจ้งหนี้ของคำสั่งซื้อเดือนมีนาคมมาให้อีกครั้งได้ไหม หาอีเมลไม่เจอ",
            "ทำไมในบัญชีธนาคารมีรายการจ่ายเงินให้ร้านที่ฉันจำไม่ได้คะ",
            "ขอแบ่งจ่ายค่าสินค้าที่เหลือเป็นสองงวดได้ไหมครับ",
            "หน้าจ่ายเงินโหลดไม่เสร็จสักที ไม่แน่ใจว่าเงินตัดไปหรือยัง",
        ],
        "delivery": [
            "พัสดุของฉันควรจะมาถึงวันจันทร์ แต่ตอนนี้ยังไม่มาเลย อยู่ที่ไหนคะ",
            "พนักงานส่งของวางกล่องไว้ผิดบ้าน ฉันควรทำอย่างไรดีครับ",
            "เปลี่ยนที่อยู่จัดส่งของคำสั่งซื้อที่สั่งเมื่อเช้านี้ได้ไหม",
            "รอมาสองอาทิตย์แล้ว หน้าติดตามพัสดุยังขึ้นว่ากำลังเตรียมสินค้าอยู่เลยค่ะ",
            "กล่องมาถึงแล้วแต่บุบ แก้วข้างในแตกไปหนึ่งใบ อยากได้ใบใหม่ครับ",
            "ส่งของไปเชียงใหม่ปกติใช้เวลากี่วันคะ ถ้าสั่งวันนี้",
        ],
    }
    rows = [(t, label, "th", "human") for label, texts in thai.items() for t in texts]
    rows += [("ใบเสร็จ", "payments", "th"), ("ช่วยคืนเงินให้หน่อยได้ไหมคะ ของยังไม่มาเลย", "payments", "th")]
    items = _items(rows)
    found = _not_messages(items)
    assert set(found) == {len(items) - 1}  # "receipt", not "please refund me, the goods have not come yet"
    assert "('ใบเสร็จ')" in found[len(items) - 1]["reason"] and "samples in Thai" in found[len(items) - 1]["reason"]


def test_not_a_message_on_the_paper_s_topic_data(paper_data: Path) -> None:
    """People's topic sentences (median about 20 words) and the LLM's: the synthetic texts flagged are left-overs of
    the answer ("token between each text)"); the label names planted as samples are caught."""
    items: list[Item] = []
    for language in ("en", "sw", "ro", "th"):
        for part, origin in (("test", "human"), ("train_full", "synthetic")):
            with (paper_data / "topic" / f"{language}-{part}.csv").open(encoding="utf-8") as handle:
                for row in csv.DictReader(handle):
                    if (row["text"] or "").strip():
                        items.append(Item(len(items) + 1, row["text"], row["intent"], language, "train", origin, "p"))
    names = sorted({i.label for i in items if i.label})
    planted = [
        Item(len(items) + 1 + k, name.title(), name, language, "train", "synthetic", "pending")
        for k, (language, name) in enumerate((lang, name) for lang in ("en", "sw", "ro", "th") for name in names)
    ]
    everything = items + planted
    flags = quality_flags(everything, [LabelSpec(name=n) for n in names], [10] * len(everything))
    flagged = {f["sample_id"] for f in flags if f["kind"] == "not_a_message"}
    planted_ids = {i.id for i in planted}
    assert len(planted_ids & flagged) >= 0.9 * len(planted)
    text = {i.id: i.text for i in items}
    others = flagged - planted_ids
    assert len(others) <= 3  # measured: 2, in the Romanian file
    assert all(len(text[i].split()) <= 4 for i in others)

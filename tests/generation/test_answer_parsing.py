"""parse_samples on the shapes real LLM answers take, on garbage, and parse_revision on revise-pass answers."""

from __future__ import annotations

import json
import random

import pytest

from core.generation.answer_parsing import (
    DROP_REASONS,
    REASON_NOTE,
    REASON_PREAMBLE,
    REASON_REASONING,
    REASON_REPEATED,
    REASON_TOO_LONG,
    REASON_TOO_SHORT,
    REASON_TRUNCATED,
    clean_text,
    parse_samples,
)
from core.generation.revise_parsing import parse_revision

SWAHILI = [
    "Mvua itanyesha lini huku Nakuru?",
    "Je, kutakuwa na ukame mwezi ujao?",
    "Jua litawaka sana wiki hii, nipande lini maharage?",
    "Nimesikia upepo mkali unakuja, ni kweli?",
    "Msimu wa masika unaanza tarehe gani mwaka huu?",
]
HINDI = [
    "क्या कल बारिश होगी?",
    "इस हफ्ते पाला पड़ने की संभावना है क्या?",
    "मानसून इस साल कब तक आएगा?",
]
THAI = ["ฝนจะตกพรุ่งนี้ไหม", "อากาศที่เชียงใหม่หนาวไหมคะ", "สัปดาห์นี้จะมีพายุเข้าหรือเปล่า"]


def reasons(parsed) -> list[str]:  # type: ignore[no-untyped-def]
    return [d.reason for d in parsed.dropped]


def test_plain_json_array() -> None:
    parsed = parse_samples(json.dumps(SWAHILI, ensure_ascii=False), n_expected=5)
    assert parsed.samples == SWAHILI
    assert parsed.dropped == []
    assert parsed.format == "json"


def test_fenced_json_with_preamble_and_sign_off() -> None:
    raw = (
        "Here are 5 examples in Swahili:\n\n```json\n"
        + json.dumps(SWAHILI, ensure_ascii=False, indent=2)
        + "\n```\n\nI hope these help! Let me know if you need more."
    )
    parsed = parse_samples(raw, n_expected=5)
    assert parsed.samples == SWAHILI
    assert reasons(parsed) == [REASON_PREAMBLE, REASON_PREAMBLE]
    assert parsed.dropped[0].text == "Here are 5 examples in Swahili:"


def test_json_object_from_json_mode() -> None:
    raw = json.dumps({"samples": HINDI}, ensure_ascii=False)
    parsed = parse_samples(raw, n_expected=3)
    assert parsed.samples == HINDI
    assert parsed.format == "json-object"
    other_key = parse_samples(json.dumps({"weather_questions_hi": HINDI}, ensure_ascii=False), n_expected=3)
    assert other_key.samples == HINDI


def test_list_of_objects_with_text_fields() -> None:
    raw = json.dumps(
        [
            {"text": SWAHILI[0], "label": "weather"},
            {"sentence": SWAHILI[1], "language": "sw"},
            {"example": SWAHILI[2]},
            {"id": 4, "label": "weather"},
        ],
        ensure_ascii=False,
    )
    parsed = parse_samples(raw, n_expected=4)
    assert parsed.samples == SWAHILI[:3]
    assert reasons(parsed) == ["not text"]


def test_numbered_list_with_chatter_quotes_and_translations() -> None:
    raw = (
        "Sure! Here are 3 Hindi sentences about the weather:\n\n"
        '1. "क्या कल बारिश होगी?" (Will it rain tomorrow?)\n'
        "2. इस हफ्ते पाला पड़ने की संभावना है क्या?\n"
        "   *Translation: Is there a chance of frost this week?*\n"
        "3. “मानसून इस साल कब तक आएगा?”\n\n"
        "These sentences use natural, everyday Hindi."
    )
    parsed = parse_samples(raw, n_expected=3)
    assert parsed.samples == HINDI
    assert parsed.format == "numbered"
    assert reasons(parsed) == [REASON_PREAMBLE, REASON_NOTE, REASON_PREAMBLE]


def test_numbered_list_with_arabic_indic_digits_and_parentheses() -> None:
    raw = "١. هل ستمطر غدا في القاهرة؟\n٢. متى يبدأ موسم الأمطار هذا العام؟\n٣) الجو حار جدا اليوم، هل أسقي الزرع؟"
    parsed = parse_samples(raw, n_expected=3)
    assert parsed.format == "numbered"
    assert parsed.samples == [
        "هل ستمطر غدا في القاهرة؟",
        "متى يبدأ موسم الأمطار هذا العام؟",
        "الجو حار جدا اليوم، هل أسقي الزرع؟",
    ]
    assert parse_samples("(1) Mvua itanyesha lini?\n(2) Jua kali leo", n_expected=2).samples == [
        "Mvua itanyesha lini?",
        "Jua kali leo",
    ]


def test_bulleted_thai_with_curly_quotes() -> None:
    raw = "ตัวอย่างประโยคภาษาไทย:\n\n• “ฝนจะตกพรุ่งนี้ไหม”\n• 「อากาศที่เชียงใหม่หนาวไหมคะ」\n– สัปดาห์นี้จะมีพายุเข้าหรือเปล่า"
    parsed = parse_samples(raw, n_expected=3)
    assert parsed.format == "bulleted"
    assert parsed.samples == THAI
    assert reasons(parsed) == [REASON_PREAMBLE]


def test_markdown_bold_numbers_and_label_prefixes() -> None:
    raw = (
        "### Weather (Swahili)\n\n"
        "**1.** Label: weather — Mvua itanyesha lini huku Nakuru?\n"
        "**2.** Text: Je, kutakuwa na ukame mwezi ujao?\n"
        "**3.** **Jua litawaka sana wiki hii, nipande lini maharage?**\n"
        "4. Sentence 4: «Nimesikia upepo mkali unakuja, ni kweli?»\n"
        "5. „Msimu wa masika unaanza tarehe gani mwaka huu?“"
    )
    parsed = parse_samples(raw, n_expected=5)
    assert parsed.samples == SWAHILI
    assert reasons(parsed) == [REASON_PREAMBLE]


def test_plain_lines_with_a_preamble_in_the_target_language() -> None:
    raw = "Hapa kuna mifano 5 ya maswali kuhusu hali ya hewa\n" + "\n".join(SWAHILI)
    parsed = parse_samples(raw, n_expected=5)
    assert parsed.format == "lines"
    assert parsed.samples == SWAHILI
    assert reasons(parsed) == [REASON_PREAMBLE]


def test_plain_lines_keep_a_sample_that_starts_like_chatter() -> None:
    raw = "Okay so my maize leaves are yellow after the rain, what is the forecast for next week?\nWill it rain?"
    assert parse_samples(raw, n_expected=2).samples == [
        "Okay so my maize leaves are yellow after the rain, what is the forecast for next week?",
        "Will it rain?",
    ]


def test_json_cut_off_by_the_token_limit() -> None:
    raw = '["Mvua itanyesha lini huku Nakuru?", "Je, kutakuwa na ukame mwezi ujao?", "Jua litawaka sana wiki h'
    parsed = parse_samples(raw, n_expected=5, truncated=True)
    assert parsed.samples == SWAHILI[:2]
    assert parsed.format == "json-cut-off"
    assert reasons(parsed) == [REASON_TRUNCATED]


def test_complete_json_is_kept_even_when_the_limit_was_hit() -> None:
    parsed = parse_samples(json.dumps(SWAHILI[:2]), n_expected=2, truncated=True)
    assert parsed.samples == SWAHILI[:2]
    assert parsed.dropped == []


def test_numbered_list_cut_off_drops_the_last_item() -> None:
    raw = "1. Mvua itanyesha lini huku Nakuru?\n2. Je, kutakuwa na ukame mwezi ujao?\n3. Jua litawaka sana wi"
    parsed = parse_samples(raw, n_expected=5, truncated=True)
    assert parsed.samples == SWAHILI[:2]
    assert parsed.dropped[-1].reason == REASON_TRUNCATED
    unclosed = parse_samples('1. "Mvua itanyesha lini?"\n2. "Je, kutakuwa na ukame', n_expected=2)
    assert unclosed.samples == ["Mvua itanyesha lini?"]
    assert reasons(unclosed) == [REASON_TRUNCATED]


def test_duplicates_and_length_bounds() -> None:
    raw = json.dumps(["Mvua itanyesha lini?", "mvua itanyesha lini", "Ok", "x" * 1200, "Jua kali leo."])
    parsed = parse_samples(raw, n_expected=5)
    assert parsed.samples == ["Mvua itanyesha lini?", "Jua kali leo."]
    assert reasons(parsed) == [REASON_REPEATED, REASON_TOO_SHORT, REASON_TOO_LONG]
    assert parse_samples(raw, n_expected=5, min_chars=1, max_chars=2000).samples[1:3] == ["Ok", "x" * 1200]


def test_python_list_and_trailing_commas() -> None:
    assert parse_samples("['Mvua itanyesha lini?', 'Jua kali leo.']", n_expected=2).samples == [
        "Mvua itanyesha lini?",
        "Jua kali leo.",
    ]
    assert parse_samples('["Mvua itanyesha lini?", "Jua kali leo.",\n]', n_expected=2).samples == [
        "Mvua itanyesha lini?",
        "Jua kali leo.",
    ]


def test_reasoning_block_is_dropped() -> None:
    raw = "<think>The user wants Swahili weather questions. Let me vary them.</think>\n" + json.dumps(SWAHILI[:2])
    parsed = parse_samples(raw, n_expected=2)
    assert parsed.samples == SWAHILI[:2]
    assert reasons(parsed) == [REASON_REASONING]


def test_multi_line_items_keep_their_continuation() -> None:
    raw = (
        "1. Habari bwana shamba,\n   naomba kujua kama mvua itanyesha wiki ijayo.\n2. Je, kutakuwa na ukame mwezi ujao?"
    )
    parsed = parse_samples(raw, n_expected=2)
    assert parsed.samples == [
        "Habari bwana shamba,\nnaomba kujua kama mvua itanyesha wiki ijayo.",
        "Je, kutakuwa na ukame mwezi ujao?",
    ]


def test_json_lines() -> None:
    raw = '{"text": "Mvua itanyesha lini?"}\n{"text": "Jua kali leo."}'
    assert parse_samples(raw, n_expected=2).samples == ["Mvua itanyesha lini?", "Jua kali leo."]


def test_refusal_and_empty_answers_give_no_samples() -> None:
    refusal = parse_samples("I'm sorry, but I can't help with that request.", n_expected=5)
    assert refusal.samples == []
    assert reasons(refusal) == [REASON_PREAMBLE]
    empty = parse_samples("   \n", n_expected=5)
    assert (empty.samples, empty.dropped, empty.format) == ([], [], "empty")


def test_the_raw_answer_is_not_modified() -> None:
    raw = 'Here you go:\n1. "Mvua itanyesha lini?"\n2. Jua kali leo.'
    copy = str(raw)
    parse_samples(raw, n_expected=2)
    assert raw == copy


def test_quotes_that_are_part_of_the_text_stay() -> None:
    assert clean_text('"Nitakuja" alisema, "lakini mvua"') == '"Nitakuja" alisema, "lakini mvua"'
    assert clean_text("'Mvua itanyesha?'") == "Mvua itanyesha?"


def test_a_bracket_inside_a_numbered_list_is_not_taken_for_json() -> None:
    raw = "Here are examples:\n1. Mvua itanyesha lini?\n2. Jua kali leo.\n[3] Upepo mkali?\n4. Baridi kali usiku."
    parsed = parse_samples(raw, n_expected=4)
    assert "Mvua itanyesha lini?" in parsed.samples
    assert "Baridi kali usiku." in parsed.samples


@pytest.mark.slow
def test_tiny_random_model_output_is_handled(tiny_causal_lm) -> None:  # type: ignore[no-untyped-def]
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_causal_lm)
    model = AutoModelForCausalLM.from_pretrained(tiny_causal_lm)
    torch.manual_seed(0)
    inputs = tokenizer("Write 5 Swahili texts as a JSON array:", return_tensors="pt")
    for _ in range(3):
        output = model.generate(**inputs, do_sample=True, max_new_tokens=80, pad_token_id=tokenizer.eos_token_id)
        raw = tokenizer.decode(output[0][inputs["input_ids"].shape[1] :], skip_special_tokens=True)
        parsed = parse_samples(raw, n_expected=5, truncated=True)
        assert all(3 <= len(s) <= 1000 for s in parsed.samples)
        assert all(d.reason for d in parsed.dropped)


def test_garbage_never_raises() -> None:
    rng = random.Random(7)
    alphabet = [*"[]{}\"'“”«»,:.-*#\n\t 0123456789١٢abcXYZ ฝนจะตกक्याबारिश\x00\x07\ufffd", "```", "1. ", "- ", "\\"]
    for _ in range(400):
        raw = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 300)))
        parsed = parse_samples(raw, n_expected=rng.randint(1, 10), truncated=rng.random() < 0.5)
        assert all(3 <= len(s) <= 1000 for s in parsed.samples)
        assert len({" ".join(s.casefold().split()) for s in parsed.samples}) == len(parsed.samples)
        assert all(d.reason.split(" (")[0] in DROP_REASONS for d in parsed.dropped)
    binary = bytes(rng.randrange(256) for _ in range(2000)).decode("latin-1")
    assert isinstance(parse_samples(binary, n_expected=5).samples, list)


# --- the revise pass ---------------------------------------------------------------------------------------------


def test_parse_revision_in_the_asked_format() -> None:
    answer = "1. KEEP\n2. FIX: Je, kutakuwa na ukame mwezi ujao?\n3. DROP: written in English\n4. KEEP"
    verdicts = parse_revision(answer, 4)
    assert [(v.index, v.action) for v in verdicts] == [(1, "keep"), (2, "fix"), (3, "drop"), (4, "keep")]
    assert verdicts[1].text == "Je, kutakuwa na ukame mwezi ujao?"
    assert verdicts[2].reason == "written in English"


def test_parse_revision_is_tolerant() -> None:
    answer = (
        "Here is my review:\n\n"
        "**1.** keep\n"
        "2) **FIX:** “Je, kutakuwa na ukame mwezi ujao?”\n"
        "3 - Drop (belongs to the label prices)\n"
        "4. Mvua itanyesha lini? — KEEP\n"
        "5. FIX:\n   Jua litawaka sana wiki hii.\n"
        "6. DROP\n"
        "6. KEEP\n"
        "9. KEEP\n"
    )
    verdicts = parse_revision(answer, 7)
    assert [v.action for v in verdicts] == ["keep", "fix", "drop", "keep", "fix", "drop", "missing"]
    assert verdicts[1].text == "Je, kutakuwa na ukame mwezi ujao?"
    assert verdicts[2].reason == "belongs to the label prices"
    assert verdicts[4].text == "Jua litawaka sana wiki hii."
    assert verdicts[5].reason == "no reason given"
    assert verdicts[6].reason == "no verdict in the answer"


def test_parse_revision_without_numbers_and_as_json() -> None:
    assert [v.action for v in parse_revision("KEEP\nDROP: not Swahili\nKEEP", 3)] == ["keep", "drop", "keep"]
    answer = json.dumps([{"n": 1, "verdict": "KEEP"}, {"n": 2, "verdict": "FIX", "text": "Jua kali leo."}])
    verdicts = parse_revision(answer, 2)
    assert [v.action for v in verdicts] == ["keep", "fix"]
    assert verdicts[1].text == "Jua kali leo."


def test_parse_revision_of_garbage() -> None:
    verdicts = parse_revision("ĠMvua à¸Ł {]\x00\n2. FIX:", 3)
    assert [v.action for v in verdicts] == ["missing", "missing", "missing"]
    assert verdicts[1].reason == "FIX without a corrected text"

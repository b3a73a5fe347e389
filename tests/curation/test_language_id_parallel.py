"""A big check detects languages in one process per core: the flags and the summary are those of one process."""

from __future__ import annotations

import os

import pytest

from core.curation import language_id
from core.curation.duplicate_flags import Item
from core.curation.language_id import check_languages

SENTENCES = {
    "en": "Please tell me whether it will rain in Mombasa tomorrow afternoon",
    "sw": "Je, mvua itanyesha Mombasa kesho mchana na jioni",
    "de": "Wird es morgen Nachmittag in Hamburg regnen oder nicht",
    "it": "Domani pioverà a Roma? Devo decidere se portare l'ombrello",
    "es": "¿Cuánto cuesta un kilo de tomates en el mercado de Valencia?",
    "th": "พรุ่งนี้ฝนจะตกที่กรุงเทพไหมครับ",
}


def _items(n: int) -> list[Item]:
    """Samples in English, Swahili and German cells; every seventh is in another language than its cell's, every
    thirteenth too short to judge."""
    codes = ["en", "sw", "de"]
    others = list(SENTENCES)
    items = []
    for i in range(n):
        cell = codes[i % 3]
        written = others[(i // 7) % len(others)] if i % 7 == 0 else cell
        text = "ok" if i % 13 == 0 else f"{SENTENCES[written]} {i}"
        items.append(Item(i + 1, text, None, cell, "train", "synthetic", "pending"))
    return items


@pytest.mark.slow
@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="one core: detection stays in one process")
def test_detection_in_one_process_per_core_flags_what_one_process_flags(monkeypatch: pytest.MonkeyPatch) -> None:
    items = _items(900)
    alone = check_languages(items, ["en", "sw", "de"])
    monkeypatch.setattr(language_id, "PARALLEL_MIN", 100)
    monkeypatch.setattr(language_id, "PARALLEL_SLICE", 64)
    reports: list[tuple[int, int]] = []
    shared = check_languages(items, ["en", "sw", "de"], progress=lambda done, total: reports.append((done, total)))
    assert shared.flags == alone.flags and len(alone.flags) > 50
    assert shared.summary() == alone.summary() and shared.message() == alone.message()
    assert reports[0] == (0, 900)
    # one report per slice done; a process whose workers cannot start (a spawned worker re-imports this process's
    # __main__: under pytest, after a Streamlit AppTest) detects in itself, with the same answers
    assert len(reports) in (1 + -(-900 // 64), 1 + -(-900 // language_id.DETECT_SLICE))

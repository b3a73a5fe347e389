"""Deterministic fake samples for benchmarks (several scripts, labels and languages)."""

from __future__ import annotations

import random

LANGUAGES = ("en", "de", "sw", "yo", "hi", "th")
LABELS = ("weather", "crop_disease", "market_prices", "livestock", "credit")
WORDS = {
    "en": "rain maize price market cow sick leaves loan buyer dry season field seed".split(),
    "de": "Regen Mais Preis Markt Kuh krank Blätter Kredit Käufer trocken Saison Feld".split(),
    "sw": "mvua mahindi bei soko ng'ombe mgonjwa majani mkopo mnunuzi kiangazi msimu shamba".split(),
    "yo": "òjò àgbàdo iye ọjà màlúù àìsàn ewé owó olùrà ẹ̀ẹ̀rùn àsìkò oko".split(),
    "hi": "बारिश मक्का कीमत बाज़ार गाय बीमार पत्ते कर्ज़ खरीदार सूखा मौसम खेत".split(),
    "th": "ฝน ข้าวโพด ราคา ตลาด วัว ป่วย ใบ เงินกู้ ผู้ซื้อ แห้ง ฤดู ไร่".split(),
}


def fake_rows(n: int, seed: int = 7) -> list[tuple[str, str, str]]:
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        language = LANGUAGES[i % len(LANGUAGES)]
        words = rng.choices(WORDS[language], k=rng.randint(6, 18))
        rows.append((f"{' '.join(words)} #{i}", LABELS[rng.randrange(len(LABELS))], language))
    return rows

"""The garbage a small local model writes, through the real check job (`python -m core flag`): a category name
where messages belong, Thai in Latin letters, "Swahili" that reads as no language. Each ends up on its sample with
a reason in plain words; the real messages next to them get nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from core.cli import main
from core.io.importer import ColumnMapping, execute_import, plan_import
from core.store import open_store
from core.store.projects import create_project, parse_spec
from core.store.samples import page_samples

PEOPLE = [  # English messages people sent to a shop (the human test set)
    ("I was charged twice for my last order, can you please refund one of the payments?", "payments"),
    ("My card was declined although there is enough money on it, what is going on", "payments"),
    ("Could you send me the invoice for my March order again, I cannot find the email", "payments"),
    ("Why is my bank statement showing a payment to you that I do not recognise?", "payments"),
    ("I would like to pay the rest of my bill in two parts if that is possible", "payments"),
    ("My parcel was supposed to arrive on Monday and it is still not here, where is it?", "delivery"),
    ("The courier left my package at the wrong house, what should I do now", "delivery"),
    ("Is it possible to change the delivery address for the order I placed this morning?", "delivery"),
    ("I have been waiting for two weeks and the tracking page still says it is being prepared", "delivery"),
    ("Can you deliver to my office instead of my home address on Friday afternoon", "delivery"),
]
SYNTHETIC = [
    ("Invoices", "payments", "en"),  # a category name, not a message
    ("Where is my order?", "delivery", "en"),
    ("I paid the invoice yesterday but the reminder still came today, can you check?", "payments", "en"),
    ("Sawasdee krap, pom yak ja jong hong pak thi Bangkok prung nee", "delivery", "th"),  # Thai in Latin letters
    ("ชอบ iPhone 15 Pro Max มาก แต่ยังไม่ได้รับของเลยค่ะ", "delivery", "th"),
    ("Invoices payment hapana fomu processing kwa", "payments", "sw"),  # reads as no language
    ("Asante sana!", "payments", "sw"),
    ("Nataka kulipa ankara yangu ya mwezi huu kwa M-Pesa", "payments", "sw"),
]


@pytest.fixture
def project(studio_home: Path, tiny_encoder: Path):  # type: ignore[no-untyped-def]
    store = open_store()
    spec = parse_spec(
        name="Shop",
        labels=[{"name": "payments"}, {"name": "delivery"}],
        languages=[{"code": "en"}, {"code": "th"}, {"code": "sw"}],
        encoder=str(tiny_encoder),
    )
    created = create_project(store, spec)
    rows = [(t, label, "en", "test", "human") for t, label in PEOPLE]
    rows += [(t, label, lang, "train", "synthetic") for t, label, lang in SYNTHETIC]
    frame = pd.DataFrame(rows, columns=["text", "label", "language", "split", "origin"], dtype=object)
    mapping = ColumnMapping("text", "label", language_column="language")
    execute_import(store, created, plan_import(store, created, frame, mapping, "shop.csv"))
    return store, created


def test_the_check_job_flags_what_a_small_model_gets_wrong(project, capsys) -> None:  # type: ignore[no-untyped-def]
    store, created = project
    assert main(["flag", "--project", "Shop", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    found: dict[str, dict[str, tuple[str, dict]]] = {}
    for sample in page_samples(store, created.id, page_size=1000).samples:
        for flag in sample.flags:
            if flag.kind in ("not_a_message", "wrong_language"):
                found.setdefault(sample.text, {})[flag.kind] = (flag.reason, flag.details)
    assert set(found) == {
        "Invoices",
        "Sawasdee krap, pom yak ja jong hong pak thi Bangkok prung nee",
        "Invoices payment hapana fomu processing kwa",
    }
    reason, details = found["Invoices"]["not_a_message"]
    assert reason == (
        "Reads like a category name ('Invoices'), not like a message someone would write: people's samples in "
        f"English have about {details['usual_words']} words."
    )
    assert details["usual_words"] >= 14 and set(found["Invoices"]) == {"not_a_message"}
    reason, details = found["Sawasdee krap, pom yak ja jong hong pak thi Bangkok prung nee"]["wrong_language"]
    assert reason == "Written in Latin letters; Thai is written in Thai script."
    assert details["rule"] == "script"
    reason, details = found["Invoices payment hapana fomu processing kwa"]["wrong_language"]
    assert reason.startswith("Does not read as Swahili: the language detectors give Swahili ")
    assert details["rule"] == "unsure"
    assert result["flags"]["not_a_message"] == 1 and result["flags"]["wrong_language"] == 2
    assert "1 not a message" in result["message"] and "2 wrong language" in result["message"]
    assert result["language_id"]["by_rule"] == {"detected": 0, "script": 1, "unsure": 1}
    assert result["language_id"]["message"].endswith(": 2 do not read as the language of their cell.")

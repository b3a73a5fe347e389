"""Duplicate filters on the real bundled encoder: exact copies, close paraphrases, label conflicts, translations,
test contamination."""

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

ROWS = [
    # text, label, language, split, origin
    ("Will it rain in Nakuru tomorrow morning?", "weather", "en", "train", "synthetic"),
    ("Will it rain in Nakuru tomorrow morning?", "weather", "en", "train", "synthetic"),  # exact copy
    ("Will it rain in Nakuru tomorrow morning ?", "weather", "en", "train", "synthetic"),  # near copy
    ("Is it going to rain in Nakuru tomorrow morning?", "weather", "en", "train", "synthetic"),  # paraphrase
    ("The price of maize fell at the Kisumu market today.", "prices", "en", "train", "synthetic"),
    ("The price of maize fell at the Kisumu market today.", "weather", "en", "train", "human"),  # conflict
    ("Je, mvua itanyesha Nakuru kesho asubuhi?", "weather", "sw", "train", "synthetic"),  # translation
    ("My tomatoes have black spots on the leaves.", "prices", "en", "test", "human"),
    ("My tomatoes have black spots on their leaves.", "prices", "en", "train", "synthetic"),  # contamination
]


def _project(store):  # type: ignore[no-untyped-def]
    project = create_project(
        store,
        parse_spec(
            name="dups", labels=[{"name": "weather"}, {"name": "prices"}], languages=[{"code": "en"}, {"code": "sw"}]
        ),
    )
    frame = pd.DataFrame(ROWS, columns=["text", "label", "language", "split", "origin"], dtype=object)
    mapping = ColumnMapping("text", "label", language_column="language")
    execute_import(store, project, plan_import(store, project, frame, mapping, "dups.csv"))
    return project


def _flags(store, project_id: int) -> dict[str, dict[int, str]]:  # type: ignore[no-untyped-def]
    found: dict[str, dict[int, str]] = {}
    for sample in page_samples(store, project_id, page_size=1000).samples:
        for flag in sample.flags:
            found.setdefault(flag.kind, {})[sample.id] = flag.reason
    return found


@pytest.mark.slow
@pytest.mark.timeout(900)  # the first test of a session to embed with the bundled encoder pays its ONNX export
def test_duplicate_filters_flag_with_readable_reasons(bundled_in_home: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    store = open_store()
    project = _project(store)
    assert main(["flag", "--project", "dups", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    flags = _flags(store, project.id)
    ids = [s.id for s in page_samples(store, project.id, page_size=1000).samples]
    assert set(flags["exact_duplicate"]) == {ids[1]} and f"#{ids[0]}" in flags["exact_duplicate"][ids[1]]
    near = flags["near_duplicate"]
    [representative] = [i for i in (ids[0], ids[2], ids[3]) if i not in near]  # one stays unflagged
    assert all(f"sample #{representative}" in near[i] for i in (ids[0], ids[2], ids[3]) if i != representative)
    assert ids[6] not in flags.get("near_duplicate", {})  # a translation is another cell, not a duplicate
    assert set(flags["label_conflict"]) == {ids[4], ids[5]} and "'weather'" in flags["label_conflict"][ids[4]]
    assert set(flags["test_contamination"]) == {ids[8]} and "leak" in flags["test_contamination"][ids[8]]
    assert result["flags"]["exact_duplicate"] == 1
    assert result["language_id"]["checked"] == len(ROWS) and result["language_id"]["unsupported"] == []
    assert result["flags"]["wrong_language"] == 0  # every text is in the language it claims
    # flags are replaced, not piled up, when the filters run again
    assert main(["flag", "--project", "dups"]) == 0
    assert _flags(store, project.id) == flags
    # without --threshold, the flag job uses the threshold chosen for this project's encoder
    from core.curation.threshold_help import save_threshold_choice

    save_threshold_choice(store, project.id, project.encoder, 0.9999, "cell")
    capsys.readouterr()
    assert main(["flag", "--project", "dups", "--json"]) == 0
    strict = json.loads(capsys.readouterr().out)
    assert strict["threshold"] == 0.9999 and strict["flags"]["near_duplicate"] < result["flags"]["near_duplicate"]

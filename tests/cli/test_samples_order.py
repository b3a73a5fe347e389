"""`samples --order score` (issue 21): a queue of a scored flag listed most doubtful first, ties in id order; the
default order stays the order of arrival; a queue that has no score says so in one line."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from core.cli import main
from core.io.importer import ColumnMapping, execute_import, plan_import
from core.store import open_store
from core.store.flags import NewFlag, replace_flags
from core.store.projects import create_project, parse_spec
from core.store.samples import page_samples


def test_samples_are_listed_in_the_order_of_their_flags_score(capsys: pytest.CaptureFixture[str]) -> None:
    store = open_store()
    project = create_project(
        store, parse_spec(name="farm", labels=[{"name": "a"}, {"name": "b"}], languages=[{"code": "en"}])
    )
    frame = pd.DataFrame([(f"text {i}", "a") for i in range(5)], columns=["text", "label"], dtype=object)
    mapping = ColumnMapping("text", "label", language="en", origin="synthetic", status="pending")
    execute_import(store, project, plan_import(store, project, frame, mapping, "rows.csv"))
    ids = [s.id for s in page_samples(store, project.id).samples]
    scores = {ids[0]: 0.2, ids[1]: 0.9, ids[3]: 0.2, ids[4]: None}
    replace_flags(
        store, project.id, ("label_doubt",), [NewFlag(i, "label_doubt", "doubt", {}, s) for i, s in scores.items()]
    )

    assert main(["samples", "--project", "farm", "--flag", "label_doubt", "--order", "score", "--json"]) == 0
    assert [s["id"] for s in json.loads(capsys.readouterr().out)] == [ids[1], ids[0], ids[3], ids[4]]
    assert main(["samples", "--project", "farm", "--flag", "label_doubt", "--json", "--limit", "2"]) == 0
    assert [s["id"] for s in json.loads(capsys.readouterr().out)] == [ids[0], ids[1]]  # in order of arrival

    assert main(["samples", "--project", "farm", "--order", "score"]) == 1
    error = capsys.readouterr().err.strip()
    assert error.startswith("error: Only a queue of one of these flags can be ordered by score: label_doubt")
    assert len(error.splitlines()) == 1

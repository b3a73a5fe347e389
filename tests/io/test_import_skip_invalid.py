"""Importing a file with a few bad rows: the valid rows on request (one transaction), the others listed and
downloadable as a formula-escaped CSV; labels matched without regard to capitals; a typo gets a suggestion; and
messages in the words of whoever asks (the page's checkbox, the CLI's flag)."""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy.exc import DBAPIError

from core.cli import main
from core.errors import InvalidInput
from core.io.import_words import ADD_LABELS_OPTION, PAGE_WORDS
from core.io.importer import ColumnMapping, execute_import, plan_import
from core.io.skipped_rows import skipped_rows_csv, skipped_rows_file_name, skipped_rows_frame
from core.io.spreadsheet_safety import STUDIO_FORMAT_COLUMN, STUDIO_FORMAT_VALUE
from core.io.table_files import read_table
from core.store import Store
from core.store.action_log import list_actions
from core.store.projects import create_project, get_project, parse_spec
from core.store.samples import iter_samples
from tests.io.test_import import _refuse_text_on_insert

# 11 rows: 3 cannot be stored (a typo of a label, a language code that does not exist, a label with no near
# spelling); one spells a label in capitals; one starts like a spreadsheet formula
ROWS = [
    ("Will it rain on Friday?", "weather", "en"),
    ("Maize is 40 shillings a kilo", "market_prices", "en"),
    ("Is a storm coming tonight?", "Weather", "en"),
    ("Mvua itanyesha kesho?", "weather", "sw"),
    ("=HYPERLINK(1) frost tonight?", "wether", "en"),
    ("Bei ya nyanya leo?", "market_prices", "sw"),
    ("How much for beans?", "market_prices", "xx"),
    ("Hot week ahead?", "weather", "en"),
    ("Aphids on my kale", "pests", "en"),
    ("Mahindi yanauzwa bei gani?", "market_prices", "sw"),
    ("Fog in the valley?", "weather", "sw"),
]
MAPPING = ColumnMapping(text_column="text", label_column="label", language_column="language")


def _project(store: Store) -> int:
    spec = parse_spec(
        name="Farm SMS",
        labels=[{"name": "weather"}, {"name": "market_prices"}],
        languages=[{"code": "en"}, {"code": "sw"}],
    )
    return create_project(store, spec).id


def _frame(rows: list[tuple[str, str, str]] = ROWS) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["text", "label", "language"])


def _stored(store: Store, project_id: int) -> list[tuple[str, str, str]]:
    return sorted((s.text, s.label, s.language) for s in iter_samples(store, project_id))


def test_the_valid_rows_are_imported_on_request_and_the_invalid_ones_named(store: Store) -> None:
    project_id = _project(store)
    plan = plan_import(store, project_id, _frame(), MAPPING, "farm.csv")
    assert not plan.ok and plan.can_skip_invalid
    assert (plan.to_import, plan.invalid_count) == (8, 3)
    assert [(r.row, r.reason.split(":")[0]) for r in plan.invalid] == [
        (5, "The label 'wether' is not in the project"),
        (7, "Unknown language code 'xx'"),
        (9, "The label 'pests' is not in the project (add it on the Projects page, or use --add-labels)"),
    ]
    with pytest.raises(InvalidInput, match="Nothing was imported"):
        execute_import(store, project_id, plan)  # not asked: nothing is stored
    assert _stored(store, project_id) == []

    result = execute_import(store, project_id, plan, skip_invalid=True)

    assert (result.imported, result.skipped, result.invalid_skipped) == (8, 3, [5, 7, 9])
    wanted = [(t, "weather" if lb == "Weather" else lb, lang) for t, lb, lang in ROWS if lb not in ("wether", "pests")]
    assert _stored(store, project_id) == sorted(r for r in wanted if r[2] != "xx")
    assert get_project(store, project_id).label_names == ["weather", "market_prices"]  # nothing added
    [entry] = [a for a in list_actions(store, project_id) if a.action == "samples.import"]
    assert entry.after["imported"] == 8 and sum(entry.after["skipped"].values()) == 3


def test_skipping_invalid_rows_is_still_one_transaction(store: Store) -> None:
    project_id = _project(store)
    _refuse_text_on_insert(store, "Fog in the valley?")  # the database refuses the last valid row
    plan = plan_import(store, project_id, _frame(), MAPPING, "farm.csv")
    with pytest.raises(DBAPIError, match="simulated write failure"):
        execute_import(store, project_id, plan, skip_invalid=True)
    assert _stored(store, project_id) == []
    assert [a.action for a in list_actions(store, project_id)] == ["project.create"]


def test_a_file_with_no_valid_row_or_a_wrong_mapping_cannot_be_skipped_through(sqlite_store: Store) -> None:
    project_id = _project(sqlite_store)
    all_bad = plan_import(sqlite_store, project_id, _frame([ROWS[4], ROWS[8]]), MAPPING, "bad.csv")
    assert all_bad.to_import == 0 and not all_bad.can_skip_invalid
    wrong_column = plan_import(
        sqlite_store, project_id, _frame(), ColumnMapping("text", "category", language="en"), "farm.csv"
    )
    assert not wrong_column.can_skip_invalid
    for plan in (all_bad, wrong_column):
        with pytest.raises(InvalidInput, match="Nothing was imported"):
            execute_import(sqlite_store, project_id, plan, skip_invalid=True)
    assert _stored(sqlite_store, project_id) == []


def test_labels_match_without_regard_to_capitals_and_keep_the_project_spelling(sqlite_store: Store) -> None:
    project_id = _project(sqlite_store)
    rows = [("Storm?", "WEATHER", "en"), ("Rain?", "Weather", "sw"), ("Price?", "Market_Prices", "en")]
    plan = plan_import(sqlite_store, project_id, _frame(rows), MAPPING, "caps.csv")
    assert plan.ok and plan.labels_to_add == []
    assert "the label 'WEATHER' is stored as the project's 'weather' (1 row: 1)" in [p.describe() for p in plan.notes]
    execute_import(sqlite_store, project_id, plan)
    assert _stored(sqlite_store, project_id) == [
        ("Price?", "market_prices", "en"),
        ("Rain?", "weather", "sw"),
        ("Storm?", "weather", "en"),
    ]


def test_new_labels_in_two_spellings_become_one_and_a_near_miss_is_pointed_out(sqlite_store: Store) -> None:
    project_id = _project(sqlite_store)
    rows = [("a", "Pests", "en"), ("b", "pests", "en"), ("c", "wether", "en")]
    mapping = ColumnMapping("text", "label", language_column="language", add_labels=True)
    plan = plan_import(sqlite_store, project_id, _frame(rows), mapping, "new.csv")
    assert plan.ok and plan.labels_to_add == ["Pests", "wether"]
    notes = " | ".join(p.describe() for p in plan.notes)
    assert "the label 'pests' is stored as 'Pests', as the file first spells it" in notes
    assert "the new label 'wether' looks like the project's 'weather': is it a typo?" in notes
    execute_import(sqlite_store, project_id, plan)
    assert get_project(sqlite_store, project_id).label_names == ["weather", "market_prices", "Pests", "wether"]
    assert [s[1] for s in _stored(sqlite_store, project_id)] == ["Pests", "Pests", "wether"]


def test_messages_use_the_words_of_whoever_asks(sqlite_store: Store) -> None:
    project_id = _project(sqlite_store)
    page = plan_import(sqlite_store, project_id, _frame(), MAPPING, "farm.csv", words=PAGE_WORDS)
    cli = plan_import(sqlite_store, project_id, _frame(), MAPPING, "farm.csv")
    page_text = " ".join(p.describe() for p in page.errors)
    cli_text = " ".join(p.describe() for p in cli.errors)
    assert "did you mean 'weather'?" in page_text and "did you mean 'weather'?" in cli_text
    assert f"tick '{ADD_LABELS_OPTION}'" in page_text and "--add-labels" not in page_text
    assert "use --add-labels" in cli_text and "tick" not in cli_text
    new_language = plan_import(
        sqlite_store, project_id, _frame([("Bonjour", "weather", "fr")]), MAPPING, "fr.csv", words=PAGE_WORDS
    )
    assert "tick 'Add languages the project does not have yet'" in new_language.errors[0].describe()


def test_the_skipped_rows_download_as_an_escaped_csv_that_imports_back_once_fixed(
    sqlite_store: Store, tmp_path: Path
) -> None:
    project_id = _project(sqlite_store)
    plan = plan_import(sqlite_store, project_id, _frame(), MAPPING, "farm export.csv")
    data = skipped_rows_csv(plan)
    assert skipped_rows_file_name(plan) == "farm_export-skipped-rows.csv"
    raw = pd.read_csv(io.BytesIO(data), dtype=str, keep_default_na=False)
    assert list(raw.columns) == ["row_in_file", "skipped_because", "text", "label", "language", STUDIO_FORMAT_COLUMN]
    assert list(raw["row_in_file"]) == ["5", "7", "9"]
    assert raw["text"][0] == "'=HYPERLINK(1) frost tonight?"  # a spreadsheet shows it as text
    assert set(raw[STUDIO_FORMAT_COLUMN]) == {STUDIO_FORMAT_VALUE}
    assert "did you mean 'weather'?" in raw["skipped_because"][0]
    assert list(skipped_rows_frame(plan)["text"]) == [ROWS[4][0], ROWS[6][0], ROWS[8][0]]

    fixed = raw.copy()
    fixed.loc[0, "label"] = "weather"
    fixed.loc[1, "language"] = "sw"
    fixed.loc[2, "label"] = "weather"
    path = tmp_path / "fixed.csv"
    fixed.to_csv(path, index=False)
    again = plan_import(sqlite_store, project_id, read_table(path), MAPPING, "fixed.csv")
    assert again.ok and again.to_import == 3
    execute_import(sqlite_store, project_id, again)
    assert ("=HYPERLINK(1) frost tonight?", "weather", "en") in _stored(sqlite_store, project_id)


def test_the_cli_imports_the_valid_rows_with_skip_invalid(
    sqlite_store: Store, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project_id = _project(sqlite_store)
    path = tmp_path / "farm.csv"
    _frame().to_csv(path, index=False)
    command = ["import", "--project", "Farm SMS", str(path), "--text-column", "text", "--label-column", "label"]
    command += ["--language-column", "language"]

    assert main(command) != 0
    err = capsys.readouterr().err
    assert "use --skip-invalid to import the 8 valid rows and skip the 3 named" in err
    assert "use --add-labels" in err and "tick" not in err
    assert _stored(sqlite_store, project_id) == []

    assert main([*command, "--skip-invalid"]) == 0
    out = capsys.readouterr().out
    assert "Imported 8 samples into 'Farm SMS'; skipped 3." in out
    assert "rows skipped as invalid: 5, 7, 9" in out
    assert len(_stored(sqlite_store, project_id)) == 8

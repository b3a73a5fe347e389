"""Importing samples from files: formats, column mapping, validation that names rows, and all-or-nothing storage."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import datasets
import pandas as pd
import pytest
from sqlalchemy import text as sql
from sqlalchemy.exc import DBAPIError

from core.errors import InvalidInput
from core.io.importer import ColumnMapping, import_file, plan_import
from core.io.table_files import read_table
from core.store import Store
from core.store.action_log import list_actions
from core.store.projects import create_project, get_project, parse_spec
from core.store.samples import iter_samples

ROWS = [
    {"text": "my bill is wrong", "label": "billing", "language": "en", "split": "train"},
    {"text": "the network is down again", "label": "outage", "language": "en", "split": "train"},
    {"text": "nimetozwa pesa mara mbili", "label": "billing", "language": "sw", "split": "test"},
    {"text": "mtandao haufanyi kazi", "label": "outage", "language": "sw", "split": "test"},
    {"text": 'Rechnung, bitte "sofort" prüfen', "label": "billing", "language": "de", "split": "train"},
]
BY_COLUMNS = ColumnMapping(text_column="text", label_column="label", language_column="language")


def make_project(store: Store) -> str:
    spec = parse_spec(
        name="Support",
        labels=[{"name": "billing"}, {"name": "outage"}],
        languages=[{"code": "en"}, {"code": "sw"}, {"code": "de"}],
    )
    return create_project(store, spec).name


@pytest.fixture
def project(store: Store) -> str:
    """A project on SQLite and on PostgreSQL: for what the database takes part in."""
    return make_project(store)


@pytest.fixture
def lite(sqlite_store: Store) -> tuple[Store, str]:
    """A project on SQLite only: for reading files and validating them, where the database plays no part."""
    return sqlite_store, make_project(sqlite_store)


def write_csv(path: Path, rows: list[dict[str, str]], delimiter: str = ",", encoding: str = "utf-8") -> Path:
    fields = list(dict.fromkeys(k for row in rows for k in row))
    with path.open("w", newline="", encoding=encoding) as handle:
        writer = csv.DictWriter(handle, fieldnames=fields, delimiter=delimiter)
        writer.writeheader()
        writer.writerows(rows)
    return path


def stored(store: Store, project: str) -> list[tuple]:
    project_id = get_project(store, project).id
    rows = [(s.text, s.label, s.language, s.split, s.origin, s.status) for s in iter_samples(store, project_id)]
    return sorted(rows, key=lambda row: tuple("" if v is None else v for v in row))


def expected(rows: list[dict[str, str]], origin: str = "human", status: str = "accepted") -> list[tuple]:
    return sorted((r["text"], r["label"], r["language"], r["split"], origin, status) for r in rows)


# --- formats ---------------------------------------------------------------------------------------------------


def _write_format(fmt: str, folder: Path) -> Path:
    if fmt == "csv":
        return write_csv(folder / "rows.csv", ROWS)
    if fmt == "tsv":
        return write_csv(folder / "rows.tsv", ROWS, delimiter="\t")
    if fmt == "jsonl":
        path = folder / "rows.jsonl"
        path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in ROWS), encoding="utf-8")
        return path
    if fmt == "json-array":
        path = folder / "rows.json"
        path.write_text(json.dumps(ROWS, ensure_ascii=False), encoding="utf-8")
        return path
    if fmt == "parquet":
        path = folder / "rows.parquet"
        pd.DataFrame(ROWS).to_parquet(path)
        return path
    # a datasets.DatasetDict saved with save_to_disk; the split comes from the part's name here (no split column)
    parts = {
        split: datasets.Dataset.from_list(
            [{k: v for k, v in r.items() if k != "split"} for r in ROWS if r["split"] == split]
        )
        for split in ("train", "test")
    }
    path = folder / "dataset"
    datasets.DatasetDict(parts).save_to_disk(str(path))
    if fmt == "hf":
        return path
    archive = shutil.make_archive(str(folder / "dataset"), "zip", root_dir=folder, base_dir="dataset")
    shutil.rmtree(path)
    return Path(archive)


@pytest.mark.parametrize("fmt", ["csv", "tsv", "jsonl", "json-array", "parquet", "hf", "hf-zip"])
def test_every_file_format_imports_the_same_samples(lite: tuple[Store, str], tmp_path: Path, fmt: str) -> None:
    store, project = lite
    path = _write_format(fmt, tmp_path)
    result = import_file(store, project, path, BY_COLUMNS)
    assert result.imported == len(ROWS)
    assert result.skipped == 0
    assert stored(store, project) == expected(ROWS)


def test_a_single_dataset_saved_to_disk_imports_too(lite: tuple[Store, str], tmp_path: Path) -> None:
    store, project = lite
    path = tmp_path / "single"
    datasets.Dataset.from_list(ROWS).save_to_disk(str(path))
    assert import_file(store, project, path, BY_COLUMNS).imported == len(ROWS)
    assert stored(store, project) == expected(ROWS)


def test_a_folder_that_is_not_a_dataset_is_refused_readably(lite: tuple[Store, str], tmp_path: Path) -> None:
    store, project = lite
    folder = tmp_path / "not-a-dataset"
    folder.mkdir()
    (folder / "notes.txt").write_text("hello")
    with pytest.raises(InvalidInput, match="not a Hugging Face dataset saved with save_to_disk"):
        import_file(store, project, folder, BY_COLUMNS)


def test_unknown_file_type_and_missing_file_are_refused(lite: tuple[Store, str], tmp_path: Path) -> None:
    store, project = lite
    odd = tmp_path / "rows.xlsx"
    odd.write_bytes(b"PK")
    with pytest.raises(InvalidInput, match="not a file type the studio reads"):
        import_file(store, project, odd, BY_COLUMNS)
    with pytest.raises(InvalidInput, match="There is no file or folder"):
        import_file(store, project, tmp_path / "absent.csv", BY_COLUMNS)


def test_a_bad_jsonl_line_is_named(lite: tuple[Store, str], tmp_path: Path) -> None:
    store, project = lite
    path = tmp_path / "rows.jsonl"
    path.write_text('{"text": "ok", "label": "billing", "language": "en"}\n{"text": oops}\n', encoding="utf-8")
    with pytest.raises(InvalidInput, match="line 2 is not valid JSON"):
        import_file(store, project, path, BY_COLUMNS)


# --- encodings and malformed files -----------------------------------------------------------------------------


def test_a_utf8_file_with_a_byte_order_mark_imports(lite: tuple[Store, str], tmp_path: Path) -> None:
    store, project = lite
    path = write_csv(tmp_path / "excel.csv", ROWS, encoding="utf-8-sig")
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")
    assert import_file(store, project, path, BY_COLUMNS).imported == len(ROWS)
    assert stored(store, project) == expected(ROWS)


def test_a_latin1_file_gives_a_clear_error_and_stores_nothing(lite: tuple[Store, str], tmp_path: Path) -> None:
    store, project = lite
    path = tmp_path / "latin1.csv"
    path.write_bytes("text,label,language\nhello,billing,en\ncafé crème,billing,en\n".encode("latin-1"))
    with pytest.raises(InvalidInput) as error:
        import_file(store, project, path, BY_COLUMNS)
    message = str(error.value)
    assert "'latin1.csv' is not UTF-8 text" in message
    assert "0xe9 on line 3" in message
    assert "Save it again as UTF-8" in message
    assert stored(store, project) == []


def test_an_unclosed_quote_gives_a_readable_error(lite: tuple[Store, str], tmp_path: Path) -> None:
    store, project = lite
    path = tmp_path / "broken.csv"
    path.write_text('text,label,language\n"never closed,billing,en\nfine,billing,en\n', encoding="utf-8")
    with pytest.raises(InvalidInput, match=r"'broken.csv' is not a well-formed table: a quoted cell .*never closed"):
        import_file(store, project, path, BY_COLUMNS)


def test_a_row_with_too_many_cells_is_named(lite: tuple[Store, str], tmp_path: Path) -> None:
    store, project = lite
    path = tmp_path / "ragged.csv"
    path.write_text("text,label,language\nfine,billing,en\nhello, world,billing,en\n", encoding="utf-8")
    with pytest.raises(InvalidInput) as error:
        import_file(store, project, path, BY_COLUMNS)
    assert "line 3 has 4 cells where the header has 3" in str(error.value)
    assert "double quotes" in str(error.value)


def test_an_empty_file_is_refused(lite: tuple[Store, str], tmp_path: Path) -> None:
    store, project = lite
    path = tmp_path / "empty.csv"
    path.write_text("\n", encoding="utf-8")
    with pytest.raises(InvalidInput, match=r"'empty\.csv' is empty"):
        import_file(store, project, path, BY_COLUMNS)


# --- column mapping --------------------------------------------------------------------------------------------


def test_one_language_for_the_whole_file(lite: tuple[Store, str], tmp_path: Path) -> None:
    store, project = lite
    rows = [{"sentence": "bili yangu", "class": "billing"}, {"sentence": "hakuna mtandao", "class": "outage"}]
    path = write_csv(tmp_path / "sw.csv", rows)
    mapping = ColumnMapping(text_column="sentence", label_column="class", language="swa", split="test")
    import_file(store, project, path, mapping)
    assert stored(store, project) == [
        ("bili yangu", "billing", "sw", "test", "human", "accepted"),
        ("hakuna mtandao", "outage", "sw", "test", "human", "accepted"),
    ]


def test_language_column_codes_are_normalised(lite: tuple[Store, str], tmp_path: Path) -> None:
    store, project = lite
    rows = [
        {"text": "a", "label": "billing", "language": "EN"},
        {"text": "b", "label": "billing", "language": "sw_TZ"},
        {"text": "c", "label": "billing", "language": "deu"},
    ]
    import_file(store, project, write_csv(tmp_path / "codes.csv", rows), BY_COLUMNS)
    assert [(s[0], s[2]) for s in stored(store, project)] == [("a", "en"), ("b", "sw"), ("c", "de")]


def test_per_row_split_origin_and_status_columns(store: Store, project: str, tmp_path: Path) -> None:
    rows = [
        {"text": "t1", "label": "billing", "language": "en", "split": "Test", "origin": "human", "status": ""},
        {"text": "t2", "label": "billing", "language": "en", "split": "train", "origin": "synthetic", "status": ""},
        {"text": "t3", "label": "outage", "language": "en", "split": "", "origin": "", "status": "rejected"},
        {"text": "t4", "label": "", "language": "en", "split": "train", "origin": "synthetic", "status": ""},
        {
            "text": "t5",
            "label": "outage",
            "language": "en",
            "split": "train",
            "origin": "synthetic",
            "status": "accepted",
        },
    ]
    import_file(store, project, write_csv(tmp_path / "per-row.csv", rows), BY_COLUMNS)
    assert stored(store, project) == [
        ("t1", "billing", "en", "test", "human", "accepted"),
        ("t2", "billing", "en", "train", "synthetic", "pending"),
        ("t3", "outage", "en", "train", "human", "rejected"),  # empty split/origin cells: the defaults
        ("t4", None, "en", "train", "synthetic", "unlabeled"),
        ("t5", "outage", "en", "train", "synthetic", "accepted"),
    ]


def test_values_for_the_whole_file_win_over_columns(lite: tuple[Store, str], tmp_path: Path) -> None:
    store, project = lite
    rows = [{"text": "t1", "label": "billing", "language": "en", "split": "train", "origin": "human"}]
    mapping = ColumnMapping(
        text_column="text", label_column="label", language_column="language", split="test", origin="synthetic"
    )
    import_file(store, project, write_csv(tmp_path / "fixed.csv", rows), mapping)
    assert stored(store, project) == [("t1", "billing", "en", "test", "synthetic", "pending")]


def test_default_statuses(store: Store, project: str, tmp_path: Path) -> None:
    rows = [{"text": "human text", "label": "billing"}, {"text": "another", "label": "outage"}]
    path = write_csv(tmp_path / "labelled.csv", rows)
    import_file(store, project, path, ColumnMapping(text_column="text", label_column="label", language="en"))
    import_file(
        store, project, path, ColumnMapping(text_column="text", label_column="label", language="en", origin="synthetic")
    )
    import_file(store, project, path, ColumnMapping(text_column="text", language="en", split="test"))
    by_kind = {(s[0], s[3], s[4]): (s[1], s[5]) for s in stored(store, project)}
    assert by_kind == {
        ("human text", "train", "human"): ("billing", "accepted"),
        ("another", "train", "human"): ("outage", "accepted"),
        ("human text", "train", "synthetic"): ("billing", "pending"),
        ("another", "train", "synthetic"): ("outage", "pending"),
        ("human text", "test", "human"): (None, "unlabeled"),
        ("another", "test", "human"): (None, "unlabeled"),
    }


def test_a_status_for_the_whole_file(lite: tuple[Store, str], tmp_path: Path) -> None:
    store, project = lite
    path = write_csv(tmp_path / "s.csv", [{"text": "x", "label": "billing"}])
    mapping = ColumnMapping(
        text_column="text", label_column="label", language="en", origin="synthetic", status="accepted"
    )
    import_file(store, project, path, mapping)
    assert stored(store, project) == [("x", "billing", "en", "train", "synthetic", "accepted")]


# --- validation ------------------------------------------------------------------------------------------------


def test_a_missing_column_names_the_columns_of_the_file(lite: tuple[Store, str], tmp_path: Path) -> None:
    store, project = lite
    path = write_csv(tmp_path / "rows.csv", ROWS)
    mapping = ColumnMapping(text_column="sentence", label_column="label", language_column="language")
    with pytest.raises(InvalidInput) as error:
        import_file(store, project, path, mapping)
    assert "the text column 'sentence' is not in the file (its columns: label, language, split, text)" in str(
        error.value
    )
    assert stored(store, project) == []


def test_a_language_is_required(lite: tuple[Store, str], tmp_path: Path) -> None:
    store, project = lite
    path = write_csv(tmp_path / "rows.csv", [{"text": "x"}])
    with pytest.raises(InvalidInput, match="choose a language column, or one language for the whole file"):
        import_file(store, project, path, ColumnMapping(text_column="text"))
    with pytest.raises(InvalidInput, match="'klingon' is not a known language code"):
        import_file(store, project, path, ColumnMapping(text_column="text", language="klingon"))


def test_empty_texts_are_skipped_and_counted_and_nan_is_a_text(lite: tuple[Store, str], tmp_path: Path) -> None:
    store, project = lite
    rows = [
        {"text": "kept one", "label": "billing"},
        {"text": "", "label": "billing"},
        {"text": "kept two", "label": "outage"},
        {"text": "NaN", "label": "outage"},
        {"text": "   ", "label": "outage"},
    ]
    path = write_csv(tmp_path / "gaps.csv", rows)
    mapping = ColumnMapping(text_column="text", label_column="label", language="en")
    plan = plan_import(store, project, read_table(path), mapping, "gaps.csv")
    assert plan.ok
    assert [(p.message, p.rows) for p in plan.skipped] == [("empty or missing text", [2, 5])]

    result = import_file(store, project, path, mapping)
    assert result.imported == 3
    assert result.skipped == 2
    assert result.skipped_reasons == {"empty or missing text": 2}
    assert [s[0] for s in stored(store, project)] == ["NaN", "kept one", "kept two"]


def test_null_texts_in_jsonl_and_parquet_are_skipped(lite: tuple[Store, str], tmp_path: Path) -> None:
    store, project = lite
    records = [{"text": "real", "label": "billing"}, {"text": None, "label": "billing"}, {"label": "outage"}]
    jsonl = tmp_path / "nulls.jsonl"
    jsonl.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    parquet = tmp_path / "nulls.parquet"
    pd.DataFrame({"text": ["real too", float("nan")], "label": ["outage", "outage"]}).to_parquet(parquet)
    mapping = ColumnMapping(text_column="text", label_column="label", language="en")

    assert import_file(store, project, jsonl, mapping).skipped_reasons == {"empty or missing text": 2}
    assert import_file(store, project, parquet, mapping).skipped_reasons == {"empty or missing text": 1}
    assert [s[0] for s in stored(store, project)] == ["real", "real too"]


def test_unknown_labels_are_refused_by_default_naming_their_rows(lite: tuple[Store, str], tmp_path: Path) -> None:
    store, project = lite
    rows = [
        {"text": "a", "label": "billing"},
        {"text": "b", "label": "refund"},
        {"text": "c", "label": "outage"},
        {"text": "d", "label": "refund"},
    ]
    path = write_csv(tmp_path / "labels.csv", rows)
    with pytest.raises(InvalidInput) as error:
        import_file(store, project, path, ColumnMapping(text_column="text", label_column="label", language="en"))
    assert "the label 'refund' is not in the project" in str(error.value)
    assert "(2 rows: 2, 4)" in str(error.value)
    assert stored(store, project) == []
    assert get_project(store, project).label_names == ["billing", "outage"]


def test_unknown_labels_are_added_when_asked(store: Store, project: str, tmp_path: Path) -> None:
    rows = [
        {"text": "a", "label": "refund"},
        {"text": "b", "label": "  spam   mail "},
        {"text": "c", "label": "billing"},
    ]
    path = write_csv(tmp_path / "labels.csv", rows)
    mapping = ColumnMapping(text_column="text", label_column="label", language="en", add_labels=True)
    result = import_file(store, project, path, mapping)
    assert result.labels_added == ["refund", "spam mail"]
    assert get_project(store, project).label_names == ["billing", "outage", "refund", "spam mail"]
    assert [(s[0], s[1]) for s in stored(store, project)] == [("a", "refund"), ("b", "spam mail"), ("c", "billing")]


@pytest.mark.parametrize(
    ("label", "message"),
    [
        ("refund,partial", "commas and '=' are not allowed in label names"),
        ("a=b", "commas and '=' are not allowed in label names"),
        ("x" * 201, "longer than 200 characters"),
    ],
)
def test_labels_the_project_could_not_hold_are_not_added(
    lite: tuple[Store, str], tmp_path: Path, label: str, message: str
) -> None:
    store, project = lite
    path = write_csv(
        tmp_path / "bad-label.csv", [{"text": "fine", "label": "billing"}, {"text": "odd", "label": label}]
    )
    mapping = ColumnMapping(text_column="text", label_column="label", language="en", add_labels=True)
    with pytest.raises(InvalidInput) as error:
        import_file(store, project, path, mapping)
    assert message in str(error.value)
    assert "(1 row: 2)" in str(error.value)
    # the project is still readable and unchanged
    assert get_project(store, project).label_names == ["billing", "outage"]
    assert stored(store, project) == []


def test_unknown_language_codes_are_named(lite: tuple[Store, str], tmp_path: Path) -> None:
    store, project = lite
    rows = [
        {"text": "a", "label": "billing", "language": "en"},
        {"text": "b", "label": "billing", "language": "xx"},
        {"text": "c", "label": "billing", "language": ""},
        {"text": "d", "label": "billing", "language": "xx"},
    ]
    with pytest.raises(InvalidInput) as error:
        import_file(store, project, write_csv(tmp_path / "langs.csv", rows), BY_COLUMNS)
    message = str(error.value)
    assert "unknown language code 'xx' (2 rows: 2, 4)" in message
    assert "unknown language code '(empty)' (1 row: 3)" in message
    assert stored(store, project) == []


def test_languages_outside_the_project_are_refused_or_added(store: Store, project: str, tmp_path: Path) -> None:
    rows = [
        {"text": "bonjour", "label": "billing", "language": "fr"},
        {"text": "hi", "label": "billing", "language": "en"},
    ]
    path = write_csv(tmp_path / "fr.csv", rows)
    with pytest.raises(InvalidInput, match=r"the language French \(fr\) is not in the project .*\(1 row: 1\)"):
        import_file(store, project, path, BY_COLUMNS)
    assert stored(store, project) == []

    mapping = ColumnMapping(text_column="text", label_column="label", language_column="language", add_languages=True)
    result = import_file(store, project, path, mapping)
    assert result.languages_added == ["fr"]
    assert get_project(store, project).language_codes == ["en", "sw", "de", "fr"]
    assert len(stored(store, project)) == 2


@pytest.mark.parametrize(
    ("column", "value", "message"),
    [
        ("split", "validation", "unknown split 'validation' (use train or test)"),
        ("origin", "llm", "unknown origin 'llm' (use synthetic or human)"),
        ("status", "maybe", "unknown status 'maybe' (use unlabeled, pending, accepted, rejected)"),
    ],
)
def test_bad_per_row_values_are_named(
    lite: tuple[Store, str], tmp_path: Path, column: str, value: str, message: str
) -> None:
    store, project = lite
    rows = [
        {"text": "a", "label": "billing", "language": "en", column: ""},
        {"text": "b", "label": "billing", "language": "en", column: value},
    ]
    with pytest.raises(InvalidInput) as error:
        import_file(store, project, write_csv(tmp_path / "bad.csv", rows), BY_COLUMNS)
    assert f"{message} (1 row: 2)" in str(error.value)
    assert stored(store, project) == []


def test_bad_values_for_the_whole_file_are_refused(lite: tuple[Store, str], tmp_path: Path) -> None:
    store, project = lite
    path = write_csv(tmp_path / "rows.csv", ROWS)
    bad = ColumnMapping(text_column="text", language="en", split="dev", origin="robot", status="rejected")
    with pytest.raises(InvalidInput) as error:
        import_file(store, project, path, bad)
    message = str(error.value)
    assert "the split must be train or test, not 'dev'" in message
    assert "the origin must be synthetic or human, not 'robot'" in message
    assert "the status must be one of unlabeled, pending, accepted, not 'rejected'" in message


# --- repeats, re-imports, atomicity -----------------------------------------------------------------------------


def test_reimporting_the_same_file_adds_nothing(store: Store, project: str, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "rows.csv", ROWS)
    first = import_file(store, project, path, BY_COLUMNS)
    second = import_file(store, project, path, BY_COLUMNS)
    assert first.imported == len(ROWS)
    assert second.imported == 0
    assert second.skipped == len(ROWS)
    assert list(second.skipped_reasons) == ["already in the project (same text, label, language, split and origin)"]
    assert stored(store, project) == expected(ROWS)


def test_the_same_text_under_another_split_or_label_is_a_new_sample(lite: tuple[Store, str], tmp_path: Path) -> None:
    store, project = lite
    first = write_csv(tmp_path / "a.csv", [{"text": "same words", "label": "billing"}])
    second = write_csv(tmp_path / "b.csv", [{"text": "same words", "label": "outage"}])
    import_file(store, project, first, ColumnMapping(text_column="text", label_column="label", language="en"))
    import_file(
        store, project, first, ColumnMapping(text_column="text", label_column="label", language="en", split="test")
    )
    result = import_file(store, project, second, ColumnMapping(text_column="text", label_column="label", language="en"))
    assert result.imported == 1
    assert len(stored(store, project)) == 3


def test_repeats_within_a_file_are_stored_and_noted(store: Store, project: str, tmp_path: Path) -> None:
    rows = [
        {"text": "said twice", "label": "billing"},
        {"text": "once", "label": "billing"},
        {"text": "said twice", "label": "billing"},
        {"text": "said twice", "label": "billing"},
    ]
    path = write_csv(tmp_path / "repeats.csv", rows)
    result = import_file(store, project, path, ColumnMapping(text_column="text", label_column="label", language="en"))
    assert result.imported == 4
    assert result.skipped == 0
    assert any("repeat an earlier row" in note and "(2 rows: 3, 4)" in note for note in result.notes)
    assert [s[0] for s in stored(store, project)] == ["once", "said twice", "said twice", "said twice"]


def test_import_is_recorded_in_the_action_log(lite: tuple[Store, str], tmp_path: Path) -> None:
    store, project = lite
    import_file(store, project, write_csv(tmp_path / "rows.csv", ROWS), BY_COLUMNS)
    entry = next(a for a in list_actions(store, get_project(store, project).id) if a.action == "samples.import")
    assert entry.who == "tester"
    assert entry.after["source"] == "rows.csv"
    assert entry.after["imported"] == len(ROWS)


def _refuse_text_on_insert(store: Store, poison: str) -> None:
    """Make the database itself refuse one row (as a full disk or a lost connection would fail a write)."""
    with store.session() as session:
        if store.dialect == "sqlite":
            session.execute(
                sql(
                    "CREATE TRIGGER refuse_poison BEFORE INSERT ON samples "
                    f"WHEN NEW.text = '{poison}' BEGIN SELECT RAISE(ABORT, 'simulated write failure'); END"
                )
            )
        else:
            session.execute(
                sql(
                    "CREATE FUNCTION refuse_poison() RETURNS trigger AS $$ BEGIN "
                    f"IF NEW.text = '{poison}' THEN RAISE EXCEPTION 'simulated write failure'; END IF; "
                    "RETURN NEW; END $$ LANGUAGE plpgsql"
                )
            )
            session.execute(
                sql(
                    "CREATE TRIGGER refuse_poison BEFORE INSERT ON samples "
                    "FOR EACH ROW EXECUTE FUNCTION refuse_poison()"
                )
            )


def test_a_write_that_fails_midway_stores_nothing(store: Store, project: str, tmp_path: Path) -> None:
    """New labels, a new language and 6,000 rows are written, then the database refuses the last row."""
    rows = [{"text": f"message number {i}", "label": "refund", "language": "fr"} for i in range(6000)]
    rows.append({"text": "POISON", "label": "billing", "language": "en"})
    path = write_csv(tmp_path / "big.csv", rows)
    _refuse_text_on_insert(store, "POISON")
    before = get_project(store, project)
    mapping = ColumnMapping(
        text_column="text", label_column="label", language_column="language", add_labels=True, add_languages=True
    )

    with pytest.raises(DBAPIError, match="simulated write failure"):
        import_file(store, project, path, mapping)

    after = get_project(store, project)
    assert stored(store, project) == []
    assert after.label_names == before.label_names == ["billing", "outage"]
    assert after.language_codes == before.language_codes
    assert [a.action for a in list_actions(store, after.id)] == ["project.create"]


def test_a_refused_plan_stores_nothing(lite: tuple[Store, str], tmp_path: Path) -> None:
    store, project = lite
    rows = [*ROWS, {"text": "bad split", "label": "newlabel", "language": "en", "split": "dev"}]
    path = write_csv(tmp_path / "refused.csv", rows)
    mapping = ColumnMapping(text_column="text", label_column="label", language_column="language", add_labels=True)
    plan = plan_import(store, project, read_table(path), mapping, "refused.csv")
    assert not plan.ok
    with pytest.raises(InvalidInput, match="Nothing was imported"):
        import_file(store, project, path, mapping)
    assert stored(store, project) == []
    assert get_project(store, project).label_names == ["billing", "outage"]


def test_nul_characters_are_removed_from_imported_texts(store) -> None:  # type: ignore[no-untyped-def]
    import pandas as pd

    from core.io.importer import ColumnMapping, execute_import, plan_import
    from core.store.projects import create_project, parse_spec
    from core.store.samples import page_samples

    project = create_project(store, parse_spec(name="nul", labels=[{"name": "a"}], languages=[{"code": "en"}]))
    frame = pd.DataFrame({"text": ["he\x00llo", "\x00"], "label": ["a", "a"]}, dtype=object)
    plan = plan_import(store, project, frame, ColumnMapping("text", "label", language="en"), "nul.csv")
    result = execute_import(store, project, plan)
    assert result.imported == 1 and result.skipped == 1
    assert [s.text for s in page_samples(store, project.id).samples] == ["hello"]

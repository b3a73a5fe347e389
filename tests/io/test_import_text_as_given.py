"""Texts are stored as the file gives them: 'nan' is a word, whitespace is kept, only real nulls are missing."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from core.cli import main
from core.errors import InvalidInput
from core.io.importer import ColumnMapping, import_file, plan_import
from core.io.table_files import read_table
from core.store import Store
from core.store.projects import create_project, parse_spec
from core.store.samples import iter_samples

MAPPING = ColumnMapping(text_column="text", label_column="label", language="en")


@pytest.fixture
def project(sqlite_store: Store) -> int:
    spec = parse_spec(name="AsGiven", labels=[{"name": "a"}], languages=[{"code": "en"}])
    return create_project(sqlite_store, spec).id


def _texts(store: Store, project: int) -> list[str]:
    return [s.text for s in iter_samples(store, project)]


def test_nan_none_and_null_in_a_csv_are_words(sqlite_store: Store, project: int, tmp_path: Path) -> None:
    path = tmp_path / "words.csv"
    path.write_text("text,label\nnan,a\nNaN,a\nNone,a\nnull,a\nNULL,a\nN/A,a\n,a\n", encoding="utf-8")
    result = import_file(sqlite_store, project, path, MAPPING)
    assert result.imported == 6
    assert result.skipped_reasons == {"empty or missing text": 1}
    assert sorted(_texts(sqlite_store, project)) == sorted(["nan", "NaN", "None", "null", "NULL", "N/A"])


def test_real_nulls_in_jsonl_and_parquet_stay_missing_but_the_word_nan_is_text(
    sqlite_store: Store, project: int, tmp_path: Path
) -> None:
    jsonl = tmp_path / "rows.jsonl"
    records = [{"text": "nan", "label": "a"}, {"text": None, "label": "a"}, {"label": "a"}, {"text": "None"}]
    jsonl.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    assert read_table(jsonl)["text"].tolist() == ["nan", None, None, "None"]

    parquet = tmp_path / "rows.parquet"
    frame = pd.DataFrame({"text": pd.array(["NaN", None, "kept"], dtype="string"), "label": ["a", "a", "a"]})
    frame.to_parquet(parquet)
    floats = tmp_path / "floats.parquet"
    pd.DataFrame({"text": [1.5, float("nan")], "label": ["a", "a"]}).to_parquet(floats)
    assert read_table(parquet)["text"].tolist() == ["NaN", None, "kept"]
    assert read_table(floats)["text"].tolist() == ["1.5", None]

    result = import_file(sqlite_store, project, parquet, MAPPING)
    assert (result.imported, result.skipped_reasons) == (2, {"empty or missing text": 1})
    assert sorted(_texts(sqlite_store, project)) == ["NaN", "kept"]


def test_leading_and_trailing_whitespace_is_kept(sqlite_store: Store, project: int, tmp_path: Path) -> None:
    path = tmp_path / "spaces.csv"
    texts = ["\tindented with a tab", "  two spaces", "\rcarriage return", "trailing  ", "  both\t"]
    path.write_bytes(("text,label\n" + "".join(f'"{t}",a\n' for t in texts)).encode("utf-8"))
    assert read_table(path)["text"].tolist() == texts
    import_file(sqlite_store, project, path, MAPPING)
    assert sorted(_texts(sqlite_store, project)) == sorted(texts)


def test_whitespace_is_stripped_only_when_asked(sqlite_store: Store, project: int, tmp_path: Path) -> None:
    path = tmp_path / "spaces.csv"
    path.write_text('text,label\n"  padded\t",a\n"\tplain",a\n', encoding="utf-8")
    strip = ColumnMapping(text_column="text", label_column="label", language="en", strip_whitespace=True)
    plan = plan_import(sqlite_store, project, read_table(path), strip, "spaces.csv")
    assert [r["text"] for r in plan.records] == ["padded", "plain"]
    import_file(sqlite_store, project, path, strip)
    assert sorted(_texts(sqlite_store, project)) == ["padded", "plain"]


def test_a_text_of_only_whitespace_is_empty_and_skipped(sqlite_store: Store, project: int, tmp_path: Path) -> None:
    path = tmp_path / "blank.csv"
    path.write_text('text,label\n"   ",a\n"\t\r\n",a\nreal,a\n', encoding="utf-8")
    result = import_file(sqlite_store, project, path, MAPPING)
    assert (result.imported, result.skipped_reasons) == (1, {"empty or missing text": 2})


def test_a_file_imported_before_whitespace_was_kept_reimports_without_duplicates(
    sqlite_store: Store, project: int, tmp_path: Path
) -> None:
    """Samples stored stripped (as every import did before) match the same file's padded rows."""
    path = tmp_path / "padded.csv"
    path.write_text('text,label\n"  padded ",a\nplain,a\n', encoding="utf-8")
    strip = ColumnMapping(text_column="text", label_column="label", language="en", strip_whitespace=True)
    assert import_file(sqlite_store, project, path, strip).imported == 2  # what the old importer stored
    again = import_file(sqlite_store, project, path, MAPPING)
    assert (again.imported, again.skipped) == (0, 2)
    assert sorted(_texts(sqlite_store, project)) == ["padded", "plain"]


def test_the_cli_strips_whitespace_with_its_option(
    sqlite_store: Store, project: int, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "cli.csv"
    path.write_text('text,label\n"  cli text  ",a\n', encoding="utf-8")
    args = ["import", "--project", "AsGiven", str(path), "--text-column", "text", "--label-column", "label"]
    assert main([*args, "--language", "en", "--strip-whitespace"]) == 0, capsys.readouterr().err
    assert _texts(sqlite_store, project) == ["cli text"]


def test_two_csv_columns_with_the_same_name_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "twice.csv"
    path.write_text("text,label,text\nfirst,a,second\n", encoding="utf-8")
    with pytest.raises(InvalidInput) as error:
        read_table(path)
    assert "'twice.csv' has more than one column named 'text' (columns 1 and 3)" in str(error.value)


def test_two_parquet_columns_with_the_same_name_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "twice.parquet"
    table = pa.table([pa.array(["x"]), pa.array(["a"]), pa.array(["y"])], names=["text", "label", "text"])
    pq.write_table(table, path)
    with pytest.raises(InvalidInput, match=r"'twice\.parquet' has more than one column named 'text'"):
        read_table(path)


def test_a_jsonl_object_with_a_repeated_field_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "twice.jsonl"
    path.write_text('{"text": "ok", "label": "a"}\n{"text": "first", "label": "a", "text": "second"}\n')
    with pytest.raises(InvalidInput, match=r"'twice\.jsonl' line 2 has the field 'text' more than once"):
        read_table(path)

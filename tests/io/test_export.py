"""Exporting samples, and importing an export back: nothing may change on the way, and CSV cells are formula-safe."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from sqlalchemy import select

from core.errors import InvalidInput
from core.io.exporter import EXPORT_FORMATS, export_download, export_file_name, export_project
from core.io.importer import ColumnMapping, import_file
from core.store import Store
from core.store.projects import create_project, get_project, parse_spec
from core.store.samples import Sample, SampleFilter, iter_samples
from core.store.schema import FlagRow, SampleRow

LABELS = ("billing", "outage", "+1 upvote")
LANGUAGES = ("en", "sw", "th")
TEXTS = [
    # text, label, language, split, origin
    ("my bill is wrong", "billing", "en", "train", "human"),
    ('=HYPERLINK("http://evil","click")', "billing", "en", "train", "synthetic"),
    ("+49 30 1234 called twice", "outage", "en", "test", "human"),
    ("-5 degrees and no power", "outage", "en", "train", "synthetic"),
    ("@support why is it down", "outage", "en", "test", "human"),
    ("'quoted from a letter'", "billing", "en", "train", "human"),
    ("''two apostrophes", "billing", "sw", "train", "synthetic"),
    ('a, b and "c"\nsecond line', "+1 upvote", "sw", "test", "human"),
    ("อินเทอร์เน็ตใช้ไม่ได้ 😡", "outage", "th", "test", "human"),
    ("nimetozwa pesa mara mbili", "billing", "sw", "train", "synthetic"),
    ("no label yet", "", "sw", "train", "human"),
    ("1234", "billing", "en", "train", "human"),
]
MAPPING = ColumnMapping(text_column="text", label_column="label", language_column="language")


def _spec(name: str):  # type: ignore[no-untyped-def]
    return parse_spec(name=name, labels=[{"name": n} for n in LABELS], languages=[{"code": c} for c in LANGUAGES])


@pytest.fixture
def source(store: Store, tmp_path: Path) -> int:
    """A project with every kind of sample, on SQLite and on PostgreSQL."""
    return make_source(store, tmp_path)


@pytest.fixture
def lite_source(sqlite_store: Store, tmp_path: Path) -> tuple[Store, int]:
    """The same project on SQLite only, for what the database plays no part in."""
    return sqlite_store, make_source(sqlite_store, tmp_path)


def make_source(store: Store, tmp_path: Path) -> int:
    """A project with every kind of sample: formula-like texts, unlabeled, statuses, flags and provenance."""
    project = create_project(store, _spec("Source"))
    path = tmp_path / "seed.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "label", "language", "split", "origin"])
        writer.writerows(TEXTS)
    assert import_file(store, project.id, path, MAPPING).imported == len(TEXTS)

    with store.session() as session:
        rows = {r.text: r for r in session.scalars(select(SampleRow).where(SampleRow.project_id == project.id))}
        rows["my bill is wrong"].status = "rejected"
        for text in ("-5 degrees and no power", "nimetozwa pesa mara mbili"):
            rows[text].generation_run_id = 7
            rows[text].prompt_version = "billing-v3"
            rows[text].model = "gpt-4o-mini"
            rows[text].source = "generation run 7"
        session.add_all(
            [
                FlagRow(
                    sample_id=rows["''two apostrophes"].id,
                    project_id=project.id,
                    kind="near_duplicate",
                    reason="Almost the same as sample 3 (96% similar).",
                    details={"other": 3, "similarity": 0.96, "words": ["mara", "mbili"]},
                ),
                FlagRow(
                    sample_id=rows["''two apostrophes"].id,
                    project_id=project.id,
                    kind="wrong_language",
                    reason="Looks like English, not Swahili.",
                    details={"detected": "en"},
                ),
                FlagRow(
                    sample_id=rows["อินเทอร์เน็ตใช้ไม่ได้ 😡"].id,
                    project_id=project.id,
                    kind="too_short",
                    reason="Ü: only 3 words",
                    details={},
                ),
            ]
        )
    return project.id


def _content(sample: Sample) -> tuple:
    return (
        sample.text,
        sample.label,
        sample.language,
        sample.split,
        sample.origin,
        sample.status,
        tuple((f.kind, f.reason, json.dumps(f.details, sort_keys=True)) for f in sample.flags),
        sample.source,
        sample.generation_run_id,
        sample.prompt_version,
        sample.model,
    )


def _contents(store: Store, project_id: int) -> list[tuple]:
    return sorted((_content(s) for s in iter_samples(store, project_id)), key=repr)


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet", "hf"])
def test_export_then_import_gives_the_same_samples(store: Store, source: int, tmp_path: Path, fmt: str) -> None:
    original = _contents(store, source)
    assert len(original) == len(TEXTS)
    assert sum(len(c[6]) for c in original) == 3  # the flags are there to be carried
    out = tmp_path / ("export" if fmt == "hf" else f"export.{fmt}")

    assert export_project(store, source, fmt, out) == len(TEXTS)
    copy = create_project(store, _spec("Copy"))
    result = import_file(store, copy.id, out, MAPPING)

    assert result.imported == len(TEXTS)
    assert result.skipped == 0
    assert _contents(store, copy.id) == original


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet", "hf"])
def test_an_export_imported_back_into_its_project_adds_nothing(sqlite_store: Store, tmp_path: Path, fmt: str) -> None:
    project = create_project(sqlite_store, _spec("Source"))
    seed = tmp_path / "seed.csv"
    with seed.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows([("text", "label", "language", "split", "origin"), *TEXTS])
    import_file(sqlite_store, project.id, seed, MAPPING)
    out = tmp_path / ("export" if fmt == "hf" else f"export.{fmt}")
    export_project(sqlite_store, project.id, fmt, out)

    result = import_file(sqlite_store, project.id, out, MAPPING)
    assert result.imported == 0
    assert result.skipped == len(TEXTS)


def test_hf_export_with_an_empty_split_can_be_imported(sqlite_store: Store, tmp_path: Path) -> None:
    project = create_project(sqlite_store, _spec("Train only"))
    seed = tmp_path / "seed.csv"
    seed.write_text("text,label\nonly training data,billing\n", encoding="utf-8")
    import_file(sqlite_store, project.id, seed, ColumnMapping(text_column="text", label_column="label", language="en"))
    out = tmp_path / "dataset"
    export_project(sqlite_store, project.id, "hf", out)

    copy = create_project(sqlite_store, _spec("Copy"))
    assert import_file(sqlite_store, copy.id, out, MAPPING).imported == 1
    assert _contents(sqlite_store, copy.id) == _contents(sqlite_store, project.id)


def _csv_cells(path: Path) -> dict[str, dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return {row["id"]: row for row in csv.DictReader(handle)}


def test_csv_cells_that_a_spreadsheet_would_run_are_escaped(lite_source: tuple[Store, int], tmp_path: Path) -> None:
    store, source = lite_source
    out = tmp_path / "export.csv"
    export_project(store, source, "csv", out)
    cells = _csv_cells(out)
    by_text = {s.text: str(s.id) for s in iter_samples(store, source)}

    for text in (
        '=HYPERLINK("http://evil","click")',
        "+49 30 1234 called twice",
        "-5 degrees and no power",
        "@support why is it down",
        "'quoted from a letter'",
        "''two apostrophes",
    ):
        assert cells[by_text[text]]["text"] == "'" + text
    for text in ("my bill is wrong", "1234", "อินเทอร์เน็ตใช้ไม่ได้ 😡"):
        assert cells[by_text[text]]["text"] == text
    # a label is a cell like any other
    assert cells[by_text['a, b and "c"\nsecond line']]["label"] == "'+1 upvote"
    assert all(row["studio_format"] == "distill-studio/1" for row in cells.values())


def test_csv_escapes_a_leading_tab(sqlite_store: Store, tmp_path: Path) -> None:
    project = create_project(sqlite_store, _spec("Tabs"))
    with sqlite_store.session() as session:  # the importer trims texts, so a leading tab can only come from elsewhere
        session.add(
            SampleRow(
                project_id=project.id,
                text="\tcmd|' /C calc'!A0",
                label="billing",
                language="en",
                origin="synthetic",
                split="train",
                status="pending",
                content_key="x" * 40,
                created_by="tester",
                updated_by="tester",
            )
        )
    out = tmp_path / "tabs.csv"
    export_project(sqlite_store, project.id, "csv", out)
    (row,) = _csv_cells(out).values()
    assert row["text"] == "'\tcmd|' /C calc'!A0"


def test_apostrophes_in_a_csv_from_elsewhere_are_kept(sqlite_store: Store, tmp_path: Path) -> None:
    """Only the studio's own CSV (marked by its studio_format column) has its escaping undone."""
    project = create_project(sqlite_store, _spec("Plain"))
    path = tmp_path / "from-a-spreadsheet.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows([("text", "label"), ("'=x", "billing"), ("'tis the season", "billing")])
    import_file(sqlite_store, project.id, path, ColumnMapping(text_column="text", label_column="label", language="en"))
    assert sorted(s.text for s in iter_samples(sqlite_store, project.id)) == ["'=x", "'tis the season"]


def test_a_hand_edited_studio_file_with_a_repeated_flag_keeps_one(sqlite_store: Store, tmp_path: Path) -> None:
    project = create_project(sqlite_store, _spec("Flags"))
    flags = [
        {"kind": "too_short", "reason": "first", "details": {}},
        {"kind": "too_short", "reason": "second", "details": {}},
        {"kind": "label_leak", "reason": "says 'billing'", "details": {"word": "billing"}},
    ]
    path = tmp_path / "edited.jsonl"
    record = {"text": "billing", "label": "billing", "language": "en", "flags": json.dumps(flags)}
    path.write_text(json.dumps({**record, "studio_format": "distill-studio/1 plain"}) + "\n", encoding="utf-8")

    import_file(sqlite_store, project.id, path, MAPPING)
    (sample,) = iter_samples(sqlite_store, project.id)
    assert [(f.kind, f.reason) for f in sample.flags] == [("too_short", "first"), ("label_leak", "says 'billing'")]


def test_export_with_a_filter_writes_only_matching_samples(lite_source: tuple[Store, int], tmp_path: Path) -> None:
    store, source = lite_source
    out = tmp_path / "sw.jsonl"
    count = export_project(store, source, "jsonl", out, SampleFilter(languages=("sw",)))
    records = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert count == len(records) == sum(1 for t in TEXTS if t[2] == "sw")
    assert {r["language"] for r in records} == {"sw"}


def test_export_refusals(sqlite_store: Store, tmp_path: Path) -> None:
    project = create_project(sqlite_store, _spec("Refusals"))
    with pytest.raises(InvalidInput, match="Unknown export format 'xlsx'"):
        export_project(sqlite_store, project.id, "xlsx", tmp_path / "out.xlsx")
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "keep.txt").write_text("mine")
    with pytest.raises(InvalidInput, match="is not empty"):
        export_project(sqlite_store, project.id, "hf", busy)
    assert (busy / "keep.txt").read_text() == "mine"


def test_an_empty_project_exports_an_empty_file(sqlite_store: Store, tmp_path: Path) -> None:
    project = create_project(sqlite_store, _spec("Empty"))
    out = tmp_path / "empty.csv"
    assert export_project(sqlite_store, project.id, "csv", out) == 0
    assert _csv_cells(out) == {}
    assert get_project(sqlite_store, project.id).name == "Empty"


def test_provenance_fields_survive_the_json_lines_file(lite_source: tuple[Store, int], tmp_path: Path) -> None:
    store, source = lite_source
    out = tmp_path / "export.jsonl"
    export_project(store, source, "jsonl", out)
    records = {r["text"]: r for r in map(json.loads, out.read_text(encoding="utf-8").splitlines())}
    generated = records["-5 degrees and no power"]
    assert (generated["generation_run_id"], generated["prompt_version"], generated["model"]) == (
        7,
        "billing-v3",
        "gpt-4o-mini",
    )
    assert records["my bill is wrong"]["generation_run_id"] is None


@pytest.mark.parametrize("fmt", EXPORT_FORMATS)
def test_the_download_name_is_known_before_the_file_is_written(lite_source: tuple[Store, int], fmt: str) -> None:
    store, project_id = lite_source
    project = get_project(store, project_id)
    name, data = export_download(store, project_id, fmt)
    assert export_file_name(project.name, fmt) == name and data

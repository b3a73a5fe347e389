"""Large imports, which take the bulk path (one COPY on PostgreSQL; on SQLite one executemany into a table whose
indexes are built after the rows when the import is at least as large as the table): the same samples, keys, ids,
flags and indexes as a row-by-row write would leave, and nothing at all when the write fails."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy import text as sql
from sqlalchemy.exc import DBAPIError

from core.io.importer import ColumnMapping, execute_import, import_file, plan_import
from core.io.spreadsheet_safety import STUDIO_FORMAT_COLUMN, STUDIO_FORMAT_VALUE
from core.io.table_files import read_table
from core.store import Store
from core.store.action_log import list_actions
from core.store.projects import create_project, get_project, parse_spec
from core.store.sample_import import LATE_SKIP_REASON
from core.store.samples import content_key
from core.store.schema import FlagRow, SampleRow

ROWS = 12_000  # more than the SQLite path's threshold for building the indexes after the rows
LABELS = ("billing", "outage", None)
LANGUAGES = ("en", "sw", "de")


def make_project(store: Store) -> int:
    spec = parse_spec(
        name="Bulk",
        labels=[{"name": "billing"}, {"name": "outage"}],
        languages=[{"code": c} for c in LANGUAGES],
    )
    return create_project(store, spec).id


def write_rows(path: Path, rows: int, *, poison_last: bool = False, studio: bool = False) -> Path:
    """Rows in three languages, two labels and none, both splits and origins; texts with the characters COPY and
    SQL escape (backslash, tab, line break, quotes). A studio file carries a flag per row naming its row."""
    fields = ["text", "label", "language", "split", "origin"]
    if studio:
        fields += [STUDIO_FORMAT_COLUMN, "flags", "source", "generation_run_id", "model"]
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        for i in range(rows):
            row = {
                "text": f"row {i}: a\\b\tc 'd' \"e\" ü\nline two" if i % 7 == 0 else f"row {i} of the bulk file",
                "label": LABELS[i % 3] or "",
                "language": LANGUAGES[i % 3 - 1],
                "split": ("train", "test")[i % 2],
                "origin": ("human", "synthetic")[i % 5 == 0],
            }
            if studio:
                flag = {"kind": "too_short", "reason": f"row {i}", "details": {"row": i}}
                row |= {
                    STUDIO_FORMAT_COLUMN: STUDIO_FORMAT_VALUE,
                    "flags": json.dumps([flag]) if i % 2 else "",
                    "source": f"batch {i % 4}",
                    "generation_run_id": str(i % 3) if i % 3 else "",
                    "model": "",
                }
            writer.writerow(row)
        if poison_last:
            writer.writerow({"text": "POISON", "label": "billing", "language": "en", "split": "train"})
    return path


def index_definitions(store: Store) -> list[tuple[str, str]]:
    with store.session() as session:
        if store.dialect == "sqlite":
            query = "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'samples' ORDER BY name"
        else:
            query = "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'samples' ORDER BY indexname"
        return [(name, definition) for name, definition in session.execute(sql(query))]


def stored_rows(store: Store, project_id: int) -> list[tuple]:
    columns = (SampleRow.id, SampleRow.text, SampleRow.label, SampleRow.language, SampleRow.split, SampleRow.origin)
    with store.session() as session:
        query = select(*columns, SampleRow.status, SampleRow.content_key).where(SampleRow.project_id == project_id)
        return [tuple(row) for row in session.execute(query.order_by(SampleRow.id))]


MAPPING = ColumnMapping(text_column="text", label_column="label", language_column="language")


@pytest.mark.slow
def test_a_bulk_import_stores_the_file_in_order_with_the_studios_keys(store: Store, tmp_path: Path) -> None:
    project_id = make_project(store)
    indexes = index_definitions(store)
    import_file(store, project_id, write_rows(tmp_path / "small.csv", 3), MAPPING)
    result = import_file(store, project_id, write_rows(tmp_path / "bulk.csv", ROWS), MAPPING)
    assert result.imported == ROWS - 3 and result.skipped == 3  # the first three rows were there already

    rows = stored_rows(store, project_id)
    assert len(rows) == ROWS
    # in id order, the rows of the file in its order
    assert [row[1].split(" ", 2)[1].rstrip(":") for row in rows] == [str(i) for i in range(ROWS)]
    for _, text, label, language, split, origin, status, key in rows:
        assert key == content_key(text, label, language, split, origin)
        assert status == ("unlabeled" if label is None else "accepted" if origin == "human" else "pending")
    assert rows[7][1] == "row 7: a\\b\tc 'd' \"e\" ü\nline two"
    assert index_definitions(store) == indexes
    logged = [a.after for a in list_actions(store, project_id) if a.action == "samples.import"]
    bulk = next(after for after in logged if after and after["source"] == "bulk.csv")
    assert (bulk["imported"], bulk["first_id"], bulk["last_id"]) == (ROWS - 3, rows[3][0], rows[-1][0])

    again = import_file(store, project_id, write_rows(tmp_path / "bulk.csv", ROWS), MAPPING)
    assert (again.imported, again.skipped) == (0, ROWS)


def assert_each_flag_and_provenance_on_its_row(store: Store, project_id: int, rows: int) -> None:
    with store.session() as session:
        samples = {
            sample_id: (text, source, run)
            for sample_id, text, source, run in session.execute(
                select(SampleRow.id, SampleRow.text, SampleRow.source, SampleRow.generation_run_id).where(
                    SampleRow.project_id == project_id, SampleRow.text.startswith("row ")
                )
            )
        }
        flags = session.execute(select(FlagRow.sample_id, FlagRow.kind, FlagRow.reason, FlagRow.details)).all()
    assert len(samples) == rows and len(flags) == rows // 2
    for sample_id, kind, reason, details in flags:
        row = int(samples[sample_id][0].split(" ", 2)[1].rstrip(":"))
        assert (kind, reason, details) == ("too_short", f"row {row}", {"row": row})
    for text, source, run in samples.values():
        row = int(text.split(" ", 2)[1].rstrip(":"))
        assert (source, run) == (f"batch {row % 4}", row % 3 or None)
    logged = next(a.after for a in list_actions(store, project_id) if a.action == "samples.import")
    assert logged is not None
    assert (logged["first_id"], logged["last_id"]) == (min(samples), max(samples))


@pytest.mark.slow
def test_a_bulk_studio_file_attaches_each_flag_and_provenance_to_its_row(store: Store, tmp_path: Path) -> None:
    project_id = make_project(store)
    path = write_rows(tmp_path / "studio.csv", ROWS, studio=True)
    assert import_file(store, project_id, path, MAPPING).imported == ROWS
    assert_each_flag_and_provenance_on_its_row(store, project_id, ROWS)


def test_each_flag_finds_its_row_however_the_database_hands_out_ids(store: Store, tmp_path: Path) -> None:
    """PostgreSQL's sequence stepping by 3 (as when other sessions take ids during the COPY); SQLite's largest
    possible id taken (it then picks new ids at random)."""
    project_id = make_project(store)
    with store.session() as session:
        if store.dialect == "postgresql":
            session.execute(sql("ALTER SEQUENCE samples_id_seq INCREMENT BY 3"))
        else:
            stamp = "2020-01-01 00:00:00.000000"
            session.execute(
                sql(
                    "INSERT INTO samples (id, project_id, text, language, origin, split, status, content_key, source, "
                    "version, created_at, created_by, updated_at, updated_by) VALUES (9223372036854775807, :project, "
                    "'the last id', 'en', 'human', 'train', 'unlabeled', 'k', '', 1, :at, 't', :at, 't')"
                ),
                {"project": project_id, "at": stamp},
            )
    assert import_file(store, project_id, write_rows(tmp_path / "studio.csv", 40, studio=True), MAPPING).imported == 40
    assert_each_flag_and_provenance_on_its_row(store, project_id, 40)


def _refuse_text_on_insert(store: Store, poison: str) -> None:
    with store.session() as session:
        if store.dialect == "sqlite":
            session.execute(
                sql(
                    "CREATE TRIGGER refuse_poison BEFORE INSERT ON samples "
                    f"WHEN NEW.text = '{poison}' BEGIN SELECT RAISE(ABORT, 'simulated write failure'); END"
                )
            )
            return
        session.execute(
            sql(
                "CREATE FUNCTION refuse_poison() RETURNS trigger AS $$ BEGIN "
                f"IF NEW.text = '{poison}' THEN RAISE EXCEPTION 'simulated write failure'; END IF; "
                "RETURN NEW; END $$ LANGUAGE plpgsql"
            )
        )
        session.execute(
            sql("CREATE TRIGGER refuse_poison BEFORE INSERT ON samples FOR EACH ROW EXECUTE FUNCTION refuse_poison()")
        )


@pytest.mark.slow
def test_a_bulk_import_that_fails_at_its_last_row_leaves_everything_as_it_was(store: Store, tmp_path: Path) -> None:
    """The database refuses the last of 12,001 rows: the rows, labels, languages, log and indexes are as before."""
    project_id = make_project(store)
    import_file(store, project_id, write_rows(tmp_path / "small.csv", 5), MAPPING)
    _refuse_text_on_insert(store, "POISON")
    before = (stored_rows(store, project_id), get_project(store, project_id), index_definitions(store))
    actions = [a.id for a in list_actions(store, project_id)]
    mapping = ColumnMapping("text", "label", language_column="language", add_labels=True, add_languages=True)
    path = write_rows(tmp_path / "bulk.csv", ROWS, poison_last=True)

    with pytest.raises(DBAPIError, match="simulated write failure"):
        import_file(store, project_id, path, mapping)

    assert (stored_rows(store, project_id), get_project(store, project_id), index_definitions(store)) == before
    assert [a.id for a in list_actions(store, project_id)] == actions
    # and the store goes on working: the same file without its last row is imported whole
    assert import_file(store, project_id, write_rows(tmp_path / "ok.csv", ROWS), MAPPING).imported == ROWS - 5


def test_rows_another_import_stored_after_the_plan_are_skipped_and_counted(store: Store, tmp_path: Path) -> None:
    """A plan made, then another import stores every third of its rows: those are skipped, the rest stored."""
    project_id = make_project(store)
    path = write_rows(tmp_path / "all.csv", 300)
    plan = plan_import(store, project_id, read_table(path), MAPPING, "all.csv")
    with path.open(encoding="utf-8", newline="") as handle:
        every_third = [row for i, row in enumerate(csv.DictReader(handle)) if i % 3 == 0]
    meanwhile = tmp_path / "meanwhile.csv"
    with meanwhile.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(every_third[0]))
        writer.writeheader()
        writer.writerows(every_third)
    assert import_file(store, project_id, meanwhile, MAPPING).imported == 100

    result = execute_import(store, project_id, plan)

    assert (result.imported, result.skipped) == (200, 100)
    assert result.skipped_reasons == {LATE_SKIP_REASON: 100}
    rows = stored_rows(store, project_id)
    assert len({row[-1] for row in rows}) == len(rows) == 300
    late = [row[1].split(" ", 2)[1].rstrip(":") for row in rows[100:]]
    assert late == [str(i) for i in range(300) if i % 3]  # in file order, after the other import's rows

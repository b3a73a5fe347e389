"""Storing an import: new labels and languages, the samples with their flags and the action-log row, in ONE
transaction, one import of a project at a time. Reading and checking the file is `core.io.importer`'s.

The samples go to the database in bulk, column by column, without an object per row: on SQLite one `executemany`
that binds only the cells that differ from row to row (the values every row shares are written into the statement
once), on PostgreSQL one `COPY`. The content keys already stored are read the same way (a plain cursor; `COPY ... TO`
on PostgreSQL)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from itertools import repeat
from typing import Any, cast

from sqlalchemy import Connection, Table, insert, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import selectinload

from core.errors import NotFound
from core.language_names import language_name
from core.store import action_log
from core.store.database import Store
from core.store.locks import hold_write_lock
from core.store.sample_tallies import sqlite_tallied_after
from core.store.schema import FlagRow, LabelRow, LanguageRow, ProjectRow, SampleRow, utcnow

SAMPLE_COLUMNS = (
    "text",
    "label",
    "language",
    "split",
    "origin",
    "status",
    "content_key",
    "source",
    "generation_run_id",
    "prompt_version",
    "model",
)
LATE_SKIP_REASON = "stored meanwhile by another import"
# SQLite's page cache while an import writes (KiB per row, and at most): the samples' indexes stay in memory instead
# of being written out and read back while a large import inserts into them
_SQLITE_CACHE_KIB_PER_ROW = 0.25
_SQLITE_CACHE_MAX_KIB = 256 * 1024
# SQLite: an import of at least this many rows, into a table that holds no more, builds the indexes after; any import
# of at least this many rows tallies them with one GROUP BY (core/store/sample_tallies.py) instead of a trigger per row
_REBUILD_MIN_ROWS = 10_000
_COPY_BLOCK_ROWS = 50_000  # PostgreSQL: rows written to COPY at a time
_SAMPLES = cast(Table, SampleRow.__table__)


@dataclass(frozen=True)
class SampleBatch:
    """Checked rows to store, column by column (no object per row).

    `columns` holds a list per field that differs from row to row (each `size` long), `constants` the fields that
    hold one value for every row; between them, every field of SAMPLE_COLUMNS, each once. `flags`, when some row
    has flags: per row, a list of {kind, reason, details}."""

    size: int
    columns: dict[str, list[Any]]
    constants: dict[str, Any]
    flags: list[list[dict[str, Any]]] | None = None

    def __post_init__(self) -> None:
        names = [*self.columns, *self.constants]
        if sorted(names) != sorted(SAMPLE_COLUMNS):
            raise ValueError(f"a sample batch needs each of {', '.join(SAMPLE_COLUMNS)} once, not {names}")
        lengths = {len(values) for values in [*self.columns.values(), *([self.flags] if self.flags else [])]}
        if lengths - {self.size}:
            raise ValueError(f"every column of a batch of {self.size} rows must hold {self.size} values")

    @classmethod
    def empty(cls) -> SampleBatch:
        return cls(0, {}, dict.fromkeys(SAMPLE_COLUMNS))

    def column(self, name: str) -> list[Any]:
        return self.columns[name] if name in self.columns else [self.constants[name]] * self.size

    def row(self, index: int) -> dict[str, Any]:
        """One row as a dict of SAMPLE_COLUMNS and `flags`."""
        if not -self.size <= index < self.size:
            raise IndexError(index)
        values = {n: self.columns[n][index] if n in self.columns else self.constants[n] for n in SAMPLE_COLUMNS}
        values["flags"] = self.flags[index] if self.flags else []
        return values

    def subset(self, keep: Sequence[int]) -> SampleBatch:
        """The rows at these positions, in this order."""
        return SampleBatch(
            len(keep),
            {name: [values[i] for i in keep] for name, values in self.columns.items()},
            dict(self.constants),
            [self.flags[i] for i in keep] if self.flags else None,
        )


def stored_content_keys(store: Store, project_id: int) -> set[str]:
    """The content keys of the project's samples (what an import skips as already there)."""
    with store.session() as session:
        return _stored_keys(session.connection(), project_id)


@dataclass(frozen=True)
class StoredImport:
    imported: int
    late_skips: int  # rows another import stored after the plan was made: skipped
    labels_added: list[str]
    languages_added: list[str]
    skipped_reasons: dict[str, int]  # as given, with the late skips added


def store_import(
    store: Store,
    project_id: int,
    batch: SampleBatch,
    *,
    labels_to_add: list[str],
    languages_to_add: list[str],
    source: str,
    skipped_reasons: dict[str, int],
) -> StoredImport:
    """Store checked rows in one transaction: everything or nothing.

    Labels and languages the project does not have yet are added first. Rows whose content key is in the project
    by now (another import stored them after the plan was made) are skipped and counted."""
    now = utcnow()
    who = store.user
    with store.session() as session:
        # one import of this project at a time, across processes: what another import stored before this lock
        # was granted is seen below and skipped
        hold_write_lock(session, "import", project_id)
        row = session.scalar(
            select(ProjectRow)
            .where(ProjectRow.id == project_id)
            .options(selectinload(ProjectRow.labels), selectinload(ProjectRow.languages))
        )
        if row is None:
            raise NotFound(f"There is no project #{project_id}.")
        labels_added = [n for n in labels_to_add if n not in {label.name for label in row.labels}]
        languages_added = [c for c in languages_to_add if c not in {lang.code for lang in row.languages}]
        for name in labels_added:
            row.labels.append(LabelRow(position=len(row.labels), name=name, description="", names={}))
        for code in languages_added:
            row.languages.append(LanguageRow(position=len(row.languages), code=code, name=language_name(code)))
        if labels_added or languages_added:
            row.updated_at, row.updated_by = now, who
        session.flush()
        connection = session.connection()
        # a concurrent import may have stored some rows since the plan was made
        planned = batch.size
        existing = _stored_keys(connection, project_id) if planned else set()
        if existing:
            keep = [i for i, key in enumerate(batch.column("content_key")) if key not in existing]
            if len(keep) < planned:
                batch = batch.subset(keep)
        del existing
        late_skips = planned - batch.size
        first_id = last_id = None
        if batch.size:
            ids = _write_samples(connection, project_id, batch, now, who)
            first_id, last_id = (ids[0], ids[-1]) if isinstance(ids, range) else (min(ids), max(ids))
            if batch.flags:
                flag_rows = [
                    {
                        "sample_id": sample_id,
                        "project_id": project_id,
                        "kind": str(f["kind"]),
                        "reason": str(f.get("reason", "")),
                        "details": f.get("details") or {},
                        "created_at": now,
                    }
                    for sample_id, flags in zip(ids, batch.flags, strict=True)
                    for f in flags
                ]
                if flag_rows:
                    session.execute(insert(FlagRow), flag_rows)
        reasons = dict(skipped_reasons)
        if late_skips:
            reasons[LATE_SKIP_REASON] = late_skips
        action_log.record(
            session,
            who=who,
            action="samples.import",
            project_id=project_id,
            target=f"project:{project_id}",
            after={
                "source": source,
                "imported": batch.size,
                "first_id": first_id,
                "last_id": last_id,
                "skipped": reasons,
                "labels_added": labels_added,
                "languages_added": languages_added,
            },
        )
    return StoredImport(
        imported=batch.size,
        late_skips=late_skips,
        labels_added=labels_added,
        languages_added=languages_added,
        skipped_reasons=reasons,
    )


@contextmanager
def _driver(connection: Connection, statement: str) -> Iterator[Any]:
    """The driver's own connection, in the session's transaction; its errors raised as SQLAlchemy raises them for
    its own statements (DBAPIError and its kinds, the driver's error as `orig`; no parameters shown)."""
    dialect = connection.dialect
    raw: Any = connection.connection.driver_connection
    try:
        yield raw
    except dialect.loaded_dbapi.Error as exc:
        invalidated = dialect.is_disconnect(exc, raw, None)
        if invalidated:
            connection.invalidate(exc)
        raise DBAPIError.instance(
            statement,
            None,
            exc,
            dialect.loaded_dbapi.Error,
            hide_parameters=True,
            connection_invalidated=invalidated,
            dialect=dialect,
        ) from exc


def _stored_keys(connection: Connection, project_id: int) -> set[str]:
    """The project's content keys, read with the driver's own cursor (a million keys: no object per row)."""
    if connection.dialect.name == "postgresql":
        query = "COPY (SELECT content_key FROM samples WHERE project_id = %s) TO STDOUT"
        with _driver(connection, query) as raw, raw.cursor() as cursor, cursor.copy(query, (project_id,)) as copy:
            data = b"".join(bytes(block) for block in copy)
        # one key a line; keys are hex digits, which COPY's text format writes as they are
        keys = set(data.decode("utf-8").split("\n"))
        keys.discard("")
        return keys
    query = "SELECT content_key FROM samples WHERE project_id = ?"
    with _driver(connection, query) as raw:
        return {key for (key,) in raw.execute(query, (project_id,))}


def _write_samples(
    connection: Connection, project_id: int, batch: SampleBatch, now: datetime, who: str
) -> Sequence[int]:
    """Insert the batch; returns the new ids in row order."""
    shared = {
        **batch.constants,
        "project_id": project_id,
        "version": 1,
        "created_at": now,
        "created_by": who,
        "updated_at": now,
        "updated_by": who,
    }
    if connection.dialect.name == "postgresql":
        return _copy_samples(connection, batch, shared)
    return _insert_samples(connection, batch, shared, now)


def _copy_samples(connection: Connection, batch: SampleBatch, shared: dict[str, Any]) -> Sequence[int]:
    """PostgreSQL: one COPY, its text format written here a block at a time (what psycopg's write_row writes, at
    a third of the cost); each row takes its id from the samples' sequence, in row order, as an INSERT would."""
    names = [*batch.columns, *shared]
    statement = f"COPY samples ({', '.join(names)}) FROM STDIN"
    sequence = "pg_get_serial_sequence('samples', 'id')"
    with _driver(connection, statement) as raw, raw.cursor() as cursor:
        # the last id handed out so far, by any session (None: none yet); taking none here leaves no gap
        (before,) = cursor.execute(f"SELECT pg_sequence_last_value({sequence}::regclass)").fetchone()
        before = before or 0
        encoding = raw.info.encoding
        tail = "\t".join(_copy_text(value) for value in shared.values())
        columns = list(batch.columns.values())
        with cursor.copy(statement) as copy:
            for start in range(0, batch.size, _COPY_BLOCK_ROWS):
                end = min(start + _COPY_BLOCK_ROWS, batch.size)
                cells = [*(_copy_texts(column[start:end]) for column in columns), repeat(tail, end - start)]
                copy.write(("\n".join(map("\t".join, zip(*cells, strict=True))) + "\n").encode(encoding))
        (last,) = cursor.execute(f"SELECT currval({sequence})").fetchone()  # this session's last id
        if last - before == batch.size:  # n distinct ids above `before`, the last `before + n`: all of them
            return range(before + 1, last + 1)
        # others did: ours are the ones between, with this import's stamp
        cursor.execute(
            "SELECT id FROM samples WHERE id > %s AND id <= %s AND project_id = %s AND created_at = %s ORDER BY id",
            (before, last, shared["project_id"], shared["created_at"]),
        )
        return [sample_id for (sample_id,) in cursor]


def _copy_texts(values: list[Any]) -> list[str]:
    """A column as COPY's text format writes it."""
    return list(map(_escape, values)) if set(map(type, values)) <= {str} else list(map(_copy_text, values))


def _copy_text(value: Any) -> str:
    """A value as COPY's text format writes it: NULL as \\N, timestamps in ISO form, text escaped."""
    if value is None:
        return "\\N"
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, bool):
        return "t" if value else "f"
    return _escape(value if isinstance(value, str) else str(value))


def _escape(text: str) -> str:
    """COPY's text format: a backslash, line break, carriage return or tab in a value is written escaped."""
    return text.replace("\\", "\\\\").replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t")


def _insert_samples(
    connection: Connection, batch: SampleBatch, shared: dict[str, Any], stamp: datetime
) -> Sequence[int]:
    """SQLite: one executemany that binds the cells that differ from row to row; the values every row shares are
    literals of the statement (rendered by SQLAlchemy for the column's type, quotes doubled)."""
    dialect = connection.dialect
    names = list(batch.columns)
    columns: list[list[Any]] = list(batch.columns.values())
    literals: dict[str, str] = {}
    for name, value in shared.items():
        literal = _literal(name, value, connection)
        if literal is None:  # bound on every row instead
            names.append(name)
            columns.append([value] * batch.size)
        else:
            literals[name] = literal
    for position, name in enumerate(names):
        process = _SAMPLES.c[name].type._cached_bind_processor(dialect)
        if process is not None:
            columns[position] = [None if v is None else process(v) for v in columns[position]]
    statement = (
        f"INSERT INTO samples ({', '.join([*names, *literals])}) "
        f"VALUES ({', '.join(['?'] * len(names) + list(literals.values()))})"
    )
    with _driver(connection, statement) as raw:
        (before,) = raw.execute("SELECT max(id) FROM samples").fetchone()
        with (
            _sqlite_cache_for(raw, batch.size),
            sqlite_tallied_after(raw, batch.size, _REBUILD_MIN_ROWS),
            _sqlite_indexes_built_after(raw, batch.size),
        ):
            raw.executemany(statement, zip(*columns, strict=True))
        (after,) = raw.execute("SELECT max(id) FROM samples").fetchone()
    before = before or 0
    if after - before == batch.size:  # one writer (the write lock): each row took the next id, in row order
        return range(before + 1, after + 1)
    # SQLite chose ids another way (its largest id was taken): the rows of one import share their stamp
    by_key: dict[str, list[int]] = defaultdict(list)
    found = select(SampleRow.id, SampleRow.content_key).where(SampleRow.created_at == stamp).order_by(SampleRow.id)
    for sample_id, key in connection.execute(found.where(SampleRow.project_id == shared["project_id"])):
        by_key[key].append(sample_id)
    return [by_key[key].pop(0) for key in batch.column("content_key")]


def _literal(name: str, value: Any, connection: Connection) -> str | None:
    """`value` as an SQL literal of the column's type, or None when it is better bound as a parameter."""
    if value is None:
        return "NULL"
    if isinstance(value, str) and "\x00" in value:  # not allowed in a statement's text
        return None
    if not isinstance(value, (str, int, datetime)) or isinstance(value, bool):
        return None
    dialect = connection.dialect
    process = _SAMPLES.c[name].type.dialect_impl(dialect).literal_processor(dialect)
    return None if process is None else str(process(value))


@contextmanager
def _sqlite_indexes_built_after(raw: Any, rows: int) -> Iterator[None]:
    """An insert of at least as many rows as the samples table holds (and at least _REBUILD_MIN_ROWS) drops the
    table's indexes first and builds them again after, in the same transaction: one sort per index instead of an
    insertion into each index per row (a million rows into an empty table, measured: about 11 CPU-s in all
    instead of 17). Their definitions are replayed as SQLite stored them. If anything fails, the rollback brings
    the indexes back with the rows; readers meanwhile see the table as it was (WAL), and SQLite has one writer at
    a time anyway.

    Smaller inserts, or into a larger table, keep the indexes and insert into them."""
    (stored,) = raw.execute("SELECT count(*) FROM samples").fetchone()
    if rows < max(stored, _REBUILD_MIN_ROWS):
        yield
        return
    indexes = raw.execute(
        "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'samples' AND sql IS NOT NULL"
    ).fetchall()
    for name, _ in indexes:
        raw.execute('DROP INDEX "{}"'.format(name.replace('"', '""')))
    yield
    for _, definition in indexes:
        raw.execute(definition)


@contextmanager
def _sqlite_cache_for(raw: Any, rows: int) -> Iterator[None]:
    """A page cache large enough for `rows` new rows while they are written, back to what it was after."""
    (current,) = raw.execute("PRAGMA cache_size").fetchone()
    (page_size,) = raw.execute("PRAGMA page_size").fetchone()
    current_kib = -current if current < 0 else current * page_size // 1024
    wanted = min(_SQLITE_CACHE_MAX_KIB, int(rows * _SQLITE_CACHE_KIB_PER_ROW))
    if wanted <= current_kib:
        yield
        return
    raw.execute(f"PRAGMA cache_size = -{wanted}")
    try:
        yield
    finally:
        raw.execute(f"PRAGMA cache_size = {int(current)}")

"""Fast bulk INSERT: the statement compiled once, values converted once per distinct object, one executemany.

SQLAlchemy's executemany path spends most of its time building parameters row by row; for 100,000 imported
samples this module is about twice as fast on SQLite and PostgreSQL alike, with the same type conversions.
"""

from __future__ import annotations

from operator import itemgetter
from typing import Any

from sqlalchemy import Table
from sqlalchemy.orm import Session


def bulk_insert(session: Session, table: Table, rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    connection = session.connection()
    dialect = connection.dialect
    compiled = table.insert().compile(dialect=dialect, column_keys=list(rows[0]))
    binds = list(compiled.positiontup or ()) if compiled.positional else list(compiled.binds)
    names = [compiled.binds[bind].key for bind in binds]
    converters = [
        (position, name, process)
        for position, name in enumerate(names)
        if (process := table.c[name].type._cached_bind_processor(dialect)) is not None
    ]
    converted: dict[tuple[str, int], Any] = {}  # shared objects (one timestamp for every row) converted once

    def convert(name: str, process: Any, raw: Any) -> Any:
        if raw is None:
            return None
        key = (name, id(raw))
        if key not in converted:
            converted[key] = process(raw)
        return converted[key]

    getter = itemgetter(*names) if len(names) > 1 else lambda row: (row[names[0]],)
    postgres = dialect.name == "postgresql"
    params: list[Any] = []
    for row in rows:
        values = getter(row)
        if converters:
            values = list(values)
            for position, name, process in converters:
                values[position] = convert(name, process, values[position])
        params.append(tuple(values) if compiled.positional or postgres else dict(zip(binds, values, strict=True)))
    if postgres:  # many rows a statement: each statement fires the tables' statement triggers once (sample tallies)
        _insert_many_values(connection, table, names, params)
        return
    connection.exec_driver_sql(str(compiled), params)


_MAX_PARAMETERS = 60_000  # PostgreSQL's protocol allows 65,535 per statement
_MAX_ROWS = 5_000


def _insert_many_values(connection: Any, table: Table, names: list[str], params: list[tuple[Any, ...]]) -> None:
    """PostgreSQL: INSERT ... VALUES (...), (...), ... of up to _MAX_ROWS rows a statement."""
    per_statement = max(1, min(_MAX_ROWS, _MAX_PARAMETERS // max(1, len(names))))
    row = "(" + ", ".join(["%s"] * len(names)) + ")"
    head = f"INSERT INTO {connection.dialect.identifier_preparer.format_table(table)} "
    head += "(" + ", ".join(connection.dialect.identifier_preparer.quote(name) for name in names) + ") VALUES "
    for start in range(0, len(params), per_statement):
        chunk = params[start : start + per_statement]
        flat = tuple(value for values in chunk for value in values)
        connection.exec_driver_sql(head + ", ".join([row] * len(chunk)), flat)

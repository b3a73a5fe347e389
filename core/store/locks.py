"""Write locks held until the end of the current transaction, across processes and machines.

`hold_write_lock(session, "import", project_id)` makes every other transaction that asks for the same lock wait
until this one commits or rolls back, so "read what is there, then write what is missing" cannot interleave:

- PostgreSQL: a transaction-scoped advisory lock (`pg_advisory_xact_lock`) on the pair (scope, key); other
  scopes and keys are not blocked.
- SQLite: the transaction becomes `BEGIN IMMEDIATE`, which takes the database's single write lock at once
  (SQLite has one writer at a time anyway, so this serialises more than the key, never less). The wait is bounded
  by the connection's busy timeout (see `core.store.database`).

Call it before the reads that decide what to write: reads made earlier in the same session may be stale.
"""

from __future__ import annotations

import zlib

from sqlalchemy import text
from sqlalchemy.orm import Session

from core.errors import StudioError

_INT4 = 2**31


def _int4(value: int) -> int:
    """A signed 32-bit number (what the two-argument advisory lock takes) that is the same in every process."""
    return (value + _INT4) % (2 * _INT4) - _INT4


def scope_number(scope: str) -> int:
    return _int4(zlib.crc32(scope.encode("utf-8")))


def hold_write_lock(session: Session, scope: str, key: int) -> None:
    """Take the lock (scope, key) for the rest of `session`'s transaction, waiting while another holds it."""
    connection = session.connection()
    dialect = connection.dialect.name
    if dialect == "postgresql":
        connection.execute(
            text("SELECT pg_advisory_xact_lock(:scope, :key)"), {"scope": scope_number(scope), "key": _int4(key)}
        )
    elif dialect == "sqlite":
        raw = connection.connection.dbapi_connection
        # pysqlite opens a transaction only before the first INSERT/UPDATE/DELETE (which takes the write lock
        # then); when none is open yet, open it here, holding the write lock from now on
        if raw is not None and not raw.in_transaction:
            connection.exec_driver_sql("BEGIN IMMEDIATE")
    else:  # a store we do not know how to lock: refuse rather than silently allow duplicates
        raise StudioError(f"The studio cannot lock a {dialect} database: use SQLite or PostgreSQL.")

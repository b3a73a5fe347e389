"""samples: tallies per block of ids that count every queue, kept by the database's own triggers

Revision ID: 0015
Revises: 0014

- `samples.flagged`: whether the sample has a flag at all, kept by triggers on the flags (so "flagged" and "no flag"
  are a column of the sample, read from the status queue's index, which now ends with it);
- `sample_tallies`: how many samples of a project there are per block of 2**15 ids (id >> 15) and status, language,
  label ('' for none), split, origin and flagged; kept by triggers on the samples, in the transaction of every write
  (per row on SQLite; on PostgreSQL once per statement, from its transition tables, so a COPY of a million rows adds
  one grouped insert). "Sample k of N" is then a sum of tallies plus a count inside one block
  (core/store/sample_tallies.py);
- the language queue index goes: counts by language come from the tallies, and walks use the status queue's index
  or the ids; so does the (project_id, content_key) index: no query looks a key up, an import reads the project's
  keys all at once, which a scan of its samples does too (issue 20: every index costs the import).

On PostgreSQL a tally has no unique key: a statement adds its change as rows and merges them with the rows of the
same key that no other transaction holds (FOR UPDATE SKIP LOCKED), so that two writers never wait for each other on
a tally and the sum of a key's rows is exact in every snapshot. On SQLite (one writer at a time) a key has one row.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

BITS = 15  # core.store.sample_tallies.BLOCK_BITS
KEY = ("project_id", "block", "status", "language", "label", "split", "origin", "flagged")


def _key_values(row: str) -> list[str]:
    """The tally key of a sample row (`row`: NEW, OLD or a table alias)."""
    return [
        f"{row}.project_id",
        f"{row}.id >> {BITS}",
        f"{row}.status",
        f"{row}.language",
        f"coalesce({row}.label, '')",
        f"{row}.split",
        f"{row}.origin",
        f"{row}.flagged",
    ]


def _key_of(row: str) -> str:
    return ", ".join(_key_values(row))


def _matches(row: str) -> str:
    return " AND ".join(f"{name} = {value}" for name, value in zip(KEY, _key_values(row), strict=True))


# --- SQLite: row triggers; a key has one row (UPDATE it, or INSERT it when there was none) -------------------------

_SQLITE_ADD = (
    "UPDATE sample_tallies SET n = n + 1 WHERE {new};\n"
    "  INSERT INTO sample_tallies (" + ", ".join(KEY) + ", n) SELECT {key}, 1 WHERE changes() = 0;"
)
_SQLITE_TRIGGERS = [
    "CREATE TRIGGER samples_tally_insert AFTER INSERT ON samples BEGIN\n  "
    + _SQLITE_ADD.format(new=_matches("NEW"), key=_key_of("NEW"))
    + "\nEND",
    "CREATE TRIGGER samples_tally_delete AFTER DELETE ON samples BEGIN\n"
    f"  UPDATE sample_tallies SET n = n - 1 WHERE {_matches('OLD')};\nEND",
    "CREATE TRIGGER samples_tally_update AFTER UPDATE OF id, project_id, status, language, label, split, origin, "
    "flagged ON samples\n  WHEN "
    + " OR ".join(
        f"OLD.{c} IS NOT NEW.{c}" for c in ("id", "project_id", "status", "language", "label", "split", "origin")
    )
    + " OR OLD.flagged IS NOT NEW.flagged BEGIN\n"
    f"  UPDATE sample_tallies SET n = n - 1 WHERE {_matches('OLD')};\n  "
    + _SQLITE_ADD.format(new=_matches("NEW"), key=_key_of("NEW"))
    + "\nEND",
    "CREATE TRIGGER sample_flags_added AFTER INSERT ON sample_flags BEGIN\n"
    "  UPDATE samples SET flagged = 1 WHERE id = NEW.sample_id AND flagged = 0;\nEND",
    "CREATE TRIGGER sample_flags_removed AFTER DELETE ON sample_flags BEGIN\n"
    "  UPDATE samples SET flagged = 0 WHERE id = OLD.sample_id AND flagged = 1\n"
    "    AND NOT EXISTS (SELECT 1 FROM sample_flags WHERE sample_id = OLD.sample_id);\nEND",
    "CREATE TRIGGER sample_flags_moved AFTER UPDATE OF sample_id ON sample_flags\n"
    "  WHEN OLD.sample_id IS NOT NEW.sample_id BEGIN\n"
    "  UPDATE samples SET flagged = 1 WHERE id = NEW.sample_id AND flagged = 0;\n"
    "  UPDATE samples SET flagged = 0 WHERE id = OLD.sample_id AND flagged = 1\n"
    "    AND NOT EXISTS (SELECT 1 FROM sample_flags WHERE sample_id = OLD.sample_id);\nEND",
]
SQLITE_TRIGGERS = (
    "samples_tally_insert",
    "samples_tally_delete",
    "samples_tally_update",
    "sample_flags_added",
    "sample_flags_removed",
    "sample_flags_moved",
)

# --- PostgreSQL: statement triggers over the transition tables; a statement's change merged without waiting -------

_KEY_LIST = ", ".join(KEY)


def _pg_merge(changes: str) -> str:
    """Add `changes` (a query of KEY and n, grouped) to the tallies: the change, plus every row of its keys that no
    other transaction holds, summed into one row per key (keys that sum to 0 leave no row)."""
    return f"""
    WITH delta AS (
        SELECT {_KEY_LIST}, sum(n) AS n FROM ({changes}) AS changes ({_KEY_LIST}, n)
        GROUP BY {_KEY_LIST} HAVING sum(n) <> 0
    ), merged AS (
        DELETE FROM sample_tallies AS t WHERE t.id IN (
            SELECT held.id FROM sample_tallies AS held JOIN delta USING ({_KEY_LIST})
            FOR UPDATE OF held SKIP LOCKED
        )
        RETURNING {", ".join(f"t.{c}" for c in KEY)}, t.n
    )
    INSERT INTO sample_tallies ({_KEY_LIST}, n)
    SELECT {_KEY_LIST}, sum(n)::integer FROM (
        SELECT {_KEY_LIST}, n FROM delta UNION ALL SELECT {_KEY_LIST}, n FROM merged
    ) AS together
    GROUP BY {_KEY_LIST} HAVING sum(n) <> 0;"""


def _pg_counted(table: str, sign: str) -> str:
    return (
        f"SELECT {_key_of(table)}, {sign}count(*) AS n FROM {table} "
        f"GROUP BY {', '.join(str(i) for i in range(1, len(KEY) + 1))}"
    )


def _pg_function(name: str, body: str) -> str:
    return (
        f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $body$\n"
        f"BEGIN\n{body}\n    RETURN NULL;\nEND\n$body$"
    )


_PG_FUNCTIONS = {
    "sample_tallies_inserted": "    IF NOT EXISTS (SELECT 1 FROM new_rows) THEN RETURN NULL; END IF;"
    + _pg_merge(_pg_counted("new_rows", "")),
    "sample_tallies_deleted": "    IF NOT EXISTS (SELECT 1 FROM old_rows) THEN RETURN NULL; END IF;"
    + _pg_merge(_pg_counted("old_rows", "-")),
    "sample_tallies_updated": "    IF NOT EXISTS (SELECT 1 FROM new_rows) THEN RETURN NULL; END IF;"
    + _pg_merge(f"{_pg_counted('new_rows', '')} UNION ALL {_pg_counted('old_rows', '-')}"),
    # a new flag: the FOREIGN KEY's check holds its sample (FOR KEY SHARE) until the end, which a removal's FOR
    # UPDATE below waits for; so a removal never misses a flag added meanwhile, nor an addition a removal's result
    "sample_flags_added": """    UPDATE samples SET flagged = true
    WHERE id IN (SELECT sample_id FROM new_flags) AND NOT flagged;""",
    "sample_flags_removed": """    IF NOT EXISTS (SELECT 1 FROM old_flags) THEN RETURN NULL; END IF;
    PERFORM 1 FROM samples WHERE id IN (SELECT sample_id FROM old_flags) AND flagged ORDER BY id FOR UPDATE;
    UPDATE samples AS s SET flagged = false
    WHERE s.id IN (SELECT sample_id FROM old_flags) AND s.flagged
        AND NOT EXISTS (SELECT 1 FROM sample_flags AS f WHERE f.sample_id = s.id);""",
    "sample_flags_moved": """    PERFORM 1 FROM samples WHERE id IN (OLD.sample_id, NEW.sample_id)
        ORDER BY id FOR UPDATE;
    UPDATE samples SET flagged = true WHERE id = NEW.sample_id AND NOT flagged;
    UPDATE samples SET flagged = false WHERE id = OLD.sample_id AND flagged
        AND NOT EXISTS (SELECT 1 FROM sample_flags WHERE sample_id = OLD.sample_id);""",
}
_PG_TRIGGERS = [
    "CREATE TRIGGER samples_tally_insert AFTER INSERT ON samples REFERENCING NEW TABLE AS new_rows "
    "FOR EACH STATEMENT EXECUTE FUNCTION sample_tallies_inserted()",
    "CREATE TRIGGER samples_tally_delete AFTER DELETE ON samples REFERENCING OLD TABLE AS old_rows "
    "FOR EACH STATEMENT EXECUTE FUNCTION sample_tallies_deleted()",
    "CREATE TRIGGER samples_tally_update AFTER UPDATE ON samples REFERENCING OLD TABLE AS old_rows "
    "NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION sample_tallies_updated()",
    "CREATE TRIGGER sample_flags_added AFTER INSERT ON sample_flags REFERENCING NEW TABLE AS new_flags "
    "FOR EACH STATEMENT EXECUTE FUNCTION sample_flags_added()",
    "CREATE TRIGGER sample_flags_removed AFTER DELETE ON sample_flags REFERENCING OLD TABLE AS old_flags "
    "FOR EACH STATEMENT EXECUTE FUNCTION sample_flags_removed()",
    "CREATE TRIGGER sample_flags_moved AFTER UPDATE OF sample_id ON sample_flags FOR EACH ROW "
    "WHEN (OLD.sample_id IS DISTINCT FROM NEW.sample_id) EXECUTE FUNCTION sample_flags_moved()",
]


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    op.add_column("samples", sa.Column("flagged", sa.Boolean(), nullable=False, server_default=sa.false()))
    flagged = "true" if postgres else "1"
    op.execute(f"UPDATE samples SET flagged = {flagged} WHERE id IN (SELECT sample_id FROM sample_flags)")
    op.drop_index("ix_samples_status_queue", table_name="samples")
    op.create_index(
        "ix_samples_status_queue", "samples", ["project_id", "status", "id", "language", "label", "flagged"]
    )
    op.drop_index("ix_samples_language_queue", table_name="samples")
    op.drop_index("ix_samples_project_key", table_name="samples")
    op.create_table(
        "sample_tallies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("block", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("language", sa.String(length=20), nullable=False),
        sa.Column("label", sa.String(length=200), nullable=False),
        sa.Column("split", sa.String(length=20), nullable=False),
        sa.Column("origin", sa.String(length=20), nullable=False),
        sa.Column("flagged", sa.Boolean(), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_sample_tallies_key", "sample_tallies", list(KEY))
    op.execute(
        f"INSERT INTO sample_tallies ({_KEY_LIST}, n) SELECT {_key_of('samples')}, count(*) FROM samples "
        f"GROUP BY {', '.join(str(i) for i in range(1, len(KEY) + 1))}"
    )
    if postgres:
        for name, body in _PG_FUNCTIONS.items():
            op.execute(_pg_function(name, body))
        for trigger in _PG_TRIGGERS:
            op.execute(trigger)
    else:
        for trigger in _SQLITE_TRIGGERS:
            op.execute(trigger)


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    for name in SQLITE_TRIGGERS:
        table = "samples" if name.startswith("samples_") else "sample_flags"
        op.execute(f"DROP TRIGGER IF EXISTS {name}" + (f" ON {table}" if postgres else ""))
    if postgres:
        for name in _PG_FUNCTIONS:
            op.execute(f"DROP FUNCTION IF EXISTS {name}()")
    op.drop_index("ix_sample_tallies_key", table_name="sample_tallies")
    op.drop_table("sample_tallies")
    op.create_index("ix_samples_language_queue", "samples", ["project_id", "language", "label", "status", "id"])
    op.create_index("ix_samples_project_key", "samples", ["project_id", "content_key"])
    op.drop_index("ix_samples_status_queue", table_name="samples")
    op.create_index("ix_samples_status_queue", "samples", ["project_id", "status", "id", "language", "label"])
    with op.batch_alter_table("samples", schema=None) as batch_op:
        batch_op.drop_column("flagged")

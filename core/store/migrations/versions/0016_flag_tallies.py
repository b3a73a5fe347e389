"""flags: tallies per flag kind and block of ids, kept by the database's own triggers

Revision ID: 0016
Revises: 0015

`flag_tallies`: how many samples of a project carry a flag of a kind, per kind, status, block of 2**15 ids (id >> 15),
language, label ('' for none), split and origin: a flag counts once (a sample has at most one flag of a kind).
A queue filtered by one flag kind by name ("pending, flagged wrong language") is then counted like the others: a sum
of tallies plus a count inside one block (core/store/flag_tallies.py), where it used to join every flag of the kind
to its sample twice per *Next*.

Kept in the transaction of every write, by triggers
- on the flags: one added counts under its sample's key, one removed (while its sample is there) leaves it, one
  moved to another sample or kind moves;
- on the samples: a flagged sample whose status, language, label, split, origin or project changes moves its flags'
  counts; one deleted takes them away first (BEFORE DELETE: once it is gone its flags go with it, and the flags'
  trigger no longer knows its key).
On SQLite per row. On PostgreSQL per statement from the transition tables, in the functions of migration 0015 (one
call per statement, the flags' and the samples' own), merged like the sample tallies: no unique key, a statement's
change added as rows and merged with the rows of its keys that no other transaction holds (FOR UPDATE SKIP LOCKED);
a deleted sample's rows are added by a row trigger and merged by the statement's. A flag written locks its sample
(FOR NO KEY UPDATE, in id order) before reading its key, as a change of the sample does, so that a flag added or
removed while another transaction changes its sample is counted under the key the sample ends with.

`assignment_tallies`: how many assignments each annotator has per project and state, kept by triggers on the
assignments (an insert of a distribution by COPY adds one grouped merge): "My queue" reads its "k of N" from them
where it counted every assignment of the annotator (200,000 index entries at a million samples). On PostgreSQL an
insert or an update merges like the other tallies; a delete only adds its rows (it comes one sample at a time, from
the cascade of a sample's deletion: a merge each would cost a project's deletion minutes), merged by the next write
of the same key.

SQLite drops a table's triggers when a migration rebuilds it (batch_alter_table): one that rebuilds samples,
sample_flags or assignments makes these again (and 0015's).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

BITS = 15  # core.store.sample_tallies.BLOCK_BITS
KEY = ("project_id", "kind", "status", "block", "language", "label", "split", "origin")
SAMPLE_KEY = ("project_id", "status", "block", "language", "label", "split", "origin")  # KEY without the kind
_KEY_LIST = ", ".join(KEY)


def _values(sample: str, kind: str) -> list[str]:
    """The tally key of a flag of kind `kind` (an expression) on the sample row `sample` (NEW, OLD or an alias)."""
    return [
        f"{sample}.project_id",
        kind,
        f"{sample}.status",
        f"{sample}.id >> {BITS}",
        f"{sample}.language",
        f"coalesce({sample}.label, '')",
        f"{sample}.split",
        f"{sample}.origin",
    ]


def _of(sample: str, kind: str) -> str:
    return ", ".join(_values(sample, kind))


def _matches(tally: str, sample: str, kind: str) -> str:
    return " AND ".join(f"{tally}.{name} = {value}" for name, value in zip(KEY, _values(sample, kind), strict=True))


def _changed(old: str, new: str) -> str:
    """Whether a sample's change moves its flags' key."""
    columns = ("project_id", "status", "language", "label", "split", "origin")
    return " OR ".join(f"{old}.{c} IS NOT {new}.{c}" for c in columns)


# --- SQLite: row triggers; a key has one row (UPDATE it, or INSERT it when there was none) -------------------------


def _sqlite_flag(sign: str, flag: str) -> str:
    """Add (`sign` +) or take away (-) the flag row `flag` under its sample's key (nothing when its sample is gone)."""
    found = f"SELECT t.id FROM samples AS s JOIN flag_tallies AS t ON {_matches('t', 's', f'{flag}.kind')} "
    update = f"UPDATE flag_tallies SET n = n {sign} 1 WHERE id = ({found}WHERE s.id = {flag}.sample_id);"
    if sign == "-":
        return update
    return (
        f"{update}\n  INSERT INTO flag_tallies ({_KEY_LIST}, n) SELECT {_of('s', f'{flag}.kind')}, 1 FROM samples AS s "
        f"WHERE s.id = {flag}.sample_id AND changes() = 0;"
    )


def _sqlite_sample(sign: str, sample: str) -> str:
    """Add or take away every flag of the sample row `sample` under its key."""
    kinds = f"kind IN (SELECT kind FROM sample_flags WHERE sample_id = {sample}.id)"
    no_kind = " AND ".join(
        f"{name} = {value}" for name, value in zip(KEY, _values(sample, "kind"), strict=True) if name != "kind"
    )
    update = f"UPDATE flag_tallies SET n = n {sign} 1 WHERE {no_kind} AND {kinds};"
    if sign == "-":
        return update
    return (
        f"{update}\n  INSERT INTO flag_tallies ({_KEY_LIST}, n) SELECT {_of(sample, 'f.kind')}, 1 "
        f"FROM sample_flags AS f WHERE f.sample_id = {sample}.id AND NOT EXISTS "
        f"(SELECT 1 FROM flag_tallies AS t WHERE {_matches('t', sample, 'f.kind')});"
    )


_SQLITE_TRIGGERS = {
    "flag_tallies_flag_added": "AFTER INSERT ON sample_flags BEGIN\n  " + _sqlite_flag("+", "NEW") + "\nEND",
    "flag_tallies_flag_removed": "AFTER DELETE ON sample_flags BEGIN\n  " + _sqlite_flag("-", "OLD") + "\nEND",
    "flag_tallies_flag_moved": "AFTER UPDATE OF sample_id, kind ON sample_flags\n"
    "  WHEN OLD.sample_id IS NOT NEW.sample_id OR OLD.kind IS NOT NEW.kind BEGIN\n  "
    + _sqlite_flag("-", "OLD")
    + "\n  "
    + _sqlite_flag("+", "NEW")
    + "\nEND",
    "flag_tallies_sample_changed": "AFTER UPDATE OF project_id, status, language, label, split, origin ON samples\n"
    f"  WHEN (OLD.flagged OR NEW.flagged) AND ({_changed('OLD', 'NEW')}) BEGIN\n  "
    + _sqlite_sample("-", "OLD")
    + "\n  "
    + _sqlite_sample("+", "NEW")
    + "\nEND",
    "flag_tallies_sample_deleted": "BEFORE DELETE ON samples WHEN OLD.flagged BEGIN\n  "
    + _sqlite_sample("-", "OLD")
    + "\nEND",
}

# --- PostgreSQL: in the statement triggers of migration 0015, merged without waiting --------------------------------


def _pg_merge(changes: str) -> str:
    """Add `changes` (a query of KEY and n) to the flag tallies: the change, plus every row of its keys that no
    other transaction holds, summed into one row per key (keys that sum to 0 leave no row)."""
    return f"""
    WITH delta AS (
        SELECT {_KEY_LIST}, sum(n) AS n FROM ({changes}) AS changes ({_KEY_LIST}, n)
        GROUP BY {_KEY_LIST} HAVING sum(n) <> 0
    ), merged AS (
        DELETE FROM flag_tallies AS t WHERE t.id IN (
            SELECT held.id FROM flag_tallies AS held JOIN delta USING ({_KEY_LIST})
            FOR UPDATE OF held SKIP LOCKED
        )
        RETURNING {", ".join(f"t.{c}" for c in KEY)}, t.n
    )
    INSERT INTO flag_tallies ({_KEY_LIST}, n)
    SELECT {_KEY_LIST}, sum(n)::integer FROM (
        SELECT {_KEY_LIST}, n FROM delta UNION ALL SELECT {_KEY_LIST}, n FROM merged
    ) AS together
    GROUP BY {_KEY_LIST} HAVING sum(n) <> 0;"""


_GROUPED = "GROUP BY " + ", ".join(str(i) for i in range(1, len(KEY) + 1))


def _pg_flags(flags: str, sign: str) -> str:
    """The flags of a transition table, counted under their samples' keys (flags whose sample is gone: none)."""
    return (
        f"SELECT {_of('s', 'f.kind')}, {sign}count(*) FROM {flags} AS f JOIN samples AS s ON s.id = f.sample_id "
        f"{_GROUPED}"
    )


def _pg_moved(side: str, sign: str) -> str:
    """The flags of the samples an UPDATE moved to another key, under their keys before (`side` o) or after (n)."""
    changed = " OR ".join(
        f"o.{c} IS DISTINCT FROM n.{c}" for c in ("project_id", "status", "language", "label", "split", "origin")
    )
    return (
        f"SELECT {_of(side, 'f.kind')}, {sign}count(*) FROM old_rows AS o JOIN new_rows AS n ON n.id = o.id "
        f"JOIN sample_flags AS f ON f.sample_id = n.id WHERE o.flagged AND ({changed}) {_GROUPED}"
    )


def _lock(table: str, strength: str) -> str:
    return f"    PERFORM 1 FROM samples WHERE id IN (SELECT sample_id FROM {table}) ORDER BY id FOR {strength};"


_SAMPLE_KEY_LIST = ", ".join(SAMPLE_KEY)
_PG_COMPACT = f"""
    IF EXISTS (SELECT 1 FROM old_rows WHERE flagged) THEN
        WITH gone AS (
            SELECT DISTINCT project_id, status, id >> {BITS} AS block, language, coalesce(label, '') AS label, split,
                origin
            FROM old_rows WHERE flagged
        ), merged AS (
            DELETE FROM flag_tallies AS t WHERE t.id IN (
                SELECT held.id FROM flag_tallies AS held JOIN gone USING ({_SAMPLE_KEY_LIST})
                FOR UPDATE OF held SKIP LOCKED
            )
            RETURNING {", ".join(f"t.{c}" for c in KEY)}, t.n
        )
        INSERT INTO flag_tallies ({_KEY_LIST}, n)
        SELECT {_KEY_LIST}, sum(n)::integer FROM merged GROUP BY {_KEY_LIST} HAVING sum(n) <> 0;
    END IF;"""

# migration 0015's bodies with the flag tallies added (the samples' ones keep 0015's part first)
_PG_FUNCTIONS = {
    "sample_flags_added": "    IF NOT EXISTS (SELECT 1 FROM new_flags) THEN RETURN NULL; END IF;\n"
    + _lock("new_flags", "NO KEY UPDATE")
    + _pg_merge(_pg_flags("new_flags", ""))
    + """
    UPDATE samples SET flagged = true
    WHERE id IN (SELECT sample_id FROM new_flags) AND NOT flagged;""",
    # a sample's deletion deletes its flags (one statement per sample, from the foreign key): nothing left to do
    "sample_flags_removed": "    IF NOT EXISTS (SELECT 1 FROM old_flags AS f JOIN samples AS s ON s.id = f.sample_id)\n"
    "        THEN RETURN NULL; END IF;\n"
    + _lock("old_flags", "UPDATE")
    + _pg_merge(_pg_flags("old_flags", "-"))
    + """
    UPDATE samples AS s SET flagged = false
    WHERE s.id IN (SELECT sample_id FROM old_flags) AND s.flagged
        AND NOT EXISTS (SELECT 1 FROM sample_flags AS f WHERE f.sample_id = s.id);""",
    "sample_flags_moved": """    PERFORM 1 FROM samples WHERE id IN (OLD.sample_id, NEW.sample_id)
        ORDER BY id FOR UPDATE;"""
    + _pg_merge(
        f"SELECT {_of('s', 'OLD.kind')}, -1 FROM samples AS s WHERE s.id = OLD.sample_id "
        f"UNION ALL SELECT {_of('s', 'NEW.kind')}, 1 FROM samples AS s WHERE s.id = NEW.sample_id"
    )
    + """
    UPDATE samples SET flagged = true WHERE id = NEW.sample_id AND NOT flagged;
    UPDATE samples SET flagged = false WHERE id = OLD.sample_id AND flagged
        AND NOT EXISTS (SELECT 1 FROM sample_flags WHERE sample_id = OLD.sample_id);""",
    "flag_tallies_sample_deleting": f"""    INSERT INTO flag_tallies ({_KEY_LIST}, n)
    SELECT {_of("OLD", "f.kind")}, -1 FROM sample_flags AS f WHERE f.sample_id = OLD.id;
    RETURN OLD;""",
}
_PG_MOVED = (
    "    IF EXISTS (SELECT 1 FROM old_rows WHERE flagged) THEN"
    + _pg_merge(f"{_pg_moved('n', '')} UNION ALL {_pg_moved('o', '-')}").replace("\n", "\n    ")
    + "\n    END IF;"
)
_PG_TRIGGERS = {  # made anew: the flags' moves now include a change of kind; a sample deleted
    "sample_flags_moved": "CREATE TRIGGER sample_flags_moved AFTER UPDATE OF sample_id, kind ON sample_flags "
    "FOR EACH ROW WHEN (OLD.sample_id IS DISTINCT FROM NEW.sample_id OR OLD.kind IS DISTINCT FROM NEW.kind) "
    "EXECUTE FUNCTION sample_flags_moved()",
    "flag_tallies_sample_deleting": "CREATE TRIGGER flag_tallies_sample_deleting BEFORE DELETE ON samples "
    "FOR EACH ROW WHEN (OLD.flagged) EXECUTE FUNCTION flag_tallies_sample_deleting()",
}


# --- the assignments: tallies per project, annotator and state ----------------------------------------------------

A_KEY = ("project_id", "annotator", "state")
_A_KEY_LIST = ", ".join(A_KEY)
_A_GROUPED = "GROUP BY 1, 2, 3"


def _a_matches(row: str) -> str:
    return " AND ".join(f"{name} = {row}.{name}" for name in A_KEY)


def _a_sqlite_add(row: str) -> str:
    return (
        f"UPDATE assignment_tallies SET n = n + 1 WHERE {_a_matches(row)};\n"
        f"  INSERT INTO assignment_tallies ({_A_KEY_LIST}, n) SELECT {row}.project_id, {row}.annotator, {row}.state, 1 "
        "WHERE changes() = 0;"
    )


def _a_sqlite_take(row: str) -> str:
    return f"UPDATE assignment_tallies SET n = n - 1 WHERE {_a_matches(row)};"


_A_SQLITE_TRIGGERS = {
    "assignment_tallies_inserted": "AFTER INSERT ON assignments BEGIN\n  " + _a_sqlite_add("NEW") + "\nEND",
    "assignment_tallies_deleted": "AFTER DELETE ON assignments BEGIN\n  " + _a_sqlite_take("OLD") + "\nEND",
    "assignment_tallies_updated": "AFTER UPDATE OF project_id, annotator, state ON assignments\n  WHEN "
    + " OR ".join(f"OLD.{c} IS NOT NEW.{c}" for c in A_KEY)
    + " BEGIN\n  "
    + _a_sqlite_take("OLD")
    + "\n  "
    + _a_sqlite_add("NEW")
    + "\nEND",
}


def _a_pg_merge(changes: str) -> str:
    return f"""
    WITH delta AS (
        SELECT {_A_KEY_LIST}, sum(n) AS n FROM ({changes}) AS changes ({_A_KEY_LIST}, n)
        GROUP BY {_A_KEY_LIST} HAVING sum(n) <> 0
    ), merged AS (
        DELETE FROM assignment_tallies AS t WHERE t.id IN (
            SELECT held.id FROM assignment_tallies AS held JOIN delta USING ({_A_KEY_LIST})
            FOR UPDATE OF held SKIP LOCKED
        )
        RETURNING {", ".join(f"t.{c}" for c in A_KEY)}, t.n
    )
    INSERT INTO assignment_tallies ({_A_KEY_LIST}, n)
    SELECT {_A_KEY_LIST}, sum(n)::integer FROM (
        SELECT {_A_KEY_LIST}, n FROM delta UNION ALL SELECT {_A_KEY_LIST}, n FROM merged
    ) AS together
    GROUP BY {_A_KEY_LIST} HAVING sum(n) <> 0;"""


def _a_counted(table: str, sign: str) -> str:
    return f"SELECT {_A_KEY_LIST}, {sign}count(*) FROM {table} {_A_GROUPED}"


_A_PG_FUNCTIONS = {
    "assignment_tallies_inserted": "    IF NOT EXISTS (SELECT 1 FROM new_rows) THEN RETURN NULL; END IF;"
    + _a_pg_merge(_a_counted("new_rows", "")),
    "assignment_tallies_updated": "    IF NOT EXISTS (SELECT 1 FROM new_rows) THEN RETURN NULL; END IF;"
    + _a_pg_merge(f"{_a_counted('new_rows', '')} UNION ALL {_a_counted('old_rows', '-')}"),
    "assignment_tallies_deleted": "    IF NOT EXISTS (SELECT 1 FROM old_rows) THEN RETURN NULL; END IF;\n"
    f"    INSERT INTO assignment_tallies ({_A_KEY_LIST}, n) {_a_counted('old_rows', '-')};",
}
_A_PG_TRIGGERS = {
    "assignment_tallies_inserted": "AFTER INSERT ON assignments REFERENCING NEW TABLE AS new_rows",
    "assignment_tallies_updated": "AFTER UPDATE ON assignments REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows",
    "assignment_tallies_deleted": "AFTER DELETE ON assignments REFERENCING OLD TABLE AS old_rows",
}


def _migration_0015() -> ModuleType:
    """Migration 0015's module: its functions' bodies, extended here, and made again on a downgrade."""
    path = Path(__file__).with_name("0015_sample_tallies.py")
    spec = importlib.util.spec_from_file_location("studio_migration_0015", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _pg_function(name: str, body: str, *, replace: bool = True) -> str:
    returns = "" if body.rstrip().endswith("RETURN OLD;") else "\n    RETURN NULL;"
    return (
        f"CREATE {'OR REPLACE ' if replace else ''}FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $body$\n"
        f"BEGIN\n{body}{returns}\nEND\n$body$"
    )


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    op.create_table(
        "flag_tallies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=50), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("block", sa.Integer(), nullable=False),
        sa.Column("language", sa.String(length=20), nullable=False),
        sa.Column("label", sa.String(length=200), nullable=False),
        sa.Column("split", sa.String(length=20), nullable=False),
        sa.Column("origin", sa.String(length=20), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_flag_tallies_key", "flag_tallies", list(KEY))
    op.execute(
        f"INSERT INTO flag_tallies ({_KEY_LIST}, n) SELECT {_of('s', 'f.kind')}, count(*) "
        f"FROM sample_flags AS f JOIN samples AS s ON s.id = f.sample_id {_GROUPED}"
    )
    op.create_table(
        "assignment_tallies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("annotator", sa.String(length=100), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_assignment_tallies_key", "assignment_tallies", list(A_KEY))
    op.execute(
        f"INSERT INTO assignment_tallies ({_A_KEY_LIST}, n) SELECT {_A_KEY_LIST}, count(*) FROM assignments "
        f"WHERE project_id IN (SELECT id FROM projects) {_A_GROUPED}"
    )
    if postgres:
        for name, body in _A_PG_FUNCTIONS.items():
            op.execute(_pg_function(name, body, replace=False))
            op.execute(f"CREATE TRIGGER {name} {_A_PG_TRIGGERS[name]} FOR EACH STATEMENT EXECUTE FUNCTION {name}()")
        old = _migration_0015()._PG_FUNCTIONS
        for name, body in _PG_FUNCTIONS.items():
            op.execute(_pg_function(name, body))
        op.execute(_pg_function("sample_tallies_updated", old["sample_tallies_updated"] + "\n" + _PG_MOVED))
        op.execute(_pg_function("sample_tallies_deleted", old["sample_tallies_deleted"] + "\n" + _PG_COMPACT))
        op.execute("DROP TRIGGER sample_flags_moved ON sample_flags")
        for trigger in _PG_TRIGGERS.values():
            op.execute(trigger)
    else:
        for name, definition in {**_SQLITE_TRIGGERS, **_A_SQLITE_TRIGGERS}.items():
            op.execute(f"CREATE TRIGGER {name} {definition}")


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    for name in _A_PG_FUNCTIONS:
        op.execute(f"DROP TRIGGER IF EXISTS {name}" + (" ON assignments" if postgres else ""))
        if postgres:
            op.execute(f"DROP FUNCTION {name}()")
    op.drop_index("ix_assignment_tallies_key", table_name="assignment_tallies")
    op.drop_table("assignment_tallies")
    if postgres:
        previous = _migration_0015()
        op.execute("DROP TRIGGER flag_tallies_sample_deleting ON samples")
        op.execute("DROP FUNCTION flag_tallies_sample_deleting()")
        op.execute("DROP TRIGGER sample_flags_moved ON sample_flags")
        for name, body in previous._PG_FUNCTIONS.items():
            op.execute(_pg_function(name, body))
        op.execute(next(t for t in previous._PG_TRIGGERS if "sample_flags_moved" in t))
    else:
        for name in [*_SQLITE_TRIGGERS, *_A_SQLITE_TRIGGERS]:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    op.drop_index("ix_flag_tallies_key", table_name="flag_tallies")
    op.drop_table("flag_tallies")

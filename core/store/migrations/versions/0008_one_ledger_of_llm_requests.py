"""llm_requests: one ledger of LLM requests for generation runs and LLM baselines (was generation_requests and
baseline_requests); every row is copied, then the two old tables are dropped

Revision ID: 0008
Revises: 0007

Generation requests keep their ids (samples.generation_request_id points at them); baseline requests are numbered
after them, in the same order.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

GENERATION = sa.text("run_kind = 'generation'")
BASELINE = sa.text("run_kind = 'baseline'")


def _empty_list() -> sa.ColumnElement[object]:
    """A JSON empty list in an INSERT ... SELECT (PostgreSQL's json column wants it typed; SQLite stores text)."""
    return sa.literal_column("'[]'::json" if op.get_bind().dialect.name == "postgresql" else "'[]'")


def _ledger_columns() -> list[sa.Column[Any]]:
    return [
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_kind", sa.String(length=20), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("language", sa.String(length=20), nullable=False),
        sa.Column("label", sa.String(length=200), nullable=False),
        sa.Column("sample_id", sa.Integer(), nullable=True),
        sa.Column("sample_ids", sa.JSON(), nullable=False),
        sa.Column("round", sa.Integer(), nullable=False),
        sa.Column("index", sa.Integer(), nullable=False),
        sa.Column("seed", sa.Integer(), nullable=False),
        sa.Column("n_asked", sa.Integer(), nullable=False),
        sa.Column("messages", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("answer", sa.Text(), nullable=True),
        sa.Column("finish_reason", sa.String(length=50), nullable=True),
        sa.Column("prompt_tokens", sa.Integer(), nullable=True),
        sa.Column("completion_tokens", sa.Integer(), nullable=True),
        sa.Column("parsed", sa.Integer(), nullable=False),
        sa.Column("dropped", sa.JSON(), nullable=False),
        sa.Column("predicted", sa.String(length=200), nullable=True),
        sa.Column("outcome", sa.String(length=20), nullable=True),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("answered_at", sa.DateTime(), nullable=True),
    ]


def _generation_columns() -> list[sa.Column[Any]]:
    return [
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("sample_ids", sa.JSON(), nullable=False),
        sa.Column("language", sa.String(length=20), nullable=False),
        sa.Column("label", sa.String(length=200), nullable=False),
        sa.Column("round", sa.Integer(), nullable=False),
        sa.Column("index", sa.Integer(), nullable=False),
        sa.Column("seed", sa.Integer(), nullable=False),
        sa.Column("n_asked", sa.Integer(), nullable=False),
        sa.Column("messages", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("answer", sa.Text(), nullable=True),
        sa.Column("finish_reason", sa.String(length=50), nullable=True),
        sa.Column("prompt_tokens", sa.Integer(), nullable=True),
        sa.Column("completion_tokens", sa.Integer(), nullable=True),
        sa.Column("parsed", sa.Integer(), nullable=False),
        sa.Column("dropped", sa.JSON(), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("answered_at", sa.DateTime(), nullable=True),
    ]


def _baseline_columns() -> list[sa.Column[Any]]:
    return [
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("baseline_id", sa.Integer(), nullable=False),
        sa.Column("sample_id", sa.Integer(), nullable=False),
        sa.Column("language", sa.String(length=20), nullable=False),
        sa.Column("true_label", sa.String(length=200), nullable=False),
        sa.Column("seed", sa.Integer(), nullable=False),
        sa.Column("messages", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("answer", sa.Text(), nullable=True),
        sa.Column("predicted", sa.String(length=200), nullable=True),
        sa.Column("outcome", sa.String(length=20), nullable=True),
        sa.Column("prompt_tokens", sa.Integer(), nullable=True),
        sa.Column("completion_tokens", sa.Integer(), nullable=True),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("answered_at", sa.DateTime(), nullable=True),
    ]


def _tables() -> tuple[sa.Table, sa.Table, sa.Table, sa.Table, sa.Table]:
    """Lightweight descriptions of the tables the copies read and write (quoting `index` and friends right)."""
    meta = sa.MetaData()
    ledger = sa.Table("llm_requests", meta, *_ledger_columns())
    generation = sa.Table("generation_requests", meta, *_generation_columns())
    baseline = sa.Table("baseline_requests", meta, *_baseline_columns())
    generation_runs = sa.Table(
        "generation_runs", meta, sa.Column("id", sa.Integer()), sa.Column("project_id", sa.Integer())
    )
    baseline_runs = sa.Table(
        "baseline_runs",
        meta,
        sa.Column("id", sa.Integer()),
        sa.Column("project_id", sa.Integer()),
        sa.Column("created_at", sa.DateTime()),
    )
    return ledger, generation, baseline, generation_runs, baseline_runs


def _restart_ids(table: str) -> None:
    """PostgreSQL: rows copied with their ids leave the id sequence behind; the next new row must not collide."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            sa.text(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"COALESCE((SELECT MAX(id) FROM {table}), 0) + 1, false)"
            )
        )


def upgrade() -> None:
    op.create_table(
        "llm_requests",
        *_ledger_columns(),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("llm_requests", schema=None) as batch_op:
        batch_op.create_index("ix_llm_requests_run_status", ["run_kind", "run_id", "status"], unique=False)
        batch_op.create_index(batch_op.f("ix_llm_requests_project_id"), ["project_id"], unique=False)
    op.create_index(
        "uq_llm_requests_generation",
        "llm_requests",
        ["run_id", "language", "label", "round", "index"],
        unique=True,
        sqlite_where=GENERATION,
        postgresql_where=GENERATION,
    )
    op.create_index(
        "uq_llm_requests_baseline",
        "llm_requests",
        ["run_id", "sample_id"],
        unique=True,
        sqlite_where=BASELINE,
        postgresql_where=BASELINE,
    )

    ledger, generation, baseline, generation_runs, baseline_runs = _tables()
    g = generation.c
    op.execute(
        ledger.insert().from_select(
            [c.name for c in ledger.c],
            sa.select(
                g.id,
                sa.literal_column("'generation'"),
                g.run_id,
                generation_runs.c.project_id,
                g.kind,
                g.language,
                g.label,
                sa.cast(sa.null(), sa.Integer()),
                g.sample_ids,
                g.round,
                g["index"],
                g.seed,
                g.n_asked,
                g.messages,
                g.status,
                g.attempts,
                g.answer,
                g.finish_reason,
                g.prompt_tokens,
                g.completion_tokens,
                g.parsed,
                g.dropped,
                sa.cast(sa.null(), sa.String()),
                sa.cast(sa.null(), sa.String()),
                g.error,
                g.created_at,
                g.answered_at,
            ).select_from(generation.join(generation_runs, generation_runs.c.id == g.run_id)),
        )
    )
    b = baseline.c
    after = sa.select(sa.func.coalesce(sa.func.max(g.id), 0)).scalar_subquery()
    op.execute(
        ledger.insert().from_select(
            [c.name for c in ledger.c],
            sa.select(
                b.id + after,
                sa.literal_column("'baseline'"),
                b.baseline_id,
                baseline_runs.c.project_id,
                sa.literal_column("'classify'"),
                b.language,
                b.true_label,
                b.sample_id,
                _empty_list(),
                sa.literal_column("0"),
                sa.literal_column("0"),
                b.seed,
                sa.literal_column("1"),
                b.messages,
                b.status,
                b.attempts,
                b.answer,
                sa.cast(sa.null(), sa.String()),
                b.prompt_tokens,
                b.completion_tokens,
                sa.literal_column("0"),
                _empty_list(),
                b.predicted,
                b.outcome,
                b.error,
                baseline_runs.c.created_at,
                b.answered_at,
            ).select_from(baseline.join(baseline_runs, baseline_runs.c.id == b.baseline_id)),
        )
    )
    _restart_ids("llm_requests")

    with op.batch_alter_table("generation_requests", schema=None) as batch_op:
        batch_op.drop_index("ix_generation_requests_run_status")
    op.drop_table("generation_requests")
    with op.batch_alter_table("baseline_requests", schema=None) as batch_op:
        batch_op.drop_index("ix_baseline_requests_run_status")
    op.drop_table("baseline_requests")


def downgrade() -> None:
    op.create_table(
        "generation_requests",
        *_generation_columns(),
        sa.ForeignKeyConstraint(["run_id"], ["generation_runs.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("run_id", "language", "label", "round", "index"),
    )
    with op.batch_alter_table("generation_requests", schema=None) as batch_op:
        batch_op.create_index("ix_generation_requests_run_status", ["run_id", "status"], unique=False)
    op.create_table(
        "baseline_requests",
        *_baseline_columns(),
        sa.ForeignKeyConstraint(["baseline_id"], ["baseline_runs.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("baseline_id", "sample_id", name="uq_baseline_request_sample"),
    )
    with op.batch_alter_table("baseline_requests", schema=None) as batch_op:
        batch_op.create_index("ix_baseline_requests_run_status", ["baseline_id", "status"], unique=False)

    ledger, generation, baseline, _, _ = _tables()
    r = ledger.c
    op.execute(
        generation.insert().from_select(
            [c.name for c in generation.c],
            sa.select(
                r.id,
                r.run_id,
                r.kind,
                r.sample_ids,
                r.language,
                r.label,
                r.round,
                r["index"],
                r.seed,
                r.n_asked,
                r.messages,
                r.status,
                r.attempts,
                r.answer,
                r.finish_reason,
                r.prompt_tokens,
                r.completion_tokens,
                r.parsed,
                r.dropped,
                r.error,
                r.created_at,
                r.answered_at,
            ).where(r.run_kind == "generation"),
        )
    )
    op.execute(
        baseline.insert().from_select(
            [c.name for c in baseline.c],
            sa.select(
                r.id,
                r.run_id,
                r.sample_id,
                r.language,
                r.label,
                r.seed,
                r.messages,
                r.status,
                r.attempts,
                r.answer,
                r.predicted,
                r.outcome,
                r.prompt_tokens,
                r.completion_tokens,
                r.error,
                r.answered_at,
            ).where(r.run_kind == "baseline"),
        )
    )
    _restart_ids("generation_requests")
    _restart_ids("baseline_requests")

    op.drop_index("uq_llm_requests_baseline", table_name="llm_requests")
    op.drop_index("uq_llm_requests_generation", table_name="llm_requests")
    with op.batch_alter_table("llm_requests", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_llm_requests_project_id"))
        batch_op.drop_index("ix_llm_requests_run_status")
    op.drop_table("llm_requests")

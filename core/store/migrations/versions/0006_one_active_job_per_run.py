"""jobs.run_key: the run a job works on, unique among queued and running jobs (one resume at a time)

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

ACTIVE = sa.text("status IN ('queued', 'running')")


def upgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("run_key", sa.String(length=100), nullable=True))
    # jobs queued before this version have no run_key: they are not held to the rule, nothing is refused or lost
    op.create_index(
        "uq_jobs_active_run", "jobs", ["run_key"], unique=True, sqlite_where=ACTIVE, postgresql_where=ACTIVE
    )


def downgrade() -> None:
    op.drop_index("uq_jobs_active_run", table_name="jobs")
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_column("run_key")

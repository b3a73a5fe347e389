"""jobs: where each job runs (the executor, `local` or `ray`; the Ray node; the resources it asked for)

Revision ID: 0013
Revises: 0012

Jobs recorded before this revision ran on the studio's machine: their executor is `local`.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("executor", sa.String(length=20), nullable=False, server_default=sa.text("'local'"))
        )
        batch_op.add_column(sa.Column("node", sa.String(length=300), nullable=True))
        batch_op.add_column(sa.Column("resources", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_column("resources")
        batch_op.drop_column("node")
        batch_op.drop_column("executor")

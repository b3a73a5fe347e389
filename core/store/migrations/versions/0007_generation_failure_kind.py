"""generation_runs.failure_kind: why a failed run failed, as a kind (core.generation.run_failures)

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # runs that failed before this version have no kind: the page treats them as before (resume offered)
    with op.batch_alter_table("generation_runs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("failure_kind", sa.String(length=30), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("generation_runs", schema=None) as batch_op:
        batch_op.drop_column("failure_kind")

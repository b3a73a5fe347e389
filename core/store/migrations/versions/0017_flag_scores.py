"""flags: a score, and an index that walks a kind's flags in its order

Revision ID: 0017
Revises: 0016

- `sample_flags.score` (nullable float): how strongly a check means its flag, the higher the sooner its ordered
  queue shows it (core/store/ranked_queue.py): `label_doubt` 1 - the probability of the given label (cleanlab's
  self-confidence), `model_uncertain` 1 - the margin between the model's two best labels (a near-repeat of a text
  ranked before it 2 lower, so that it comes after every distinct one). The other kinds have none.
- (project_id, kind, score, sample_id): the queue "most doubtful first" walked by keyset on the index, and a
  sample's place in it counted on the index.

The flags written before this migration get their score from their details.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

NEAR_REPEAT = "%(a near-repeat of a text above)"  # core/training/uncertainty_job.py's reason of a near-repeat


def _detail(name: str) -> str:
    if op.get_bind().dialect.name == "postgresql":
        return f"CAST(details ->> '{name}' AS DOUBLE PRECISION)"
    return f"json_extract(details, '$.{name}')"


def upgrade() -> None:
    op.add_column("sample_flags", sa.Column("score", sa.Float(), nullable=True))
    op.create_index("ix_flags_project_kind_score", "sample_flags", ["project_id", "kind", "score", "sample_id"])
    given, margin = _detail("given_probability"), _detail("score")
    op.execute(f"UPDATE sample_flags SET score = 1.0 - {given} WHERE kind = 'label_doubt' AND {given} IS NOT NULL")
    op.execute(
        f"UPDATE sample_flags SET score = 1.0 - {margin} - CASE WHEN reason LIKE '{NEAR_REPEAT}' THEN 2.0 ELSE 0.0 END "
        f"WHERE kind = 'model_uncertain' AND {margin} IS NOT NULL"
    )


def downgrade() -> None:
    op.drop_index("ix_flags_project_kind_score", table_name="sample_flags")
    op.execute("ALTER TABLE sample_flags DROP COLUMN score")  # SQLite >= 3.35 too: no copy, its triggers stay

"""samples and flags: indexes for the queues (Review, Browse), each a wider one in place of an old one

Revision ID: 0014
Revises: 0013

- (project_id, status) becomes (project_id, status, id, language, label): a status queue walked in id order and
  counted from the index alone, with its language and label filters;
- (project_id, language, label) becomes (project_id, language, label, status, id): the same for a language and
  label chosen first;
- on the flags, (project_id, kind) becomes (project_id, kind, sample_id), and the index on sample_id alone goes:
  the unique (sample_id, kind) finds a sample's flags already;
- on the review items, (project_id, state) becomes (project_id, state, closed_at, sample_id): the adjudication
  queue in its order.

As many indexes as before on the samples, one fewer on the flags: an import pays no more index writes.
"""

from __future__ import annotations

from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_samples_project_status", table_name="samples")
    op.create_index("ix_samples_status_queue", "samples", ["project_id", "status", "id", "language", "label"])
    op.drop_index("ix_samples_project_lang_label", table_name="samples")
    op.create_index("ix_samples_language_queue", "samples", ["project_id", "language", "label", "status", "id"])
    op.drop_index("ix_flags_project_kind", table_name="sample_flags")
    op.create_index("ix_flags_project_kind_sample", "sample_flags", ["project_id", "kind", "sample_id"])
    op.drop_index("ix_sample_flags_sample_id", table_name="sample_flags")
    op.drop_index("ix_review_items_project_state", table_name="review_items")
    op.create_index("ix_review_items_queue", "review_items", ["project_id", "state", "closed_at", "sample_id"])


def downgrade() -> None:
    op.drop_index("ix_review_items_queue", table_name="review_items")
    op.create_index("ix_review_items_project_state", "review_items", ["project_id", "state"])
    op.create_index("ix_sample_flags_sample_id", "sample_flags", ["sample_id"])
    op.drop_index("ix_flags_project_kind_sample", table_name="sample_flags")
    op.create_index("ix_flags_project_kind", "sample_flags", ["project_id", "kind"])
    op.drop_index("ix_samples_language_queue", table_name="samples")
    op.create_index("ix_samples_project_lang_label", "samples", ["project_id", "language", "label"])
    op.drop_index("ix_samples_status_queue", table_name="samples")
    op.create_index("ix_samples_project_status", "samples", ["project_id", "status"])

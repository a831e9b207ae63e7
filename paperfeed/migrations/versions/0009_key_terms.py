"""papers: key terms; users: the categories a reader's lists are filtered by

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-10 10:00:00.000000

Adds `papers.key_terms` (a paper's key terms, computed by `paperfeed index`:
NULL until then, so the next `paperfeed index` after this upgrade computes
them for every paper stored before, once) and `users.list_categories` (the
category filter a signed-in reader chose for the daily lists and trending;
NULL: none).
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('papers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('key_terms', sa.JSON(none_as_null=True), nullable=True))
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('list_categories', sa.JSON(none_as_null=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('list_categories')
    with op.batch_alter_table('papers', schema=None) as batch_op:
        batch_op.drop_column('key_terms')

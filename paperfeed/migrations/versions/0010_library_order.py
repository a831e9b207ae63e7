"""saved_papers: an index in a library's order

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-08 01:00:00.000000

Adds `ix_saved_papers_user_saved` on (user_id, saved_at DESC, arxiv_id): a
reader's library newest first straight from the index, without a sort or a
look at the table (the library page, and the digest reading 200 readers'
libraries at a time for For you).
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_saved_papers_user_saved", "saved_papers", ["user_id", sa.column("saved_at").desc(), "arxiv_id"])


def downgrade() -> None:
    op.drop_index("ix_saved_papers_user_saved", table_name="saved_papers")

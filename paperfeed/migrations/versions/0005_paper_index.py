"""the library's lookup index: papers by author key and by folded title

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 10:00:00.000000

The tables are derived from `papers` and filled here for the papers already
stored (about a minute per million papers, once), then kept up to date by the
ingest upsert; `paperfeed.ingest.paper_index.rebuild` refills them whenever
the folding rules change.
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('paper_authors',
    sa.Column('arxiv_id', sa.String(length=64), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('short', sa.String(length=300), nullable=False),
    sa.Column('key', sa.String(length=300), nullable=False),
    sa.ForeignKeyConstraint(['arxiv_id'], ['papers.arxiv_id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('arxiv_id', 'position'),
    sqlite_with_rowid=False,
    )
    with op.batch_alter_table('paper_authors', schema=None) as batch_op:
        batch_op.create_index('ix_paper_authors_short_key', ['short', 'key'], unique=False)

    op.create_table('paper_titles',
    sa.Column('arxiv_id', sa.String(length=64), nullable=False),
    sa.Column('title_hash', sa.String(length=32), nullable=False),
    sa.ForeignKeyConstraint(['arxiv_id'], ['papers.arxiv_id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('arxiv_id'),
    sqlite_with_rowid=False,
    )
    with op.batch_alter_table('paper_titles', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_paper_titles_title_hash'), ['title_hash'], unique=False)

    # the papers stored before this revision (nothing to do on a new database)
    from paperfeed.ingest import paper_index

    paper_index.rebuild(op.get_bind())


def downgrade() -> None:
    with op.batch_alter_table('paper_titles', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_paper_titles_title_hash'))
    op.drop_table('paper_titles')
    with op.batch_alter_table('paper_authors', schema=None) as batch_op:
        batch_op.drop_index('ix_paper_authors_short_key')
    op.drop_table('paper_authors')

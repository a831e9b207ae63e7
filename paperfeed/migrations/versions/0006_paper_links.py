"""papers: Hugging Face's fields (githubRepo, projectPage, ...) and the links found in the text

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-08 10:00:00.000000

Adds `github_repo`, `project_page`, `github_stars`, `ai_summary` and
`ai_keywords` (kept from Hugging Face daily JSON from now on; re-ingest a list
to fill them for papers stored before) and `links` (code and project links in
the comments and abstract).  Then, once, for the papers already stored
(`paperfeed.ingest.backfill`): their links are extracted and mojibake in their
titles, authors and abstracts is repaired, each repair logged to
`<data dir>/repairs.jsonl`.
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('papers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('github_repo', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('project_page', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('github_stars', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('ai_summary', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('ai_keywords', sa.JSON(none_as_null=True), nullable=True))
        batch_op.add_column(sa.Column('links', sa.JSON(none_as_null=True), nullable=True))

    # the papers stored before this revision (nothing to do on a new database)
    from paperfeed.ingest import backfill

    backfill.run(op.get_bind())


def downgrade() -> None:
    with op.batch_alter_table('papers', schema=None) as batch_op:
        for name in ('links', 'ai_keywords', 'ai_summary', 'github_stars', 'project_page', 'github_repo'):
            batch_op.drop_column(name)

"""subscribers.for_you: the digest's personal sections can be turned off

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-09 10:00:00.000000

A subscriber whose confirmed address is the verified address of an account
gets "For you" and "New from authors you follow" in the digest; `for_you`
(default on) is the preference that turns both off.
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('subscribers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('for_you', sa.Boolean(), server_default=sa.true(), nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('subscribers', schema=None) as batch_op:
        batch_op.drop_column('for_you')

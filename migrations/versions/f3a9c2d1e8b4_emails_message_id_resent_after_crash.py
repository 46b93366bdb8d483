"""emails: message_id (made once per mail) and resent_after_crash

Revision ID: f3a9c2d1e8b4
Revises: 5b7e9c1d2a40
Create Date: 2026-12-02 01:30:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'f3a9c2d1e8b4'
down_revision = '5b7e9c1d2a40'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('emails', schema=None) as batch_op:
        batch_op.add_column(sa.Column('message_id', sa.String(length=255), nullable=True))
        batch_op.add_column(
            sa.Column('resent_after_crash', sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade():
    with op.batch_alter_table('emails', schema=None) as batch_op:
        batch_op.drop_column('resent_after_crash')
        batch_op.drop_column('message_id')

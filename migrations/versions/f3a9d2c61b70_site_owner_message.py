"""sites.owner_message: what staff tell the owner about a suspension (status_reason stays the
internal note, never shown to the owner)

Revision ID: f3a9d2c61b70
Revises: c4b1e2d7a9f0
Create Date: 2026-12-02 01:50:00

"""
from alembic import op
import sqlalchemy as sa


revision = 'f3a9d2c61b70'
down_revision = 'c4b1e2d7a9f0'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("sites") as batch_op:
        batch_op.add_column(
            sa.Column("owner_message", sa.String(length=500), nullable=False, server_default="")
        )


def downgrade():
    with op.batch_alter_table("sites") as batch_op:
        batch_op.drop_column("owner_message")

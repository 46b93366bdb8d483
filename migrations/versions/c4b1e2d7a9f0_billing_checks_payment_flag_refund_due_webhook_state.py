"""billing: CHECK constraints, payments.flag and refund_due_at, webhook_events.state

Revision ID: c4b1e2d7a9f0
Revises: e4d1c0a7b912
Create Date: 2026-12-02 00:50:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'c4b1e2d7a9f0'
down_revision = 'e4d1c0a7b912'
branch_labels = None
depends_on = None

ORDER_STATUSES = "'pending', 'paid', 'failed', 'refunded', 'cancelled'"
SUBSCRIPTION_STATUSES = "'pending', 'active', 'past_due', 'cancelled', 'expired'"
WEBHOOK_STATES = "'received', 'processed', 'deferred', 'ignored', 'flagged', 'error'"
CURRENCIES = "'USD', 'GTQ'"


def upgrade():
    with op.batch_alter_table('payments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('refund_due_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('flag', sa.String(length=300), nullable=False, server_default=''))
    with op.batch_alter_table('webhook_events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('state', sa.String(length=20), nullable=False, server_default='received'))
    # What the result text said until now becomes the column.
    op.execute(
        "UPDATE webhook_events SET state = CASE"
        " WHEN error <> '' THEN 'error'"
        " WHEN processed_at IS NULL THEN 'received'"
        " WHEN result LIKE 'deferred%' THEN 'deferred'"
        " WHEN result LIKE 'ignored%' THEN 'ignored'"
        " ELSE 'processed' END"
    )

    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.create_check_constraint('status', f"status IN ({ORDER_STATUSES})")
        batch_op.create_check_constraint('amount_cents', "amount_cents >= 0")
        batch_op.create_check_constraint('currency', f"currency IN ({CURRENCIES})")
    with op.batch_alter_table('subscriptions', schema=None) as batch_op:
        batch_op.create_check_constraint('status', f"status IN ({SUBSCRIPTION_STATUSES})")
        batch_op.create_check_constraint('amount_cents', "amount_cents >= 0")
        batch_op.create_check_constraint('currency', f"currency IN ({CURRENCIES})")
    with op.batch_alter_table('payments', schema=None) as batch_op:
        batch_op.create_check_constraint('kind', "kind IN ('one_time', 'recurring')")
        batch_op.create_check_constraint('amount_cents', "amount_cents >= 0")
        batch_op.create_check_constraint('currency', "length(currency) = 3")
        batch_op.create_check_constraint(
            'order_or_subscription', "(order_id IS NULL) <> (subscription_id IS NULL)"
        )
        batch_op.create_index('ix_payments_refund_due', ['refund_due_at'], unique=False, postgresql_where=sa.text('refund_due_at IS NOT NULL'), sqlite_where=sa.text('refund_due_at IS NOT NULL'))
        batch_op.create_index('ix_payments_flagged', ['id'], unique=False, postgresql_where=sa.text("flag <> ''"), sqlite_where=sa.text("flag <> ''"))
    with op.batch_alter_table('webhook_events', schema=None) as batch_op:
        batch_op.create_check_constraint('state', f"state IN ({WEBHOOK_STATES})")
        batch_op.create_index('ix_webhook_events_deferred', ['object_id'], unique=False, postgresql_where=sa.text("state = 'deferred'"), sqlite_where=sa.text("state = 'deferred'"))
        batch_op.create_index('ix_webhook_events_flagged', ['id'], unique=False, postgresql_where=sa.text("state = 'flagged'"), sqlite_where=sa.text("state = 'flagged'"))


def downgrade():
    with op.batch_alter_table('webhook_events', schema=None) as batch_op:
        batch_op.drop_index('ix_webhook_events_flagged', postgresql_where=sa.text("state = 'flagged'"), sqlite_where=sa.text("state = 'flagged'"))
        batch_op.drop_index('ix_webhook_events_deferred', postgresql_where=sa.text("state = 'deferred'"), sqlite_where=sa.text("state = 'deferred'"))
        batch_op.drop_constraint('ck_webhook_events_state', type_='check')
        batch_op.drop_column('state')
    with op.batch_alter_table('payments', schema=None) as batch_op:
        batch_op.drop_index('ix_payments_flagged', postgresql_where=sa.text("flag <> ''"), sqlite_where=sa.text("flag <> ''"))
        batch_op.drop_index('ix_payments_refund_due', postgresql_where=sa.text('refund_due_at IS NOT NULL'), sqlite_where=sa.text('refund_due_at IS NOT NULL'))
        for name in ('order_or_subscription', 'currency', 'amount_cents', 'kind'):
            batch_op.drop_constraint(f'ck_payments_{name}', type_='check')
        batch_op.drop_column('flag')
        batch_op.drop_column('refund_due_at')
    for table in ('subscriptions', 'orders'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            for name in ('currency', 'amount_cents', 'status'):
                batch_op.drop_constraint(f'ck_{table}_{name}', type_='check')

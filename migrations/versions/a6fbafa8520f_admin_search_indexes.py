"""admin search indexes: trigram GIN on the console's search texts (PostgreSQL), partial indexes
for failed / unprocessed webhooks

The expressions must stay identical to lavish.admin.queries.*_search_text(); the planner only
uses an expression index for the very same expression. On SQLite (development) a substring
search scans, which is fine at that size, so only the partial indexes are created there.

Revision ID: a6fbafa8520f
Revises: 738d6ff53d82
Create Date: 2026-11-27 00:10:00

"""
from alembic import op
import sqlalchemy as sa


revision = 'a6fbafa8520f'
down_revision = '738d6ff53d82'
branch_labels = None
depends_on = None

TRIGRAM_INDEXES = {
    "ix_sites_search_trgm": ("sites", "slug || ' ' || business_name || ' ' || city || ' ' || email"),
    "ix_users_search_trgm": ("users", "email || ' ' || name || ' ' || phone"),
    "ix_orders_search_trgm": ("orders", "buyer_email || ' ' || buyer_name"),
    "ix_emails_search_trgm": ("emails", "\"to\" || ' ' || template || ' ' || subject"),
}


def upgrade():
    if op.get_bind().dialect.name == "postgresql":
        # pg_trgm is a trusted extension (PostgreSQL 13+): the database owner may create it.
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        for name, (table, expression) in TRIGRAM_INDEXES.items():
            op.execute(f"CREATE INDEX {name} ON {table} USING gin (lower({expression}) gin_trgm_ops)")
    # Newest-first lists of the few failed / unprocessed deliveries among millions.
    op.create_index(
        "ix_webhook_events_failed", "webhook_events", ["id"],
        postgresql_where=sa.text("error <> ''"), sqlite_where=sa.text("error <> ''"),
    )
    op.create_index(
        "ix_webhook_events_unprocessed", "webhook_events", ["id"],
        postgresql_where=sa.text("processed_at IS NULL"),
        sqlite_where=sa.text("processed_at IS NULL"),
    )


def downgrade():
    op.drop_index("ix_webhook_events_unprocessed", table_name="webhook_events")
    op.drop_index("ix_webhook_events_failed", table_name="webhook_events")
    if op.get_bind().dialect.name == "postgresql":
        for name in TRIGRAM_INDEXES:
            op.execute(f"DROP INDEX IF EXISTS {name}")

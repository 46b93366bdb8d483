"""edit requests: requests, attachments, history events, agent runs; site_versions.draft

Revision ID: e4d1c0a7b912
Revises: a6fbafa8520f
Create Date: 2026-12-02 01:00:00

"""
from alembic import op
import sqlalchemy as sa



revision = 'e4d1c0a7b912'
down_revision = 'a6fbafa8520f'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('site_versions') as batch_op:
        batch_op.add_column(
            sa.Column('draft', sa.Boolean(), nullable=False, server_default=sa.false())
        )

    op.create_table(
        'edit_requests',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('site_id', sa.Integer(), nullable=False),
        sa.Column('owner_id', sa.Integer(), nullable=False),
        sa.Column('title', sa.String(length=120), nullable=False),
        sa.Column('description', sa.Text(), nullable=False),
        sa.Column('page', sa.String(length=300), nullable=False),
        sa.Column('status', sa.String(length=20), nullable=False),
        sa.Column('status_reason', sa.Text(), nullable=False),
        sa.Column('draft_version_id', sa.Integer(), nullable=True),
        sa.Column('base_version_id', sa.Integer(), nullable=True),
        sa.Column('revision', sa.Integer(), nullable=False),
        sa.Column('edits', sa.JSON(), nullable=True),
        sa.Column('changed_files', sa.JSON(), nullable=True),
        sa.Column('summary', sa.Text(), nullable=False),
        sa.Column('preview_token', sa.String(length=64), nullable=True),
        sa.Column('preview_expires_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('published_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('published_version_id', sa.Integer(), nullable=True),
        sa.Column('previous_version_id', sa.Integer(), nullable=True),
        sa.Column('undone_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['site_id'], ['sites.id']),
        sa.ForeignKeyConstraint(['owner_id'], ['users.id']),
        sa.ForeignKeyConstraint(['draft_version_id'], ['site_versions.id']),
        sa.ForeignKeyConstraint(['base_version_id'], ['site_versions.id']),
        sa.ForeignKeyConstraint(['published_version_id'], ['site_versions.id']),
        sa.ForeignKeyConstraint(['previous_version_id'], ['site_versions.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('preview_token'),
    )
    op.create_index('ix_edit_requests_site_created', 'edit_requests', ['site_id', 'created_at'])
    op.create_index('ix_edit_requests_owner_created', 'edit_requests', ['owner_id', 'id'])
    op.create_index('ix_edit_requests_status_created', 'edit_requests', ['status', 'created_at'])

    op.create_table(
        'edit_attachments',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('request_id', sa.Integer(), nullable=False),
        sa.Column('filename', sa.String(length=200), nullable=False),
        sa.Column('stored_name', sa.String(length=100), nullable=False),
        sa.Column('image_format', sa.String(length=10), nullable=False),
        sa.Column('width', sa.Integer(), nullable=False),
        sa.Column('height', sa.Integer(), nullable=False),
        sa.Column('size', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['request_id'], ['edit_requests.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_edit_attachments_request_id', 'edit_attachments', ['request_id'])

    op.create_table(
        'edit_events',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('request_id', sa.Integer(), nullable=False),
        sa.Column('actor_id', sa.Integer(), nullable=True),
        sa.Column('kind', sa.String(length=20), nullable=False),
        sa.Column('from_status', sa.String(length=20), nullable=False),
        sa.Column('to_status', sa.String(length=20), nullable=False),
        sa.Column('body', sa.Text(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['request_id'], ['edit_requests.id']),
        sa.ForeignKeyConstraint(['actor_id'], ['users.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_edit_events_request_id', 'edit_events', ['request_id'])

    op.create_table(
        'edit_agent_runs',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('request_id', sa.Integer(), nullable=False),
        sa.Column('agent', sa.String(length=20), nullable=False),
        sa.Column('model', sa.String(length=100), nullable=False),
        sa.Column('outcome', sa.String(length=20), nullable=False),
        sa.Column('note', sa.Text(), nullable=False),
        sa.Column('prompt_bytes', sa.Integer(), nullable=False),
        sa.Column('answer_bytes', sa.Integer(), nullable=False),
        sa.Column('input_tokens', sa.Integer(), nullable=True),
        sa.Column('output_tokens', sa.Integer(), nullable=True),
        sa.Column('retries', sa.Integer(), nullable=False),
        sa.Column('duration_ms', sa.Integer(), nullable=False),
        sa.Column('errors', sa.JSON(), nullable=True),
        sa.Column('log', sa.Text(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['request_id'], ['edit_requests.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_edit_agent_runs_request_id', 'edit_agent_runs', ['request_id'])


def downgrade():
    op.drop_table('edit_agent_runs')
    op.drop_table('edit_events')
    op.drop_table('edit_attachments')
    op.drop_index('ix_edit_requests_status_created', table_name='edit_requests')
    op.drop_index('ix_edit_requests_owner_created', table_name='edit_requests')
    op.drop_index('ix_edit_requests_site_created', table_name='edit_requests')
    op.drop_table('edit_requests')
    with op.batch_alter_table('site_versions') as batch_op:
        batch_op.drop_column('draft')

"""CHECK constraints: users.role, sites.status, site_versions' numbers, emails.status, audit_log;
and the foreign key sites.live_version_id -> site_versions.id that the initial migration declared
with use_alter inside create_table, which never created it

Revision ID: 5b7e9c1d2a40
Revises: f3a9d2c61b70
Create Date: 2026-12-02 01:40:00.000000

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '5b7e9c1d2a40'
down_revision = 'f3a9d2c61b70'
branch_labels = None
depends_on = None

CHECKS = {
    'users': {'role': "role IN ('customer', 'admin')"},
    'sites': {'status': "status IN ('preview', 'owned', 'active', 'suspended')"},
    'site_versions': {
        'number': "number >= 1",
        'sizes': "file_count >= 0 AND total_bytes >= 0",
    },
    'emails': {
        'status': "status IN ('queued', 'sent', 'sending', 'failed')",
        'attempts': "attempts >= 0",
    },
    'audit_log': {'named': "action <> '' AND object_type <> ''"},
}


def upgrade():
    for table, checks in CHECKS.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            for name, condition in checks.items():
                batch_op.create_check_constraint(name, condition)
    with op.batch_alter_table('sites', schema=None) as batch_op:
        batch_op.create_foreign_key(
            'fk_sites_live_version_id_site_versions', 'site_versions', ['live_version_id'], ['id']
        )


def downgrade():
    with op.batch_alter_table('sites', schema=None) as batch_op:
        batch_op.drop_constraint('fk_sites_live_version_id_site_versions', type_='foreignkey')
    for table, checks in CHECKS.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            for name in checks:
                batch_op.drop_constraint(f'ck_{table}_{name}', type_='check')

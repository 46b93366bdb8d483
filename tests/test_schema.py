"""The schema the migrations build is the schema the models describe, and it refuses bad states
(CHECK constraints), whatever code writes to it."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from lavish.extensions import db
from lavish.models import AuditEntry, Domain, OutboxEmail, Site, SiteVersion, User


def _postgresql_only() -> None:
    if db.engine.dialect.name != "postgresql":
        pytest.skip("the comparison is made on PostgreSQL, the production database")


# The console's trigram search indexes: expressions over several columns that must stay the
# very text lavish.admin.queries searches, written once, in their migration (a6fbafa8520f).
MIGRATION_ONLY_INDEXES = {
    "ix_emails_search_trgm",
    "ix_orders_search_trgm",
    "ix_sites_search_trgm",
    "ix_users_search_trgm",
}


def _include(obj, name, type_, reflected, compare_to) -> bool:
    return not (type_ == "index" and name in MIGRATION_ONLY_INDEXES)


def test_the_migrations_build_what_the_models_describe(app):
    _postgresql_only()
    with db.engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"compare_type": True, "include_object": _include}
        )
        differences = compare_metadata(context, db.metadata)
    assert differences == []


def test_the_check_constraints_of_the_models_are_in_the_database(app):
    """Alembic's comparison does not look at CHECK constraints: compare them by name."""
    _postgresql_only()
    inspector = sa.inspect(db.engine)
    for table in db.metadata.sorted_tables:
        modelled = {
            constraint.name
            for constraint in table.constraints
            if isinstance(constraint, sa.CheckConstraint)
            and not getattr(constraint, "_type_bound", False)  # Boolean/Enum types' own
        }
        in_database = {check["name"] for check in inspector.get_check_constraints(table.name)}
        assert modelled == in_database, table.name


BAD_ROWS = [
    (User, {"email": "x@example.com", "role": "root"}),
    (Site, {"slug": "bad", "business_name": "B", "status": "deleted"}),
    (OutboxEmail, {"to": "x@example.com", "template": "t", "status": "lost"}),
    (OutboxEmail, {"to": "x@example.com", "template": "t", "attempts": -1}),
    (AuditEntry, {"action": "", "object_type": "sites"}),
    (Domain, {"site_id": 1, "name": "a.example", "unicode_name": "a.example",
              "claim_key": "a.example", "token": "t", "status": "lost"}),  # fmt: skip
]


@pytest.mark.parametrize(("model", "values"), BAD_ROWS, ids=lambda v: getattr(v, "__name__", ""))
def test_a_bad_state_is_refused_by_the_database(app, model, values):
    db.session.add(model(**values))
    with pytest.raises(sa.exc.IntegrityError):
        db.session.flush()
    db.session.rollback()


@pytest.mark.parametrize("values", [{"number": 0}, {"number": 1, "file_count": -1}])
def test_a_bad_site_version_is_refused(app, values):
    site = Site(slug="s", business_name="S")
    db.session.add(site)
    db.session.flush()
    db.session.add(SiteVersion(site_id=site.id, **values))
    with pytest.raises(sa.exc.IntegrityError):
        db.session.flush()
    db.session.rollback()

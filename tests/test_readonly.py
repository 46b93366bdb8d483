"""Read-only pages: queries without a transaction, and no writes."""

from __future__ import annotations

import sqlite3

import pytest
import sqlalchemy as sa
from flask import Flask
from sql_support import recorded_statements

from lavish.extensions import db
from lavish.models import User
from lavish.readonly import ReadOnlyViolation, read_only


def driver_autocommits() -> bool:
    """Whether the session's database connection itself is in autocommit mode."""
    raw = db.session.connection().connection.driver_connection
    if isinstance(raw, sqlite3.Connection):
        return raw.isolation_level is None
    return raw.autocommit


@pytest.fixture
def pages(app: Flask) -> dict[str, object]:
    """Two read-only pages of the test's own: one that looks, one that tries to write."""
    seen: dict[str, object] = {}

    @read_only
    def look():
        seen["autocommit"] = driver_autocommits()
        seen["users"] = db.session.scalar(sa.select(sa.func.count(User.id)))
        return "looked"

    @read_only
    def write():
        db.session.add(User(email="written@example.com", name="Written"))
        db.session.flush()
        return "wrote"

    app.add_url_rule("/test/look", view_func=look)
    app.add_url_rule("/test/write", view_func=write)
    return seen


def test_a_read_only_page_queries_in_autocommit_then_the_session_works_as_usual(
    app, client, pages, make_user
):
    make_user()
    assert client.get("/test/look").get_data(as_text=True) == "looked"
    assert pages == {"autocommit": True, "users": 1}
    # Afterwards, sessions (the test's here) are transactional again on that same connection.
    make_user("after@example.com")
    assert not driver_autocommits()
    assert db.session.scalar(sa.select(sa.func.count(User.id))) == 2


def test_a_request_has_a_session_of_its_own(app, client, make_user):
    seen = []

    @app.get("/test/session")
    def which_session():
        seen.append(db.session())
        return "ok"

    make_user()
    client.get("/test/session")
    client.get("/test/session")
    assert seen[0] is not seen[1]
    assert db.session() not in seen


def test_a_read_only_page_that_writes_fails_and_writes_nothing(app, client, pages):
    app.config["PROPAGATE_EXCEPTIONS"] = True
    with pytest.raises(ReadOnlyViolation, match="must not change rows"):
        client.get("/test/write")
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count(User.id))) == 0


def test_the_dashboard_is_read_only(app, client, make_user, login):
    """The owner's dashboard runs its query in autocommit (no BEGIN/ROLLBACK round trips)."""
    login(make_user())
    with recorded_statements() as executed:
        assert client.get("/customer/my-site").status_code == 200
    levels = [statement.isolation_level for statement in executed]
    assert levels == ["AUTOCOMMIT"]  # the user with the sites

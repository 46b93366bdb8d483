"""One transaction per request (lavish/transaction.py): committed once the request has answered
with a success, rolled back otherwise; jobs go out only after that commit; a failed commit
answers 500 and keeps nothing of what the view prepared."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from flask import flash, request
from sqlalchemy.orm import Session

from lavish import background, transaction
from lavish.extensions import db
from lavish.models import User

jobs_run: list[tuple] = []  # what record_job was run with


def record_job(*args) -> None:
    jobs_run.append(args)


@pytest.fixture
def routes(app):
    """Views that add a user and answer with the status asked for."""
    jobs_run.clear()

    @app.post("/_test/add/<int:status>")
    def add(status: int):
        user = User(email=f"u{status}@example.com", name="U")
        db.session.add(user)
        db.session.flush()
        background.enqueue_after_commit(f"{__name__}.record_job", user.email)
        if "keep" in request.args:
            transaction.keep_on_error()
        flash("Saved.", "success")
        return "done", status

    @app.get("/_test/raise")
    def boom():
        db.session.add(User(email="boom@example.com", name="B"))
        db.session.flush()
        raise RuntimeError("the view failed")

    return app


def _cookie_session(app, client) -> dict:
    cookie = client.get_cookie(app.config["SESSION_COOKIE_NAME"])
    if cookie is None:
        return {}
    return app.session_interface.get_signing_serializer(app).loads(cookie.value)


def _emails() -> set[str]:
    db.session.expire_all()
    return set(db.session.scalars(sa.select(User.email)))


@pytest.mark.parametrize("status", [200, 204, 286, 303])
def test_a_success_commits_once_and_then_enqueues(routes, client, status):
    response = client.post(f"/_test/add/{status}")
    assert response.status_code == status
    assert _emails() == {f"u{status}@example.com"}
    assert jobs_run == [(f"u{status}@example.com",)]


@pytest.mark.parametrize("status", [400, 403, 409, 422, 503])
def test_an_error_answer_rolls_back_and_enqueues_nothing(routes, client, status):
    assert client.post(f"/_test/add/{status}").status_code == status
    assert _emails() == set()
    assert jobs_run == []


def test_keep_on_error_commits_under_an_error_status(routes, client):
    assert client.post("/_test/add/503?keep=1").status_code == 503
    assert _emails() == {"u503@example.com"}
    assert jobs_run == [("u503@example.com",)]


def test_an_exception_rolls_back(routes, client, app):
    app.config["PROPAGATE_EXCEPTIONS"] = False
    assert client.get("/_test/raise").status_code == 500
    assert _emails() == set()


def test_a_failed_commit_answers_500_and_keeps_neither_rows_nor_cookie_changes(routes, client, app):
    def refuse(session: Session) -> None:
        raise sa.exc.OperationalError("COMMIT", {}, Exception("server closed the connection"))

    sa.event.listen(Session, "before_commit", refuse)
    try:
        response = client.post("/_test/add/303")
    finally:
        sa.event.remove(Session, "before_commit", refuse)
    assert response.status_code == 500
    assert "Something went wrong" in response.get_data(as_text=True)
    assert "_flashes" not in _cookie_session(app, client)  # no "Saved." for what was not saved
    assert _emails() == set()
    assert jobs_run == []


def test_a_failed_commit_of_a_registration_does_not_sign_in(client, app):
    def refuse(session: Session) -> None:
        if not session.in_nested_transaction():  # the outer COMMIT, not a savepoint's release
            raise sa.exc.OperationalError("COMMIT", {}, Exception("deadlock detected"))

    sa.event.listen(Session, "before_commit", refuse)
    try:
        response = client.post(
            "/customer/register",
            data={
                "name": "Nora New",
                "email": "nora@example.com",
                "password": "a long enough passphrase",
                "password_confirm": "a long enough passphrase",
            },
        )
    finally:
        sa.event.remove(Session, "before_commit", refuse)
    assert response.status_code == 500
    assert _emails() == set()
    assert "_user_id" not in _cookie_session(app, client)
    assert client.get("/customer/my-site").status_code in {302, 303}  # still signed out


def test_the_routes_do_not_commit_themselves(app):
    """The commit is in one place: no module that defines a view calls commit()."""
    import inspect
    import sys

    modules = {view.__module__ for view in app.view_functions.values()}
    modules = {name for name in modules if name.startswith("lavish.")}
    assert {"lavish.accounts.routes", "lavish.admin.actions", "lavish.domains.routes"} <= modules
    for name in sorted(modules):
        assert ".commit()" not in inspect.getsource(sys.modules[name]), name

"""With the database or Redis unreachable, /healthz says what is down (503) and pages answer a
friendly 503 rendered without the database (issue 10, defect 12). "Unreachable" is a URL to a
port nothing listens on (PostgreSQL) or a folder that does not exist (SQLite): the shared
servers are never stopped."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from flask import Flask

from lavish import create_app
from tests.integration.integration_support import free_port


@pytest.fixture
def unreachable_database(database_url: str, tmp_path) -> str:
    if database_url.startswith("sqlite"):
        return f"sqlite:///{tmp_path / 'no-such-folder' / 'lavish.db'}"
    return str(sa.make_url(database_url).set(host="127.0.0.1", port=free_port()))


@pytest.fixture
def down_app(app, app_config, unreachable_database) -> Flask:
    """The same app (same secret key, so the same signed-in cookies) without its database."""
    down = create_app({**app_config, "SQLALCHEMY_DATABASE_URI": unreachable_database})
    down.config["PROPAGATE_EXCEPTIONS"] = False  # a 500 shows as a 500
    return down


def test_healthy(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json == {"ok": True, "database": "ok", "redis": "not configured"}
    assert response.headers["Cache-Control"] == "no-store"


def test_health_checks_redis_when_it_is_configured(app, client, redis_url):
    app.config["REDIS_URL"] = redis_url
    assert client.get("/healthz").json == {"ok": True, "database": "ok", "redis": "ok"}


def test_health_says_redis_is_down(app, client):
    app.config["REDIS_URL"] = f"redis://127.0.0.1:{free_port()}/0"
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json == {"ok": False, "database": "ok", "redis": "down"}


def test_health_says_the_database_is_down(down_app):
    response = down_app.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.json == {"ok": False, "database": "down", "redis": "not configured"}


def test_a_signed_in_page_without_the_database_is_a_friendly_503(
    app, client, make_user, login, down_app
):
    login(make_user())
    down = down_app.test_client()
    down.set_cookie("session", client.get_cookie("session").value)
    for path in ["/customer/my-site", "/customer/profile", "/admin/", "/subscriptions/status"]:
        response = down.get(path)
        html = response.get_data(as_text=True)
        assert response.status_code == 503, (path, html)
        assert "We&#39;ll be right back" in html and "Internal Server Error" not in html
        assert response.headers["Retry-After"] == "30"
        assert "Sign out" not in html and "Sign in" not in html  # nobody was looked up


def test_an_htmx_request_without_the_database_gets_a_line_in_place(app, down_app):
    response = down_app.test_client().post(
        "/customer/login",
        data={"email": "olivia@example.com", "password": "x" * 12},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 503
    assert response.get_data(as_text=True).startswith('<span class="error"')


def test_pages_that_need_no_database_still_work(app, down_app):
    down = down_app.test_client()
    assert down.get("/").status_code == 200
    assert down.get("/customer/login").status_code == 200


def test_a_500_page_does_not_look_up_the_user(app, client, make_user, login):
    from tests.sql_support import recorded_statements

    app.config["PROPAGATE_EXCEPTIONS"] = False

    @app.get("/test-broken")
    def broken():
        raise RuntimeError("a bug")

    login(make_user())
    with recorded_statements() as statements:
        response = client.get("/test-broken")
    assert response.status_code == 500
    assert "Something went wrong" in response.get_data(as_text=True)
    assert statements == []


def test_new_postgresql_connections_time_out():
    from lavish.config import engine_options

    base = {"DATABASE_CONNECT_TIMEOUT": 5, "SQLALCHEMY_ENGINE_OPTIONS": {}}
    url = "postgresql+psycopg://postgres@10.255.255.1/lavish"
    options = engine_options({**base, "SQLALCHEMY_DATABASE_URI": url})
    assert options["connect_args"] == {"connect_timeout": 5}
    assert engine_options({**base, "SQLALCHEMY_DATABASE_URI": url + "?connect_timeout=2"}) == {}
    assert engine_options({**base, "SQLALCHEMY_DATABASE_URI": "sqlite:///x.db"}) == {}

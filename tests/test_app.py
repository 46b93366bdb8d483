"""The factory, configuration and migrations."""

import sqlalchemy as sa

from lavish import create_app
from lavish.extensions import db


def test_factory_takes_config(app):
    assert app.testing
    assert app.config["SITE_PRICE_CENTS"] == 49500
    assert app.config["PAYMENT_PROVIDER"] == "sandbox"


def test_defaults_follow_the_contract(monkeypatch, tmp_path):
    for name in ["DATABASE_URL", "REDIS_URL", "PUBLIC_URL", "RECURRENTE_SECRET_KEY", "GRACE_DAYS"]:
        monkeypatch.delenv(name, raising=False)
    app = create_app({"TESTING": True})
    assert app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite:///")
    assert app.config["REDIS_URL"] is None
    assert app.config["PUBLIC_URL"] == "http://127.0.0.1:5000"
    assert app.config["GRACE_DAYS"] == 7
    assert app.config["CANCEL_GRACE_DAYS"] == 30
    assert app.config["SETUP_DAYS"] == 14
    assert app.config["CURRENCY"] == "USD"


def test_environment_overrides(monkeypatch):
    monkeypatch.setenv("GRACE_DAYS", "3")
    monkeypatch.setenv("RECURRENTE_SECRET_KEY", "sk_test_x")
    app = create_app({"TESTING": True})
    assert app.config["GRACE_DAYS"] == 3
    assert app.config["PAYMENT_PROVIDER"] == "recurrente"


def test_migrations_build_every_table(app):
    tables = set(sa.inspect(db.engine).get_table_names())
    assert set(db.metadata.tables) <= tables
    assert "alembic_version" in tables


def test_home_page(client):
    response = client.get("/")
    assert response.status_code == 200
    assert b"htmx-2.0.11.min.js" in response.data
    assert "HX-Request" in response.headers["Vary"]


def test_unknown_page_is_a_plain_404(client):
    response = client.get("/customer/nothing-here")
    assert response.status_code == 404
    assert b"Page not found" in response.data


def test_client_address_comes_from_the_trusted_proxy_only(app_config):
    from flask import request

    def show_address():
        return request.remote_addr or ""

    direct = create_app(app_config)
    direct.add_url_rule("/_address", view_func=show_address)
    spoofed = direct.test_client().get("/_address", headers={"X-Forwarded-For": "203.0.113.9"})
    assert spoofed.get_data(as_text=True) == "127.0.0.1"

    behind_nginx = create_app({**app_config, "TRUSTED_PROXY_HOPS": 1})
    behind_nginx.add_url_rule("/_address", view_func=show_address)
    response = behind_nginx.test_client().get(
        "/_address", headers={"X-Forwarded-For": "198.51.100.1, 203.0.113.9"}
    )
    assert response.get_data(as_text=True) == "203.0.113.9"


def test_limits_and_timeouts_are_read_from_the_environment(monkeypatch, tmp_path):
    """Configuration in one place (lavish/config.py): these used to be read, with defaults,
    where they were used."""
    defaults = create_app({"TESTING": True}).config
    assert (defaults["SITES_MAX_FILE_BYTES"], defaults["SITES_MAX_FILES"]) == (20 << 20, 2000)
    assert (defaults["MAIL_TIMEOUT"], defaults["RECURRENTE_TIMEOUT"]) == (30.0, 10.0)
    assert defaults["SANDBOX_DIR"].endswith("instance/sandbox")
    environment = {
        "SITES_MAX_FILE_BYTES": "1000",
        "SITES_MAX_TOTAL_BYTES": "5000",
        "SITES_MAX_FILES": "7",
        "SITES_MAX_UPLOAD_BYTES": "9000",
        "MAIL_TIMEOUT": "2.5",
        "RECURRENTE_TIMEOUT": "4",
        "SANDBOX_DIR": str(tmp_path / "sandbox"),
    }
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    app = create_app({"TESTING": True})
    with app.app_context():
        from lavish.admin.uploads import max_upload_bytes
        from lavish.billing.providers.sandbox import _store_dir
        from lavish.hosting.publisher import Limits

        assert Limits.from_config() == Limits(1000, 5000, 7)
        assert max_upload_bytes() == 9000
        assert _store_dir() == tmp_path / "sandbox"
    assert (app.config["MAIL_TIMEOUT"], app.config["RECURRENTE_TIMEOUT"]) == (2.5, 4.0)

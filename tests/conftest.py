"""Fixtures: an app per database backend (real SQLite and real PostgreSQL), clients, users, mail.

Every test that uses `app` runs once on SQLite and once on PostgreSQL; set
LAVISH_TEST_BACKENDS=sqlite (or postgresql) to run one. The schema is built by the migrations,
once per backend and session, in a database of its own; tables are emptied between tests.
"""

from __future__ import annotations

import os
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from argon2.profiles import CHEAPEST
from flask import Flask, g, has_app_context
from flask.testing import FlaskClient
from redis import exceptions as redis_errors

from lavish import create_app
from lavish.accounts.passwords import hash_password
from lavish.clock import utcnow
from lavish.extensions import db, mail
from lavish.models import Role, User

POSTGRES_ADMIN_URL = os.environ.get(
    "TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
# Unset: each test session starts a Redis server of its own (on a free port, nothing saved), so
# emptying it between tests never touches anyone else's data. Set: that Redis, never db 0.
REDIS_TEST_URL = os.environ.get("TEST_REDIS_URL")
BACKENDS = os.environ.get("LAVISH_TEST_BACKENDS", "sqlite,postgresql").split(",")
TEST_PASSWORD = "correct horse battery staple"


@pytest.fixture(scope="session", params=BACKENDS)
def database_url(request, tmp_path_factory) -> Iterator[str]:
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("sqlite") / "test.db"
        url = f"sqlite:///{path}"
        _migrate(url)
        yield url
        return
    name = f"lavish_test_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = sa.make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    try:
        _migrate(url)
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _migrate(url: str) -> None:
    from flask_migrate import upgrade

    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": url})
    with app.app_context():
        upgrade()
        db.engine.dispose()


def base_config(database_url: str, tmp_path: Path) -> dict:
    return {
        "TESTING": True,
        "SECRET_KEY": "test-secret-key",
        "SQLALCHEMY_DATABASE_URI": database_url,
        "WTF_CSRF_ENABLED": False,
        "REDIS_URL": None,
        "PUBLIC_URL": "http://localhost",
        "SITES_ROOT": str(tmp_path / "hosted"),
        # A server name makes Flask-Mail "send" (suppressed while testing, recorded by `outbox`).
        "MAIL_SERVER": "127.0.0.1",
        "MAIL_OUTBOX_DIR": str(tmp_path / "outbox"),
        "RECURRENTE_WEBHOOK_SECRET": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        # Argon2 at its cheapest: a hash in microseconds instead of ~50 ms (production keeps
        # the library's defaults; tests/test_accounts_login.py checks it).
        "ARGON2_PARAMETERS": CHEAPEST,
    }


@pytest.fixture
def app_config(database_url: str, tmp_path: Path) -> dict:
    """Override in a test module (or update in a test) to change the app's configuration."""
    return base_config(database_url, tmp_path)


class RequestClient(FlaskClient):
    """Requests get a session of their own, as in production (lavish.extensions.session_scope),
    not the test's. So that a test reads like a script of separate actors: what the test wrote
    is committed before each request, and what it holds is re-read after one."""

    def open(self, *args, **kwargs):
        if not has_app_context():  # a thread of the test's own: nothing of the test's to share
            return super().open(*args, **kwargs)
        # In production each request starts with a fresh `g` (where Flask-Login keeps the user).
        g.pop("_login_user", None)
        _end_test_transaction()
        try:
            return super().open(*args, **kwargs)
        finally:
            if db.session.registry.has():
                db.session.expire_all()


def _end_test_transaction() -> None:
    if not db.session.registry.has():
        return
    session = db.session()
    if session.new or session.dirty or session.deleted or session.info.pop(_FLUSHED, False):
        session.commit()
    else:
        session.rollback()  # only read: end the transaction without a COMMIT


_FLUSHED = "lavish_test_flushed"


@sa.event.listens_for(sa.orm.Session, "after_flush")
def _note_flush(session, flush_context) -> None:
    session.info[_FLUSHED] = True


@pytest.fixture
def app(app_config: dict) -> Iterator[Flask]:
    app = create_app(app_config)
    app.test_client_class = RequestClient

    with app.app_context():
        yield app
        db.session.remove()
        _empty_tables()
        db.engine.dispose()


def _empty_tables() -> None:
    tables = list(reversed(db.metadata.sorted_tables))
    with db.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            names = ", ".join(f'"{t.name}"' for t in tables)
            conn.execute(sa.text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        else:
            conn.execute(sa.text("PRAGMA foreign_keys=OFF"))
            for table in tables:
                conn.execute(table.delete())


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def outbox(app: Flask) -> Iterator[list]:
    """Mails sent (in this process) while the test runs."""
    with mail.record_messages() as messages:
        yield messages


@pytest.fixture
def make_user(app: Flask):
    def make(
        email: str = "owner@example.com",
        *,
        password: str | None = TEST_PASSWORD,
        name: str = "Olivia Owner",
        role: str = Role.CUSTOMER,
        verified: bool = True,
    ) -> User:
        user = User(
            email=email,
            name=name,
            role=role,
            password_hash=hash_password(password) if password else None,
            email_verified_at=utcnow() if verified else None,
        )
        db.session.add(user)
        db.session.commit()
        return user

    return make


@pytest.fixture
def login(client: FlaskClient):
    """Sign a user in through the real login form."""

    def do_login(user: User, password: str = TEST_PASSWORD, test_client: FlaskClient | None = None):
        response = (test_client or client).post(
            "/customer/login", data={"email": user.email, "password": password}
        )
        assert response.status_code == 303, response.get_data(as_text=True)
        return response

    return do_login


@pytest.fixture
def admin(make_user) -> User:
    return make_user("staff@example.com", name="Sam Staff", role=Role.ADMIN)


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory) -> Iterator[str]:
    """The URL of the session's own Redis (database 15 of a redis-server started for it)."""
    from redis import Redis

    if REDIS_TEST_URL:
        if Redis.from_url(REDIS_TEST_URL).connection_pool.connection_kwargs.get("db", 0) == 0:
            raise pytest.UsageError("TEST_REDIS_URL: use a database other than 0 (/15)")
        yield REDIS_TEST_URL
        return
    from tests.integration.integration_support import free_port

    port = free_port()
    folder = tmp_path_factory.mktemp("redis")
    process = subprocess.Popen(
        ["redis-server", "--bind", "127.0.0.1", "--port", str(port), "--save", "",
         "--appendonly", "no", "--dir", str(folder)],
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"redis://127.0.0.1:{port}/15"
    try:
        connection = Redis.from_url(url, socket_connect_timeout=1)
        deadline = time.monotonic() + 10
        while True:
            try:
                connection.ping()
                break
            except redis_errors.ConnectionError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise
                time.sleep(0.05)
        connection.close()
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
def redis_url(redis_server: str) -> Iterator[str]:
    """A real Redis of this test session's own, emptied before and after the test."""
    from redis import Redis

    connection = Redis.from_url(redis_server)
    connection.flushdb()
    yield redis_server
    connection.flushdb()
    connection.close()

"""Pooled connections that PostgreSQL closed are replaced before use (lavish.connections)."""

from __future__ import annotations

import time

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import OperationalError

from lavish import connections
from lavish.extensions import db


@pytest.fixture
def postgresql(app):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("connections to a server: PostgreSQL")
    db.session.remove()
    db.engine.dispose()  # one pooled connection, the one each test makes below


def pooled_backend_pid() -> int:
    """The server process behind the pool's connection, which goes back to the pool."""
    pid = db.session.execute(sa.text("SELECT pg_backend_pid()")).scalar_one()
    db.session.remove()
    return pid


def terminate(pid: int) -> None:
    """What a server restart or an idle timeout does to one session."""
    killer = sa.create_engine(db.engine.url, poolclass=sa.pool.NullPool)
    with killer.connect() as conn:
        assert conn.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar()
        for _ in range(100):
            gone = not conn.execute(
                sa.text("SELECT 1 FROM pg_stat_activity WHERE pid = :pid"), {"pid": pid}
            ).first()
            if gone:
                break
            time.sleep(0.02)
    killer.dispose()
    time.sleep(0.05)  # the client socket has the server's goodbye by now


def test_a_connection_the_server_closed_is_replaced_without_an_error(postgresql):
    pid = pooled_backend_pid()
    terminate(pid)
    assert pooled_backend_pid() != pid  # a fresh connection; no request saw an error


def test_the_check_is_what_saves_the_request(postgresql):
    """Without it (and without pool_pre_ping) the dead connection reaches the query."""
    sa.event.remove(db.engine, "checkout", connections._drop_if_closed)
    try:
        pid = pooled_backend_pid()
        terminate(pid)
        with pytest.raises(OperationalError):
            pooled_backend_pid()
        db.session.rollback()
    finally:
        sa.event.listen(db.engine, "checkout", connections._drop_if_closed)
    assert pooled_backend_pid() != pid  # SQLAlchemy invalidated the pool after the error


def test_a_live_idle_connection_is_kept(postgresql):
    pid = pooled_backend_pid()
    time.sleep(0.05)
    assert pooled_backend_pid() == pid

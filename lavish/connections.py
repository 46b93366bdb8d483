"""Pooled PostgreSQL connections that the server has closed are dropped before use.

SQLAlchemy's `pool_pre_ping` asks the server on every checkout, that is on every request: one
round trip of two on the owner's dashboard, ~12 % of its requests a second (bench/portal.py).
A server that restarted or ended a session (shutdown, crash, `pg_terminate_backend`, an idle
timeout) closes the socket, after its last error message: an idle connection whose socket has
something to read is dead. Looking costs one `poll()` call and no round trip. Such a
connection is discarded, and the pool, which retries the checkout, connects afresh.

What this cannot see is a server host that vanished without closing anything (a network
partition): that surfaces as one failed request, after which SQLAlchemy invalidates the whole
pool (its disconnect handling) and the next requests connect afresh.
"""

from __future__ import annotations

import select
from typing import Any

import sqlalchemy as sa
from flask import Flask

from lavish.extensions import db


def init_app(app: Flask) -> None:
    with app.app_context():
        engine = db.engine
    if engine.dialect.name == "postgresql" and not sa.event.contains(
        engine, "checkout", _drop_if_closed
    ):
        sa.event.listen(engine, "checkout", _drop_if_closed)


def _drop_if_closed(dbapi_connection: Any, connection_record: Any, connection_proxy: Any) -> None:
    try:
        fileno = dbapi_connection.fileno()
    except Exception as exc:  # psycopg.OperationalError: closed on our side already
        raise sa.exc.DisconnectionError("the connection is closed") from exc
    poller = select.poll()  # not select(): no limit on the descriptor's number
    poller.register(fileno, select.POLLIN)
    if poller.poll(0):
        # Nothing is due on an idle connection: this is EOF or the server's goodbye.
        raise sa.exc.DisconnectionError("the server closed the connection")

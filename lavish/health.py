"""What the app depends on, checked with short timeouts: `/healthz` and the 503 page use it."""

from __future__ import annotations

import logging

import sqlalchemy as sa
from flask import Flask, current_app

from lavish.extensions import db

log = logging.getLogger(__name__)

REDIS_TIMEOUT_SECONDS = 1.0
OK, DOWN, NOT_CONFIGURED = "ok", "down", "not configured"

# Errors that say the database cannot be reached (or answered "try again"), not that a
# statement is wrong: the page that hit one is a 503, not a 500.
DATABASE_UNAVAILABLE = (sa.exc.OperationalError, sa.exc.InterfaceError, sa.exc.TimeoutError)


def database_status() -> str:
    try:
        # A connection of the pool (a new one times out after DATABASE_CONNECT_TIMEOUT).
        with db.engine.connect() as connection:
            connection.execute(sa.text("SELECT 1"))
    except Exception as exc:
        log.warning("health: the database is down: %s", exc)
        return DOWN
    return OK


def redis_status(app: Flask | None = None) -> str:
    from redis import Redis

    app = app or current_app
    url = app.config.get("REDIS_URL")
    if not url:
        return NOT_CONFIGURED
    clients = app.extensions.setdefault("lavish_health_redis", {})
    if url not in clients:
        # Its own client: the jobs' client waits longer (it may hold a big pipeline).
        clients[url] = Redis.from_url(
            url,
            socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
            socket_timeout=REDIS_TIMEOUT_SECONDS,
        )
    try:
        clients[url].ping()
    except Exception as exc:
        log.warning("health: Redis is down: %s", exc)
        return DOWN
    return OK


def status() -> tuple[bool, dict[str, str]]:
    """(healthy, {"database": …, "redis": …}); Redis only counts when it is configured."""
    checks = {"database": database_status(), "redis": redis_status()}
    return all(value != DOWN for value in checks.values()), checks

"""Background jobs: enqueued by dotted name and id, only after the transaction commits.

With REDIS_URL set, jobs go to RQ. Without it (``make run``), each job runs in-process right after
the commit, in a fresh app context, so it sees exactly what was committed.
If Redis is down the job is not lost: what it reports is in the database (the outbox, state
columns), and a sweep enqueues it again.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from flask import Flask, current_app
from flask_sqlalchemy.session import Session as FlaskSession
from rq import Queue, Retry
from sqlalchemy import event
from sqlalchemy.orm import Session

from lavish.extensions import db

log = logging.getLogger(__name__)

_PENDING = "lavish_pending_jobs"
DEFAULT_RETRY = Retry(max=3, interval=[10, 60, 300])


def enqueue_after_commit(func_path: str, *args: Any) -> None:
    """Run ``func_path(*args)`` in the background once the current transaction commits."""
    pending: list = db.session.info.setdefault(_PENDING, [])
    pending.append((func_path, args))


def redis_connection(app: Flask | None = None):
    from redis import Redis

    app = app or current_app
    return Redis.from_url(app.config["REDIS_URL"], socket_connect_timeout=2, socket_timeout=5)


def queue(app: Flask | None = None, name: str = "default") -> Queue:
    app = app or current_app
    return Queue(name, connection=redis_connection(app))


def enqueue_now(func_path: str, *args: Any, app: Flask | None = None) -> bool:
    """Enqueue (or, without Redis, run) a job now. Returns False when Redis was unreachable."""
    app = app or current_app._get_current_object()
    if not app.config.get("REDIS_URL"):
        _run_inline(app, func_path, args)
        return True
    try:
        queue(app).enqueue(func_path, *args, retry=DEFAULT_RETRY, job_timeout="5m")
    except Exception:  # redis.ConnectionError, timeouts: the sweep re-enqueues later
        log.warning("could not enqueue %s%r; it will be retried by the sweep", func_path, args)
        return False
    return True


def enqueue_later(func_path: str, delay: timedelta, *args: Any, app: Flask | None = None) -> bool:
    """Enqueue a job to run after `delay` (RQ's scheduler, which `flask worker` runs).

    Without Redis, or with Redis down, nothing is scheduled and False is returned: the caller's
    state in the database must let a sweep find the work (the outbox does)."""
    app = app or current_app._get_current_object()
    if not app.config.get("REDIS_URL"):
        return False
    try:
        queue(app).enqueue_in(delay, func_path, *args, retry=DEFAULT_RETRY, job_timeout="5m")
    except Exception:
        log.warning("could not schedule %s%r; the sweep will pick it up", func_path, args)
        return False
    return True


def resolve(func_path: str) -> Callable[..., Any]:
    module, _, name = func_path.rpartition(".")
    return getattr(importlib.import_module(module), name)


def _run_inline(app: Flask, func_path: str, args: tuple) -> None:
    # A fresh app context gets its own scoped session, separate from the caller's.
    with app.app_context():
        try:
            resolve(func_path)(*args)
        except Exception:
            log.exception("in-process job %s%r failed", func_path, args)


# Registered once for every Flask-SQLAlchemy session (not per app: tests build many apps).
@event.listens_for(FlaskSession, "after_commit")
def _after_commit(session: Session) -> None:
    pending = session.info.pop(_PENDING, None)
    if pending:
        app = current_app._get_current_object()
        for func_path, args in pending:
            enqueue_now(func_path, *args, app=app)


@event.listens_for(FlaskSession, "after_soft_rollback")
def _after_rollback(session: Session, previous_transaction: Any) -> None:
    if not session.in_transaction():
        session.info.pop(_PENDING, None)

"""Background jobs: enqueued by dotted name and id, only after the transaction commits.

With REDIS_URL set, jobs go to RQ. Without it (``make run``), each job runs in-process right after
the commit, in a fresh app context, so it sees exactly what was committed.
If Redis is down the job is not lost: what it reports is in the database (the outbox, state
columns), and a sweep enqueues it again.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
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


@contextmanager
def savepoint() -> Iterator[None]:
    """A SAVEPOINT whose jobs go with it: when the block raises, its changes are rolled back
    and the jobs it asked for are not enqueued at the commit. (On SQLite, write something
    first: its driver would commit a savepoint opened outside a transaction.)"""
    pending: list = db.session.info.setdefault(_PENDING, [])
    mark = len(pending)
    try:
        with db.session.begin_nested():
            yield
    except BaseException:
        del db.session.info.get(_PENDING, [])[mark:]
        raise


def redis_connection(app: Flask | None = None):
    from redis import Redis

    app = app or current_app
    # One client (and connection pool) per app and URL: a new TCP connection per job was a
    # measurable part of webhook handling (bench/billing.py).
    clients = app.extensions.setdefault("lavish_redis", {})
    url = app.config["REDIS_URL"]
    if url not in clients:
        clients[url] = Redis.from_url(url, socket_connect_timeout=2, socket_timeout=5)
    return clients[url]


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
    if session.in_nested_transaction():
        # SQLAlchemy also fires after_commit when a SAVEPOINT (begin_nested) is released;
        # the jobs wait for the real commit of the outer transaction.
        return
    pending = session.info.pop(_PENDING, None)
    if pending:
        app = current_app._get_current_object()
        if len(pending) > 1 and app.config.get("REDIS_URL"):
            _enqueue_many(app, pending)
            return
        for func_path, args in pending:
            enqueue_now(func_path, *args, app=app)


def _enqueue_many(app: Flask, pending: list[tuple[str, tuple]]) -> None:
    """A sweep's batch of jobs in one Redis pipeline (one round trip instead of one each)."""
    try:
        queue(app).enqueue_many(
            [
                Queue.prepare_data(func_path, args=args, retry=DEFAULT_RETRY, timeout=300)
                for func_path, args in pending
            ]
        )
    except Exception:  # Redis down: what the jobs report is in the database; sweeps retry
        log.warning("could not enqueue %d jobs; they will be retried by the sweep", len(pending))


@event.listens_for(FlaskSession, "after_soft_rollback")
def _after_rollback(session: Session, previous_transaction: Any) -> None:
    if not session.in_transaction():
        session.info.pop(_PENDING, None)

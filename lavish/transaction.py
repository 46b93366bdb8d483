"""One transaction per request, committed in one place.

Routes and services only change and flush; when the view (or an error handler) has answered,
`end_request` commits if the answer is a success (status < 400: pages, 303s, htmx's 204/286)
and rolls back otherwise. Jobs queued with `enqueue_after_commit` and the hosted files that
follow a site's state go out after that commit (their `after_commit` hooks), so nothing is
enqueued for work that was rolled back.

A commit that fails answers 500 (never the success the view prepared, with its data lost), and
what the view put in the cookie session (a sign-in, a flash) is dropped with it.

Jobs, sweeps and CLI commands are not requests: they commit their own work explicitly.
"""

from __future__ import annotations

import logging

from flask import Flask, Response, g, request, session
from werkzeug.exceptions import InternalServerError

from lavish.extensions import db

log = logging.getLogger(__name__)

_KEEP_ON_ERROR = "lavish_commit_on_error"


def keep_on_error() -> None:
    """Commit this request's changes even though it answers with an error status (a failed
    checkout's order, kept for staff to see, under a 503)."""
    g.setdefault(_KEEP_ON_ERROR, True)


def end_request(app: Flask, response: Response) -> Response:
    """Commit or roll back the request's session, before any after_request hook runs."""
    if not db.session.registry.has():  # the request never touched the database
        return response
    db_session = db.session()
    if response.status_code >= 400 and not g.get(_KEEP_ON_ERROR):
        rollback_quietly()
        return response
    if not db_session.in_transaction():  # nothing was read or written (or a read-only page)
        return response
    try:
        db_session.commit()
    except Exception:
        log.exception("commit failed for %s %s", request.method, request.path)
        rollback_quietly()
        _forget_cookie_session_changes(app)
        return app.make_response(app.handle_http_exception(InternalServerError()))
    return response


def rollback_quietly() -> None:
    """End the session's transaction, also when the connection is gone (the error page for
    exactly that must still render): then closing the session returns it to the pool."""
    try:
        db.session.rollback()
    except Exception:  # noqa: BLE001 (answering matters more)
        log.warning("rollback failed", exc_info=True)
        db.session.close()


def _forget_cookie_session_changes(app: Flask) -> None:
    # The view signed someone in or flashed "saved" for changes that are not saved: answer
    # with the session the request came with.
    arrived = app.session_interface.open_session(app, request) or {}
    session.clear()
    session.update(arrived)
    session.modified = False
    g.pop("_login_user", None)


def init_app(app: Flask) -> None:
    @app.teardown_request
    def _remove_request_session(exc: BaseException | None) -> None:
        # The request's own session (extensions.session_scope); the app context's teardown
        # removes the app context's.
        db.session.remove()


class LavishFlask(Flask):
    """Flask, committing (or rolling back) each request's transaction when it has answered."""

    def finalize_request(self, rv, from_error_handler: bool = False) -> Response:  # type: ignore[override]
        # Here, not in an after_request hook: before every hook (cookies, headers) and for
        # error handlers' answers too.
        response = end_request(self, self.make_response(rv))
        return super().finalize_request(response, from_error_handler)

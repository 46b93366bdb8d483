"""Who is signed in, and who may open what; which browsers an account signs in from."""

from __future__ import annotations

import functools
import hashlib
import secrets
from collections.abc import Callable
from datetime import timedelta
from typing import Any, TypeVar

import sqlalchemy as sa
from flask import (
    Response,
    abort,
    after_this_request,
    current_app,
    flash,
    g,
    redirect,
    request,
    url_for,
)
from flask_login import current_user, login_required
from itsdangerous import BadSignature, URLSafeTimedSerializer

from lavish.extensions import db, htmx, login_manager
from lavish.models import User, normalize_email
from lavish.models.user import USER_BY_SESSION

F = TypeVar("F", bound=Callable[..., Any])


# Where a page puts the statement that loads the signed-in user with what the page shows.
_USER_STATEMENT = "lavish_user_statement"


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    # The id carries the session token: changing it ends every other session.
    raw_id, _, token = user_id.partition(":")
    if not raw_id.isdigit() or not token:
        return None
    statement = g.pop(_USER_STATEMENT, USER_BY_SESSION)
    result = db.session.execute(statement, {"user_id": int(raw_id), "token": token})
    # Joined eager loads repeat the user's row once per loaded child row.
    return result.unique().scalar_one_or_none()


def login_required_loading(statement: sa.Select) -> Callable[[F], F]:
    """`login_required` for a page that shows the signed-in user's own rows: the session check
    loads the user with `statement` (USER_BY_SESSION with the page's loader options), so the
    page costs one query for the user and what it shows. If something looked the user up
    earlier in the request, the relationships simply load when the page uses them."""

    def decorator(view: F) -> F:
        protected = login_required(view)

        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            g.setdefault(_USER_STATEMENT, statement)
            try:
                return protected(*args, **kwargs)
            finally:
                g.pop(_USER_STATEMENT, None)

        return wrapper  # type: ignore[return-value]

    return decorator


def login_url_for_current_request() -> str:
    next_path = request.full_path if request.query_string else request.path
    if htmx and htmx.current_url:
        # For an htmx fragment, come back to the page, not to the fragment URL.
        from urllib.parse import urlsplit

        parts = urlsplit(htmx.current_url)
        next_path = parts.path + (f"?{parts.query}" if parts.query else "")
    return url_for("accounts.login", next=next_path)


@login_manager.unauthorized_handler
def unauthorized():
    location = login_url_for_current_request()
    if htmx:
        # Never swap a login page into a fragment: make the browser go there.
        response = Response(status=401)
        response.headers["HX-Redirect"] = location
        return response
    if request.method == "GET":
        flash("Please sign in to continue.", "info")
    return redirect(location)


def admin_required(view: F) -> F:
    """Staff pages: anonymous users go to login, signed-in non-admins get 403."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if not current_user.is_authenticated:
            return login_manager.unauthorized()
        if not current_user.is_admin:
            abort(403)
        return view(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


# ---- known devices (login rate limits) ------------------------------------------------------
#
# A browser that signed in to an account gets a signed cookie naming that account (by a digest
# of its address) and a random device id. Its login attempts for that account are limited per
# device, not by the address-wide limit: guesses from elsewhere, however many, cannot lock the
# owner out of a browser they have used before (OWASP's "device cookies"). The cookie proves
# nothing else: the password is still checked.

DEVICE_COOKIE = "lavish_device"
DEVICE_MAX_AGE = timedelta(days=365)


def _device_serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="lavish.device")


def _address_digest(email: str) -> str:
    return hashlib.sha256(normalize_email(email).encode()).hexdigest()[:24]


def known_device(email: str) -> str | None:
    """This browser's device id when it has signed in to `email`'s account before, else None."""
    raw = request.cookies.get(DEVICE_COOKIE, "")
    if not raw or len(raw) > 256:
        return None
    try:
        data = _device_serializer().loads(raw, max_age=int(DEVICE_MAX_AGE.total_seconds()))
    except BadSignature:
        return None
    if not isinstance(data, dict) or data.get("a") != _address_digest(email):
        return None
    device = data.get("d")
    return device if isinstance(device, str) else None


def remember_device(user: User) -> None:
    """Mark this browser as one `user` signs in from (the cookie goes out with the response)."""
    value = _device_serializer().dumps(
        {"a": _address_digest(user.email), "d": secrets.token_urlsafe(12)}
    )

    @after_this_request
    def set_device_cookie(response: Response) -> Response:
        response.set_cookie(
            DEVICE_COOKIE,
            value,
            max_age=int(DEVICE_MAX_AGE.total_seconds()),
            httponly=True,
            secure=current_app.config["SESSION_COOKIE_SECURE"],
            samesite="Lax",
        )
        return response

"""Who is signed in, and who may open what."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

import sqlalchemy as sa
from flask import abort, flash, g, redirect, request, url_for
from flask_login import current_user, login_required

from lavish.extensions import db, htmx, login_manager
from lavish.models import User
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
        from flask import Response

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

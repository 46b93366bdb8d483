"""Lavish: sell and host websites for local businesses."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from flask import Flask, render_template

from lavish import (
    background,  # noqa: F401  (registers the after-commit job hook)
    transaction,
)
from lavish.config import PROJECT_ROOT, engine_options, from_environment
from lavish.extensions import csrf, db, login_manager, migrate


def create_app(config: dict[str, Any] | None = None) -> Flask:
    # One transaction per request: committed when the request has answered (transaction.py).
    app = transaction.LavishFlask(__name__, instance_path=str(PROJECT_ROOT / "instance"))
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    app.config.from_mapping(from_environment(Path(app.instance_path)))
    if config:
        app.config.from_mapping(config)
    if not app.debug and not app.testing:
        logging.basicConfig(level=logging.INFO)

    if hops := app.config.get("TRUSTED_PROXY_HOPS"):
        from werkzeug.middleware.proxy_fix import ProxyFix

        # Trust exactly that many proxies: a client can't spoof its address past them.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)  # type: ignore[method-assign]

    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = engine_options(app.config)
    db.init_app(app)
    transaction.init_app(app)
    from lavish import connections

    connections.init_app(app)
    migrate.init_app(app, db, directory=str(PROJECT_ROOT / "migrations"), render_as_batch=True)
    login_manager.init_app(app)
    login_manager.login_view = "accounts.login"
    login_manager.session_protection = "basic"
    csrf.init_app(app)
    # Not the bare names `mail`/`htmx`: importing the lavish.mail package or the lavish.htmx
    # module rebinds those names in this module (the package namespace).
    from lavish.extensions import htmx as htmx_extension
    from lavish.extensions import mail as mail_extension

    mail_extension.init_app(app)
    htmx_extension.init_app(app)

    from lavish import auth  # noqa: F401  (user loader, unauthorized handler)
    from lavish import htmx as htmx_helpers

    htmx_helpers.init_app(app)
    from lavish import ratelimit

    ratelimit.init_app(app)
    from lavish import security

    security.init_app(app)
    from lavish import inputs

    inputs.init_app(app)  # before the blueprints: their `<int:…>` rules take its converter
    _register_blueprints(app)
    _register_error_pages(app)
    _register_template_helpers(app)

    from lavish.cli import register_cli

    register_cli(app)
    return app


def _register_blueprints(app: Flask) -> None:
    from lavish.accounts import bp as accounts_bp
    from lavish.admin import bp as admin_bp
    from lavish.main import bp as main_bp

    app.register_blueprint(main_bp)
    app.register_blueprint(accounts_bp, url_prefix="/customer")
    app.register_blueprint(admin_bp, url_prefix="/admin")
    from lavish.billing import bp as billing_bp

    app.register_blueprint(billing_bp)
    from lavish.edits import admin_bp as edits_admin_bp
    from lavish.edits import bp as edits_bp

    app.register_blueprint(edits_bp)
    app.register_blueprint(edits_admin_bp, url_prefix="/admin/edit-requests")
    # Custom domains: before hosting, so a custom domain's Host is served before any route.
    from lavish.domains import bp as domains_bp

    app.register_blueprint(domains_bp)
    # The hosted-sites catch-all (/<slug>/…) is registered last, after every portal route.
    from lavish.hosting import bp as hosting_bp

    app.register_blueprint(hosting_bp)


def _register_error_pages(app: Flask) -> None:
    from flask_wtf.csrf import CSRFError
    from sqlalchemy.exc import DataError

    from lavish import health
    from lavish.htmx import is_fragment_request

    def render_error(
        status: int,
        title: str,
        message: str,
        *,
        in_place: str | None = None,
        headers: dict[str, str] | None = None,
    ):
        user = _user_for_error_page(status)
        # htmx swaps error answers into the element that asked (an inline check's message, a
        # panel): a line of text there, not a whole page inside the page.
        if is_fragment_request():
            return (
                render_template("errors/_message.html", title=title, message=in_place or message),
                status,
                headers or {},
            )
        return (
            render_template(
                "errors/error.html",
                status=status,
                title=title,
                message=message,
                current_user=user,
            ),
            status,
            headers or {},
        )

    @app.errorhandler(CSRFError)
    def csrf_error(error: CSRFError):
        return render_error(
            400,
            "Your form expired",
            "Please go back, reload the page and try again.",
            in_place="Please reload the page and try again.",
        )

    @app.errorhandler(400)
    def bad_request(error):
        return render_error(
            400, "Bad request", "We can't accept what was sent. Please check it and try again."
        )

    @app.errorhandler(DataError)
    def unstorable_value(error: DataError):
        # A value the database refuses (out of range, too long, a NUL byte) is bad input that
        # got past the checks: answer 400, and log it so the missing check gets written.
        db.session.rollback()
        app.logger.warning("refused by the database (400): %s", error.orig)
        return bad_request(error)

    @app.errorhandler(403)
    def forbidden(error):
        return render_error(403, "Not allowed", "You don't have access to this page.")

    @app.errorhandler(404)
    def not_found(error):
        return render_error(404, "Page not found", "There is nothing at this address.")

    @app.errorhandler(413)
    def too_large(error):
        return render_error(413, "Too large", "What you sent is larger than we accept.")

    @app.errorhandler(429)
    def too_many(error):
        return render_error(
            429, "Too many attempts", "Please wait a few minutes before trying again."
        )

    @app.errorhandler(500)
    def server_error(error):
        transaction.rollback_quietly()
        return render_error(
            500, "Something went wrong", "We have been told about it. Please try again in a moment."
        )

    @app.errorhandler(503)
    def unavailable(error):
        return render_error(
            503,
            "We'll be right back",
            "Lavish is briefly unavailable. Please try again in a minute.",
            headers={"Retry-After": "30"},
        )

    def database_unavailable(error: Exception):
        # The database is unreachable (or said "try again"): a friendly 503, not a 500.
        app.logger.error("database unavailable (503): %s", error)
        transaction.rollback_quietly()
        return unavailable(error)

    for exception in health.DATABASE_UNAVAILABLE:
        app.register_error_handler(exception, database_unavailable)


def _user_for_error_page(status: int):
    """Who the error page's header shows, without looking anyone up in a database that may
    be the cause: the user this request already loaded, else nobody (None: the header shows
    no account links) for 5xx, else a lookup that must not fail the error page."""
    from flask import g
    from flask_login import current_user

    from lavish import health
    from lavish.extensions import login_manager

    if "_login_user" in g:
        return g._login_user
    if status < 500:
        try:
            return current_user._get_current_object()
        except health.DATABASE_UNAVAILABLE:
            transaction.rollback_quietly()
    # Flask-Login's template context looks the user up unless this request already did:
    # from here on the request is anonymous.
    g._login_user = login_manager.anonymous_user()
    return None


def _register_template_helpers(app: Flask) -> None:
    from lavish.formatting import (
        decline_message,
        format_date,
        format_datetime,
        format_money,
        format_size,
        possessive,
    )

    app.jinja_env.filters["money"] = format_money
    app.jinja_env.filters["date"] = format_date
    app.jinja_env.filters["datetime"] = format_datetime
    app.jinja_env.filters["filesize"] = format_size
    app.jinja_env.filters["possessive"] = possessive
    app.jinja_env.filters["decline_message"] = decline_message
    from email.utils import parseaddr

    # Where owners can write to us (the address our mails come from).
    app.jinja_env.globals["support_email"] = parseaddr(app.config["MAIL_DEFAULT_SENDER"])[1]
    from lavish.accounts.onboarding import onboarding_steps

    app.jinja_env.globals["onboarding_steps"] = onboarding_steps

"""Serving hosted sites (the Flask fallback; Nginx serves the same files in production).

Registered last, so every portal route wins over /<slug>/…. When SITES_HOST is set, hosted paths
are served only on that host (other hosts redirect there) and the portal is not served on it
(it redirects to PUBLIC_URL).
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from flask import Response, abort, current_app, redirect, request
from flask.sessions import SecureCookieSessionInterface
from werkzeug.routing import BaseConverter

from lavish.hosting import bp
from lavish.hosting.serving import Hosting, serve_file
from lavish.hosting.slugs import RESERVED_SLUGS, SLUG_PATTERN


class _SessionInterface(SecureCookieSessionInterface):
    """Hosted files never use the session: no cookie and no `Vary: Cookie` (added because the
    portal's login extension looks at the session on every response), as with Nginx."""

    def save_session(self, app, session, response) -> None:
        # ("lavish.hosted": a site served on its custom domain, lavish/domains/host.py.)
        if request.blueprint == "hosting" or request.environ.get("lavish.hosted"):
            return None
        return super().save_session(app, session, response)


@bp.record_once
def _install_session_interface(state) -> None:
    if type(state.app.session_interface) is SecureCookieSessionInterface:
        state.app.session_interface = _SessionInterface()


def _hosting() -> Hosting:
    config = current_app.config
    cached = current_app.extensions.get("lavish_hosting")
    if cached is None or cached[0] != config["SITES_ROOT"]:
        from pathlib import Path

        live = str(Path(config["SITES_ROOT"]).resolve() / "live")
        cached = (config["SITES_ROOT"], Hosting(live=live))
        current_app.extensions["lavish_hosting"] = cached
    return cached[1]


def _sites_host() -> str | None:
    host = current_app.config.get("SITES_HOST")
    return host.lower() if host else None


def _on_other_host(sites_host: str) -> Response:
    scheme = urlsplit(current_app.config["PUBLIC_URL"]).scheme or "http"
    return redirect(f"{scheme}://{sites_host}{request.full_path.rstrip('?')}", code=301)


class SiteSlugConverter(BaseConverter):
    """A path segment that can be a site: the slug rule minus the portal's reserved words, so
    hosted routes never match a portal path (its 404s and 405s stay the portal's)."""

    regex = (
        "(?!(?:"
        + "|".join(re.escape(word) for word in sorted(RESERVED_SLUGS))
        + ")$)"
        + SLUG_PATTERN
    )
    part_isolating = True


@bp.record_once
def _register_converter(state) -> None:
    state.app.url_map.converters["site_slug"] = SiteSlugConverter


@bp.before_app_request
def keep_portal_off_the_sites_host():
    sites_host = _sites_host()
    if sites_host is None or request.host.lower() != sites_host:
        return None
    if request.blueprint == "hosting":
        return None
    portal = current_app.config["PUBLIC_URL"]
    if urlsplit(portal).netloc.lower() == sites_host:
        return None  # misconfiguration: never redirect to ourselves
    return redirect(f"{portal}{request.full_path.rstrip('?')}", code=301)


@bp.route("/<site_slug:slug>", methods=["GET", "HEAD"])
def site_root(slug: str):
    sites_host = _sites_host()
    if sites_host and request.host.lower() != sites_host:
        return _on_other_host(sites_host)
    query = request.query_string.decode("latin-1")
    return redirect(f"/{slug}/" + (f"?{query}" if query else ""), code=301)


@bp.route("/<site_slug:slug>/", defaults={"path": ""}, methods=["GET", "HEAD"])
@bp.route("/<site_slug:slug>/<path:path>", methods=["GET", "HEAD"])
def site_file(slug: str, path: str):
    sites_host = _sites_host()
    if sites_host and request.host.lower() != sites_host:
        return _on_other_host(sites_host)
    response = serve_file(request, _hosting(), slug, path)
    if response is None:
        abort(404)
    return response

"""Serving by Host: a custom domain serves its site's live files at /, its www/apex partner
redirects to it (308), a host that is neither ours nor a custom domain gets a plain 404; and
/<slug>/… of a site with an active domain redirects there (DOMAINS_REDIRECT_PATHS).

Also GET /tls/ask, which Caddy's on-demand TLS calls before getting a certificate.
"""

from __future__ import annotations

import ipaddress
import logging

from flask import Response, current_app, request
from sqlalchemy.exc import SQLAlchemyError

from lavish.domains import bp, services
from lavish.domains.names import for_lookup, own_hosts
from lavish.domains.publish import last_known_allowed, slug_domain
from lavish.extensions import db
from lavish.readonly import read_only

log = logging.getLogger(__name__)
# Top-level navigations; the portal's frames of a site (offer page, owner's home, edit
# review) send "iframe" and keep the path URL.
TOP_LEVEL_DESTS = {"", "document"}


def _ours() -> frozenset[str]:
    config = current_app.config
    key = (
        config.get("PUBLIC_URL"),
        config.get("SITES_HOST"),
        tuple(config.get("PORTAL_HOSTS") or ()),
    )
    cached = current_app.extensions.get("lavish_own_hosts")
    if cached is None or cached[0] != key:
        cached = (key, frozenset(own_hosts(config)) | {"localhost"})
        current_app.extensions["lavish_own_hosts"] = cached
    return cached[1]


def is_own_host(host: str) -> bool:
    if host in _ours() or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _plain_not_found() -> Response:
    from flask import render_template

    response = Response(
        render_template("hosting/not_found.html", noindex=True), 404,
        content_type="text/html; charset=utf-8",
    )  # fmt: skip
    response.headers["Cache-Control"] = "no-cache"
    return response


def _host_name() -> str:
    raw = request.host.lower()
    if raw.startswith("["):
        return raw.split("]", 1)[0] + "]"
    return raw.rsplit(":", 1)[0].rstrip(".") if ":" in raw else raw.rstrip(".")


@bp.before_app_request
def serve_custom_domains():
    host = _host_name()
    if is_own_host(host):
        return _redirect_path_to_domain()
    request.environ["lavish.hosted"] = True  # never a session cookie or portal headers here
    name = for_lookup(host)
    found = services.served_host(name) if name else None
    if found is None:
        return _plain_not_found()
    slug, canonical, is_partner = found
    if is_partner:
        scheme = request.scheme
        return Response(
            status=308,
            headers={"Location": f"{scheme}://{canonical}{request.full_path.rstrip('?')}"},
        )
    if request.method not in ("GET", "HEAD"):
        return Response("Method Not Allowed\n", 405, {"Allow": "GET, HEAD"})
    from lavish.hosting.routes import _hosting
    from lavish.hosting.serving import serve_file

    path = request.path.lstrip("/")
    response = serve_file(request, _hosting(), slug, path)
    if response is None:
        return _plain_not_found()
    location = response.headers.get("Location")
    if location and location.startswith(f"/{slug}/"):
        response.headers["Location"] = location[len(slug) + 1 :]
    return response


def _redirect_path_to_domain():
    if request.blueprint != "hosting" or not current_app.config.get("DOMAINS_REDIRECT_PATHS"):
        return None
    slug = (request.view_args or {}).get("slug")
    if not slug or request.headers.get("Sec-Fetch-Dest", "") not in TOP_LEVEL_DESTS:
        return None
    domain = slug_domain(slug)  # from the published map: no database work per hosted file
    if domain is None:
        return None
    path = request.path[len(slug) + 1 :] or "/"
    query = request.query_string.decode("latin-1")
    location = f"https://{domain}{path}" + (f"?{query}" if query else "")
    return Response(status=301, headers={"Location": location})


def _client_allowed() -> bool:
    allowed = current_app.config.get("TLS_ASK_ALLOW") or []
    address = request.remote_addr or ""
    if address in allowed:
        return True
    try:
        client = ipaddress.ip_address(address)
    except ValueError:
        return False
    for entry in allowed:
        try:
            if client in ipaddress.ip_network(entry, strict=False):
                return True
        except ValueError:
            continue
    return False


@read_only  # one round trip to PostgreSQL instead of three (BEGIN, the query, COMMIT)
def _approved(name: str) -> bool:
    return services.approved(name)


@bp.get("/tls/ask")
def tls_ask():
    """200 when `domain` may get a certificate (a verified or active custom domain, or its
    partner), else 404. One indexed query; when the database is down, the last-known list."""
    if not _client_allowed():
        return Response("forbidden\n", 403, content_type="text/plain")
    name = for_lookup(request.args.get("domain"))
    if name is None or ":" in name:
        return Response("no\n", 404, content_type="text/plain")
    try:
        ok = _approved(name)
    except SQLAlchemyError:  # also when read_only cannot even get a connection
        db.session.rollback()
        log.warning("tls/ask: database unavailable, answering from the last-known list")
        ok = last_known_allowed(name)
    return Response("ok\n" if ok else "no\n", 200 if ok else 404, content_type="text/plain")

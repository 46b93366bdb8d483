"""URL helpers."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit


def safe_next(target: str | None) -> str | None:
    """Only same-site absolute paths: refuses //evil.example, https:evil, backslash tricks."""
    if not target or not target.startswith("/") or target.startswith("//"):
        return None
    if "\\" in target or any(ord(c) < 32 for c in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    return target


def public_url(path: str) -> str:
    """`path` on PUBLIC_URL: links in mails and provider return URLs (no request needed)."""
    from flask import current_app

    return current_app.config["PUBLIC_URL"] + path


def sites_origin(public_url: str, sites_host: str | None) -> str | None:
    """The origin hosted sites are served from (the portal's scheme on SITES_HOST), when it is
    not the portal's own."""
    if not sites_host:
        return None
    scheme = urlsplit(public_url).scheme or "https"
    return f"{scheme}://{sites_host.lower()}"


def site_url(slug: str) -> str:
    """Where visitors see a hosted site: on SITES_HOST when there is one, else on the portal.
    The one place a site's address is built (pages, mails, the CLI)."""
    from flask import current_app

    config = current_app.config
    if origin := sites_origin(config["PUBLIC_URL"], config.get("SITES_HOST")):
        return f"{origin}/{slug}/"
    return public_url(f"/{slug}/")


def public_url_for(endpoint: str, **values: Any) -> str:
    """Absolute URL of a route on PUBLIC_URL; works in a worker (no request, no SERVER_NAME)."""
    from flask import current_app

    adapter = current_app.url_map.bind("localhost", url_scheme="http")
    return public_url(adapter.build(endpoint, values))

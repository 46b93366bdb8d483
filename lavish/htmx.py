"""Small helpers around flask-htmx: page or fragment, client-side redirects, caching."""

from __future__ import annotations

from flask import Flask, Response, redirect, request

from lavish.extensions import htmx


def is_fragment_request() -> bool:
    """An htmx request that wants a piece of a page (not a boosted navigation or a history
    restore, which want the whole page)."""
    return bool(htmx) and not htmx.boosted and not htmx.history_restore_request


def see_other(location: str) -> Response:
    """303 after a POST; for htmx fragment requests, tell htmx to navigate instead."""
    if is_fragment_request():
        response = Response(status=204)
        response.headers["HX-Redirect"] = location
        return response
    return redirect(location, code=303)


def init_app(app: Flask) -> None:
    @app.after_request
    def _vary_on_htmx(response: Response) -> Response:
        # The same URL answers with a page or a fragment: caches must keep them apart.
        # Hosted sites are static files, the same bytes as Nginx sends: no Vary.
        # ("lavish.hosted": a site served on its custom domain, lavish/domains/host.py.)
        if request.blueprint != "hosting" and not request.environ.get("lavish.hosted"):
            response.vary.add("HX-Request")
        return response

"""Custom domains: owner pages, DNS checks, serving by Host, /tls/ask, staff pages."""

from flask import Blueprint

bp = Blueprint("domains", __name__)

from lavish.domains import admin_routes, host, routes  # noqa: E402,F401

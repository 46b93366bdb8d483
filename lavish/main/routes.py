from flask import render_template

from lavish import health
from lavish.main import bp


@bp.get("/")
def index():
    return render_template("main/index.html")


@bp.get("/healthz")
def healthz():
    """200 when the database (and Redis, when configured) answer; 503 naming what is down."""
    healthy, checks = health.status()
    return {"ok": healthy, **checks}, 200 if healthy else 503, {"Cache-Control": "no-store"}

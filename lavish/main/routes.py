from flask import current_app, render_template, send_from_directory

from lavish import health
from lavish.main import bp


@bp.get("/")
def index():
    return render_template("main/index.html")


@bp.get("/favicon.ico")
def favicon():
    """Browsers ask for /favicon.ico whatever the page links; pages link favicon.svg too."""
    return send_from_directory(current_app.static_folder or "static", "favicon.ico", max_age=86400)


@bp.get("/healthz")
def healthz():
    """200 when the database (and Redis, when configured) answer; 503 naming what is down."""
    healthy, checks = health.status()
    return {"ok": healthy, **checks}, 200 if healthy else 503, {"Cache-Control": "no-store"}

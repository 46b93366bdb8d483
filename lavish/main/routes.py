from flask import current_app, render_template, send_from_directory

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
    return {"ok": True}

from flask import render_template

from lavish.main import bp


@bp.get("/")
def index():
    return render_template("main/index.html")


@bp.get("/healthz")
def healthz():
    return {"ok": True}

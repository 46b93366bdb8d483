from flask import render_template

from lavish.admin import bp
from lavish.auth import admin_required


@bp.get("/")
@admin_required
def dashboard():
    return render_template("admin/dashboard.html")

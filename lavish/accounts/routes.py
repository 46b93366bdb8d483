import sqlalchemy as sa
from flask import flash, render_template, request, url_for
from flask_login import current_user, login_required, login_user, logout_user

from lavish.accounts import bp
from lavish.accounts.forms import LoginForm
from lavish.accounts.passwords import verify_password
from lavish.extensions import db
from lavish.htmx import see_other
from lavish.models import User, normalize_email
from lavish.urls import safe_next


@bp.route("/login", methods=["GET", "POST"])
def login():
    form = LoginForm()
    if form.validate_on_submit():
        user = db.session.scalar(
            sa.select(User).where(User.email == normalize_email(form.email.data))
        )
        if user is not None and verify_password(user.password_hash, form.password.data):
            login_user(user, remember=form.remember.data)
            flash("Welcome back.", "success")
            default = url_for("admin.dashboard" if user.is_admin else "accounts.my_site")
            return see_other(safe_next(request.args.get("next")) or default)
        form.password.errors.append("Wrong email or password.")
    status = 422 if form.errors else 200
    return render_template("accounts/login.html", form=form), status


@bp.post("/logout")
@login_required
def logout():
    logout_user()
    flash("You are signed out.", "info")
    return see_other(url_for("main.index"))


@bp.get("/my-site")
@login_required
def my_site():
    return render_template("accounts/my_site.html", user=current_user)

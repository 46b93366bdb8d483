"""Customer account pages (CONTRACT §4). Each view: load → authorize → form → service → 303 with
a flash, or the page again with per-field messages and status 422. The request's one commit
happens when it has answered (lavish/transaction.py)."""

from __future__ import annotations

from flask import current_app, flash, render_template, request, session, url_for
from flask_login import current_user, login_required, login_user, logout_user
from jinja2 import TemplateNotFound
from markupsafe import escape
from werkzeug.exceptions import NotFound

from lavish import auth, ratelimit
from lavish.accounts import bp, services
from lavish.accounts.forms import (
    INLINE_FIELDS,
    ChangePasswordForm,
    EmailOnlyForm,
    LoginForm,
    NewPasswordForm,
    ProfileForm,
    RegisterForm,
)
from lavish.accounts.tokens import TokenError, TokenPurpose, read_token
from lavish.auth import login_required_loading
from lavish.extensions import db
from lavish.htmx import see_other
from lavish.models import User, normalize_email
from lavish.readonly import read_only
from lavish.urls import safe_next

HOUR = 60 * 60
# Login: guesses at one account from one client stop at 10 per 15 minutes, so the owner on
# their own connection still gets in; guesses from many clients at one account stop at the
# address-wide limit, which a browser the owner signed in from before does not count against
# (it has a limit of its own: auth.known_device).
LOGIN_PER_ADDRESS_AND_CLIENT = ratelimit.Limit("login-email-ip", 10, 15 * 60)
LOGIN_PER_ADDRESS = ratelimit.Limit("login-email", 100, HOUR)
LOGIN_PER_DEVICE = ratelimit.Limit("login-device", 10, 15 * 60)
LOGIN_PER_IP = ratelimit.Limit("login-ip", 50, 15 * 60)
FORGOT_PER_ADDRESS = ratelimit.Limit("forgot-email", 5, HOUR)
FORGOT_PER_IP = ratelimit.Limit("forgot-ip", 20, HOUR)
RESEND_PER_ADDRESS = ratelimit.Limit("resend-email", 5, HOUR)
RESEND_PER_IP = ratelimit.Limit("resend-ip", 20, HOUR)
REGISTER_PER_IP = ratelimit.Limit("register-ip", 20, HOUR)
# Each registration of a taken address mails its owner: no more than this many a day.
REGISTER_PER_ADDRESS = ratelimit.Limit("register-email", 3, 24 * HOUR)
CHANGE_PASSWORD_PER_USER = ratelimit.Limit("change-password-user", 10, 15 * 60)
INLINE_CHECKS_PER_IP = ratelimit.Limit("inline-check-ip", 300, 5 * 60)


def _form_page(template: str, **context):
    """A form page: 200 on GET, 422 when a submitted form has errors."""
    form = context.get("form")
    status = 422 if form is not None and form.errors else 200
    return render_template(template, **context), status


def _home_for(user: User) -> str:
    return url_for("admin.dashboard" if user.is_admin else "accounts.my_site")


def _mailed_back_to_login(message: str):
    """After a form that sent (or may have sent) a mail: say so on the sign-in page."""
    flash(message, "success")
    return see_other(url_for("accounts.login"))


def _start_session(user: User, *, remember: bool) -> None:
    # A fresh session at sign-in: nothing from before (a planted cookie, an old CSRF token)
    # survives. Other devices stay signed in: only logout and password changes end them.
    session.clear()
    login_user(user, remember=remember)
    auth.remember_device(user)


def _limit_login_attempts(email: str) -> None:
    """Count this attempt against the login limits; 429 when one is used up."""
    ratelimit.enforce(LOGIN_PER_IP, request.remote_addr)
    if device := auth.known_device(email):
        ratelimit.enforce(LOGIN_PER_DEVICE, device)
        return
    address = normalize_email(email)
    ratelimit.enforce(LOGIN_PER_ADDRESS_AND_CLIENT, f"{address}|{request.remote_addr}")
    ratelimit.enforce(LOGIN_PER_ADDRESS, address)


# ---- register, verify ---------------------------------------------------------------------


@bp.route("/register", methods=["GET", "POST"])
def register():
    if current_user.is_authenticated:
        return see_other(_home_for(current_user))
    form = RegisterForm()
    if request.method == "POST":
        ratelimit.enforce(REGISTER_PER_IP, request.remote_addr)  # every attempt, valid or not
    if form.validate_on_submit():
        ratelimit.enforce(REGISTER_PER_ADDRESS, form.email.data)
        try:
            services.register_customer(
                name=form.name.data, email=form.email.data, password=form.password.data
            )
        except services.EmailTaken:  # registered a moment ago by a request racing this one
            db.session.rollback()
            services.tell_owner_of_registration_attempt(form.email.data)
        # The same answer whether the address was new or had an account (then its owner got
        # a mail saying so): registering tells nobody who has an account.
        return _mailed_back_to_login(
            f"Thank you! We sent a mail to {normalize_email(form.email.data)} with the next "
            "step: open the link in it to confirm your address, then sign in."
        )
    return _form_page("accounts/register.html", form=form)


@bp.get("/verify-email/<token>")
def verify_email(token: str):
    signed_in = current_user._get_current_object() if current_user.is_authenticated else None
    try:
        user, newly_verified = services.verify_email(token, signed_in=signed_in)
    except TokenError as error:  # (a 400: the request's transaction is rolled back)
        return render_template("accounts/link_problem.html", message=str(error), kind="verify"), 400
    except services.SignInToVerify:
        if signed_in is not None:  # signed in to another account
            message = (
                "This link confirms the address of another account. Sign out, then open it "
                "again and sign in with that account."
            )
            return render_template("accounts/link_problem.html", message=message), 400
        flash("Sign in to confirm your email address.", "info")
        return see_other(url_for("accounts.login", next=request.path))
    if newly_verified:
        flash("Thank you: your email address is confirmed.", "success")
    else:
        flash("Your email address was already confirmed.", "info")
    if signed_in is not None:
        return see_other(_home_for(signed_in))
    return see_other(url_for("accounts.login"))


@bp.post("/resend-verification")
def resend_verification():
    """Signed in: resend to the account's address. Signed out: to the `email` given, with the
    same answer whether or not it has an account."""
    ratelimit.enforce(RESEND_PER_IP, request.remote_addr)
    if current_user.is_authenticated:
        ratelimit.enforce(RESEND_PER_ADDRESS, current_user.email)
        if services.send_verification(current_user):
            flash(f"We sent a new confirmation link to {current_user.email}.", "success")
        else:
            flash("Your email address is already confirmed.", "info")
        return see_other(url_for("accounts.my_site"))
    form = EmailOnlyForm()
    if not form.validate_on_submit():
        return _form_page("accounts/resend.html", form=form)
    ratelimit.enforce(RESEND_PER_ADDRESS, form.email.data)
    services.resend_verification_to(form.email.data)
    return _mailed_back_to_login(
        "If an account with an unconfirmed address exists for "
        f"{form.email.data}, we sent it a new confirmation link."
    )


@bp.get("/resend-verification")
def resend_verification_page():
    return render_template("accounts/resend.html", form=EmailOnlyForm())


# ---- login, logout ----------------------------------------------------------------------------


@bp.route("/login", methods=["GET", "POST"])
def login():
    next_path = safe_next(request.values.get("next"))
    if current_user.is_authenticated and request.method == "GET":
        return see_other(next_path or _home_for(current_user))
    form = LoginForm()
    if form.validate_on_submit():
        _limit_login_attempts(form.email.data)
        user = services.authenticate(form.email.data, form.password.data)
        if user is not None:
            _start_session(user, remember=form.remember.data)
            flash(f"Welcome back, {user.name or user.email}.", "success")
            return see_other(next_path or _home_for(user))
        form.password.errors = ["Wrong email or password."]
    return _form_page("accounts/login.html", form=form, next_path=next_path)


@bp.post("/logout")
def logout():
    # Not @login_required: signing out twice (two tabs) is not an error.
    if current_user.is_authenticated:
        services.end_other_sessions(current_user)  # every remember-me cookie stops working
    session.clear()
    logout_user()  # after clear(): it leaves the note that deletes the remember-me cookie
    flash("You are signed out.", "info")
    return see_other(url_for("accounts.login"))


# ---- forgot, reset, set password ------------------------------------------------------------


@bp.route("/forgot-password", methods=["GET", "POST"])
def forgot_password():
    form = EmailOnlyForm()
    if form.validate_on_submit():
        ratelimit.enforce(FORGOT_PER_IP, request.remote_addr)
        ratelimit.enforce(FORGOT_PER_ADDRESS, form.email.data)
        services.request_password_reset(form.email.data)
        return _mailed_back_to_login(
            f"If an account exists for {form.email.data}, we sent it a link to choose a new "
            "password. The link works for one hour."
        )
    return _form_page("accounts/forgot_password.html", form=form)


def _link_problem(error: TokenError):
    return render_template("accounts/link_problem.html", message=str(error), kind="password"), 400


@bp.route("/reset-password/<token>", methods=["GET", "POST"])
def reset_password(token: str):
    try:
        user = read_token(token, TokenPurpose.RESET_PASSWORD)
    except TokenError as error:
        return _link_problem(error)
    form = NewPasswordForm(account_email=user.email)
    if form.validate_on_submit():
        services.reset_password(user, form.password.data)
        _start_session(user, remember=False)
        flash("Your new password is saved and you are signed in.", "success")
        return see_other(_home_for(user))
    return _form_page(
        "accounts/new_password.html",
        form=form,
        title="Choose a new password",
        intro=f"For {user.email}.",
        button="Save the new password",
        purpose=TokenPurpose.RESET_PASSWORD.value,
    )


@bp.route("/set-password/<token>", methods=["GET", "POST"])
def set_password(token: str):
    try:
        user = services.check_set_password_token(token)
    except TokenError as error:
        return _link_problem(error)
    form = NewPasswordForm(account_email=user.email)
    if form.validate_on_submit():
        services.set_first_password(user, form.password.data)
        _start_session(user, remember=False)
        flash("Your password is set. Welcome to your account.", "success")
        return see_other(_home_for(user))
    return _form_page(
        "accounts/new_password.html",
        form=form,
        title="Choose your password",
        intro=f"Your account for {user.email} is ready: choose a password to sign in with.",
        button="Set my password",
        purpose=TokenPurpose.SET_PASSWORD.value,
    )


@bp.route("/change-password", methods=["GET", "POST"])
@login_required
def change_password():
    form = ChangePasswordForm(account_email=current_user.email)
    if form.validate_on_submit():
        ratelimit.enforce(CHANGE_PASSWORD_PER_USER, str(current_user.id))
        try:
            services.change_password(
                current_user,
                current_password=form.current_password.data,
                new_password=form.new_password.data,
            )
        except services.WrongPassword:
            form.current_password.errors = ["That is not your current password."]
        else:
            # The session token changed: this device signs in again with the new one; the
            # others (and their remember-me cookies) are signed out.
            remembered = current_app.config.get("REMEMBER_COOKIE_NAME", "remember_token")
            _start_session(
                current_user._get_current_object(), remember=remembered in request.cookies
            )
            flash("Your password is changed. Other devices have been signed out.", "success")
            return see_other(url_for("accounts.profile"))
    return _form_page("accounts/change_password.html", form=form)


# ---- profile, dashboard -----------------------------------------------------------------------


@bp.route("/profile", methods=["GET", "POST"])
@login_required
def profile():
    form = ProfileForm(obj=current_user)
    if form.validate_on_submit():
        services.update_profile(current_user, name=form.name.data, phone=form.phone.data or "")
        flash("Your profile is saved.", "success")
        return see_other(url_for("accounts.profile"))
    return _form_page("accounts/profile.html", form=form)


# Parts other features add to each site card, when they provide the template (wrapper class →
# template). Looked up once per process: a missing include costs a file-system search each time.
SITE_CARD_PARTS = {
    "site-subscription": "billing/_site_subscription.html",
    "site-domains": "domains/_site_domains.html",
    "site-edit-requests": "edit_requests/_site_requests.html",
}


def _site_card_parts() -> list[tuple[str, str]]:
    cached = current_app.extensions.get("lavish_site_card_parts")
    if cached is None or current_app.debug:
        cached = [
            (css_class, template)
            for css_class, template in SITE_CARD_PARTS.items()
            if _template_exists(template)
        ]
        current_app.extensions["lavish_site_card_parts"] = cached
    return cached


def _template_exists(name: str) -> bool:
    try:
        current_app.jinja_env.get_template(name)
    except TemplateNotFound:
        return False
    return True


@bp.get("/my-site")
@read_only  # the portal's busiest page: its one query needs no transaction
@login_required_loading(services.USER_WITH_SITES)
def my_site():
    return render_template(
        "accounts/my_site.html",
        sites=current_user.sites,
        live_url=services.live_url,
        site_card_parts=_site_card_parts(),
    )


@bp.get("/site/versions")
@read_only
@login_required
def site_versions():
    return render_template(
        "accounts/versions.html",
        history=services.site_versions(current_user),
        live_url=services.live_url,
    )


# ---- inline validation (htmx) ----------------------------------------------------------------


@bp.post("/validate/<form_name>/<field_name>")
def validate_field(form_name: str, field_name: str):
    """The message the form would give for one field, as plain text ("" when fine).

    htmx posts the enclosing form as the person types and swaps the answer into the field's
    `.error` element. POST, so passwords never land in a URL or an access log."""
    form_class, fields = INLINE_FIELDS.get(form_name, (None, frozenset()))
    if form_class is None or field_name not in fields:
        raise NotFound()
    if not ratelimit.hit(INLINE_CHECKS_PER_IP, request.remote_addr).allowed:
        # 204: htmx leaves the field as it is; the check still happens on submit.
        return "", 204
    kwargs = {}
    if form_name in {"new-password", "change-password"}:
        kwargs["account_email"] = _inline_account_email()
    form = form_class(meta={"csrf": False}, **kwargs)
    field = form[field_name]
    field.validate(form)
    message = field.errors[0] if field.errors else ""
    # Our own fixed messages, escaped all the same: htmx swaps the answer in as HTML.
    return str(escape(message)), 200, {"Content-Type": "text/html; charset=utf-8"}


def _inline_account_email() -> str | None:
    """Whose password is being chosen: the signed-in person, or the account of the link the
    reset/set-password page carries (sent along as `token` and `purpose`)."""
    if current_user.is_authenticated:
        return current_user.email
    purpose = request.form.get("purpose")
    if purpose not in {TokenPurpose.RESET_PASSWORD, TokenPurpose.SET_PASSWORD}:
        return None
    try:
        return read_token(request.form.get("token", ""), TokenPurpose(purpose)).email
    except TokenError:
        return None

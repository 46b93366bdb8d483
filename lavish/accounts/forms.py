"""Account forms. Field names are part of the contract (CONTRACT §4).

Every rule is a function from lavish.accounts.validation, wrapped by `Check`, so the inline htmx
checks (routes.validate_field) and a full submit give the same message.
"""

from __future__ import annotations

from collections.abc import Callable

from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, Field, PasswordField, StringField, TelField
from wtforms.validators import StopValidation

from lavish.accounts import validation as rules


def _strip(value: str | None) -> str | None:
    return value.strip() if isinstance(value, str) else value


class Check:
    """A WTForms validator from a rule `check(form, value) -> message | None`; first one wins."""

    def __init__(self, check: Callable[[FlaskForm, str | None], str | None]) -> None:
        self.check = check

    def __call__(self, form: FlaskForm, field: Field) -> None:
        if message := self.check(form, field.data):
            raise StopValidation(message)


def _required(message: str, max_length: int) -> Check:
    def check(form: FlaskForm, value: str | None) -> str | None:
        if not value:
            return message
        if len(value) > max_length:
            return f"Use at most {max_length} characters."
        return None

    return Check(check)


class RegisterForm(FlaskForm):
    name = StringField(
        "Your name", filters=[_strip], validators=[Check(lambda f, v: rules.name_problem(v))]
    )
    # Whether the address has an account is never said here (nor inline): the owner gets a
    # mail instead (services.register_customer).
    email = EmailField(
        "Email", filters=[_strip], validators=[Check(lambda f, v: rules.email_problem(v))]
    )
    password = PasswordField(
        "Password",
        description=rules.PASSWORD_HINT,
        validators=[Check(lambda f, v: rules.password_problem(v, email=f.email.data))],
    )
    password_confirm = PasswordField(
        "Repeat the password",
        validators=[Check(lambda f, v: rules.confirm_problem(f.password.data, v))],
    )


class LoginForm(FlaskForm):
    email = EmailField(
        "Email",
        filters=[_strip],
        validators=[Check(lambda f, v: rules.email_problem(v, strict=False))],
    )
    password = PasswordField(
        "Password",
        validators=[_required("Enter your password.", rules.MAX_PASSWORD_LENGTH)],
    )
    remember = BooleanField("Keep me signed in on this device")


class EmailOnlyForm(FlaskForm):
    """Forgot password: just an address."""

    email = EmailField(
        "Email",
        filters=[_strip],
        validators=[Check(lambda f, v: rules.email_problem(v, strict=False))],
    )


class NewPasswordForm(FlaskForm):
    """Reset password and set password (the first password of a purchase-created account)."""

    password = PasswordField(
        "New password",
        description=rules.PASSWORD_HINT,
        validators=[Check(lambda f, v: rules.password_problem(v, email=f.account_email))],
    )
    password_confirm = PasswordField(
        "Repeat the new password",
        validators=[Check(lambda f, v: rules.confirm_problem(f.password.data, v))],
    )

    def __init__(self, *args, account_email: str | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.account_email = account_email


class ChangePasswordForm(FlaskForm):
    current_password = PasswordField(
        "Current password",
        validators=[_required("Enter your current password.", rules.MAX_PASSWORD_LENGTH)],
    )
    new_password = PasswordField(
        "New password",
        description=rules.PASSWORD_HINT,
        validators=[Check(lambda f, v: rules.password_problem(v, email=f.account_email))],
    )
    new_password_confirm = PasswordField(
        "Repeat the new password",
        validators=[Check(lambda f, v: rules.confirm_problem(f.new_password.data, v))],
    )

    def __init__(self, *args, account_email: str | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.account_email = account_email


class ProfileForm(FlaskForm):
    name = StringField(
        "Your name", filters=[_strip], validators=[Check(lambda f, v: rules.name_problem(v))]
    )
    phone = TelField(
        "Phone", filters=[_strip], validators=[Check(lambda f, v: rules.phone_problem(v))]
    )


# Inline validation (htmx) may check these fields, and only these: never the current password
# (that would be a password oracle) nor login (that would reveal accounts without a rate limit).
INLINE_FIELDS: dict[str, tuple[type[FlaskForm], frozenset[str]]] = {
    "register": (RegisterForm, frozenset({"name", "email", "password", "password_confirm"})),
    "new-password": (NewPasswordForm, frozenset({"password", "password_confirm"})),
    "change-password": (ChangePasswordForm, frozenset({"new_password", "new_password_confirm"})),
    "profile": (ProfileForm, frozenset({"name", "phone"})),
}

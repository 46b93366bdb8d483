"""The rules for emails, names and passwords, in one place.

The forms (on submit) and the inline htmx checks (as the person types) both call these, so a
person sees exactly the same message either way. Each function returns the message to show, or
None when the value is fine.

Common passwords: ``data/common-passwords.txt`` is the first 10,000 lines (most common first) of
the list Django ships as ``django/contrib/auth/common-passwords.txt.gz`` (BSD licence; compiled by
Royce Williams from leaked-password corpora). It was taken from the Django wheel on PyPI with::

    pip download --no-deps django && unzip -p django-*.whl \\
        django/contrib/auth/common-passwords.txt.gz | gunzip | head -10000

Most entries are shorter than the minimum length and are refused by that rule already; the list
still catches long favourites such as "1234567890" or "qwertyuiop" and their capitalised forms.
"""

from __future__ import annotations

import functools
import unicodedata
from pathlib import Path

from email_validator import EmailNotValidError, validate_email

MIN_PASSWORD_LENGTH = 10
# Argon2 hashes anything, but a megabyte "password" would be a cheap way to burn our CPU.
MAX_PASSWORD_LENGTH = 128
MAX_EMAIL_LENGTH = 254
MAX_NAME_LENGTH = 120
MAX_PHONE_LENGTH = 40

PASSWORD_HINT = (
    f"At least {MIN_PASSWORD_LENGTH} characters (at most {MAX_PASSWORD_LENGTH}). "
    "Avoid common passwords and your email address."
)

_COMMON_PASSWORDS_FILE = Path(__file__).parent / "data" / "common-passwords.txt"


@functools.cache
def common_passwords() -> frozenset[str]:
    with _COMMON_PASSWORDS_FILE.open(encoding="utf-8") as lines:
        return frozenset(line.strip().lower() for line in lines if line.strip())


def email_problem(email: str | None, *, strict: bool = True) -> str | None:
    """Is this a well-formed address? (Not whether it is taken.)

    strict (new addresses): the full syntax rules, and no special-use domains such as .local.
    Not strict (signing in, asking for a link): only the shape, so an account created another
    way (`users create-admin --email boss@intranet.local`) can still sign in."""
    email = (email or "").strip()
    if not email:
        return "Enter your email address."
    if len(email) > MAX_EMAIL_LENGTH:
        return f"An email address has at most {MAX_EMAIL_LENGTH} characters."
    invalid = "Enter a valid email address, like name@example.com."
    if not strict:
        local, at, domain = email.rpartition("@")
        if not at or not local or not domain or any(c.isspace() for c in email):
            return invalid
        return None
    try:
        validate_email(email, check_deliverability=False)
    except EmailNotValidError:
        return invalid
    return None


def password_problem(password: str | None, *, email: str | None = None) -> str | None:
    """Is this a password we accept for a new or changed password?"""
    password = password or ""
    if not password:
        return "Choose a password."
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"Use at least {MIN_PASSWORD_LENGTH} characters."
    if len(password) > MAX_PASSWORD_LENGTH:
        return f"Use at most {MAX_PASSWORD_LENGTH} characters."
    folded = unicodedata.normalize("NFKC", password).strip().lower()
    if folded in common_passwords() or len(set(folded)) < 3:
        return "This password is too common. Choose one that is harder to guess."
    if email and folded in {email.strip().lower(), email.strip().lower().partition("@")[0]}:
        return "Don't use your email address as your password."
    return None


def confirm_problem(password: str | None, confirmation: str | None) -> str | None:
    if not confirmation:
        return "Type the password again."
    if password != confirmation:
        return "The two passwords don't match."
    return None


def name_problem(name: str | None, *, required: bool = True) -> str | None:
    name = (name or "").strip()
    if required and not name:
        return "Enter your name."
    if len(name) > MAX_NAME_LENGTH:
        return f"Use at most {MAX_NAME_LENGTH} characters."
    if any(unicodedata.category(c) in {"Cc", "Cf"} for c in name):
        return "Remove the control characters from your name."
    return None


def phone_problem(phone: str | None) -> str | None:
    phone = (phone or "").strip()
    if not phone:
        return None  # optional
    if len(phone) > MAX_PHONE_LENGTH:
        return f"Use at most {MAX_PHONE_LENGTH} characters."
    allowed = set("0123456789+-() .")
    if not set(phone) <= allowed or sum(c.isdigit() for c in phone) < 6:
        return "Enter a phone number with digits, like +1 555 123 4567."
    return None

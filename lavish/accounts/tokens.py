"""Signed, expiring, single-use tokens for email verification, password reset and set-password.

A token carries the user id and a fingerprint of the account's current secret state (password
hash and session token). Using a reset link changes the password, which changes the fingerprint,
so the link stops working; so does any other password change or a sign-out-everywhere.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta
from enum import StrEnum

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from lavish.extensions import db
from lavish.models import User


class TokenPurpose(StrEnum):
    VERIFY_EMAIL = "verify-email"
    RESET_PASSWORD = "reset-password"
    SET_PASSWORD = "set-password"


MAX_AGE = {
    TokenPurpose.VERIFY_EMAIL: timedelta(days=7),
    TokenPurpose.RESET_PASSWORD: timedelta(hours=1),
    TokenPurpose.SET_PASSWORD: timedelta(days=30),
}


class TokenError(Exception):
    """The link is invalid, expired or already used; `str()` is a message for the person."""


def _serializer(purpose: TokenPurpose) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=f"lavish.{purpose}")


def _fingerprint(user: User, purpose: TokenPurpose) -> str:
    if purpose is TokenPurpose.VERIFY_EMAIL:
        state = f"{user.email}|{user.email_verified_at is not None}"
    else:
        state = f"{user.password_hash or ''}|{user.session_token}"
    return hashlib.sha256(state.encode()).hexdigest()[:16]


def make_token(user: User, purpose: TokenPurpose) -> str:
    return _serializer(purpose).dumps({"u": user.id, "f": _fingerprint(user, purpose)})


def read_token(token: str, purpose: TokenPurpose) -> User:
    """The user the token is for, or TokenError with a message fit to show."""
    try:
        data = _serializer(purpose).loads(token, max_age=int(MAX_AGE[purpose].total_seconds()))
    except SignatureExpired as exc:
        raise TokenError("This link has expired. Please ask for a new one.") from exc
    except BadSignature as exc:
        raise TokenError("This link is not valid. Please check it or ask for a new one.") from exc
    user = db.session.get(User, data.get("u")) if isinstance(data, dict) else None
    if user is None or data.get("f") != _fingerprint(user, purpose):
        raise TokenError("This link has already been used. Please ask for a new one.")
    return user

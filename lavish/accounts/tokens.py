"""Signed, expiring, single-use tokens for email verification, password reset and set-password.

A token carries the user id and a fingerprint of the account state the link is meant to change:
- verify-email: the address and whether it is verified. Verifying (or changing the address)
  changes the fingerprint, so the link works once and only for the address it was sent to.
- reset-password / set-password: the password hash (Argon2 salts every hash, so every password
  change gives a new one). Using the link changes the password, so it stops working, and so does
  any other password change made meanwhile. The session token is deliberately left out: signing
  out (which rotates it) should not break a reset link the person is about to click.

The fingerprint is an HMAC keyed with SECRET_KEY (the token payload is signed, not encrypted, so it
must not reveal anything about the hash). The salt of each purpose differs, so a verify token is
never accepted as a reset token.
"""

from __future__ import annotations

import hashlib
import hmac
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
# Real tokens are ~100 characters; anything much longer is garbage and is refused unparsed.
MAX_TOKEN_LENGTH = 512

EXPIRED = "This link has expired. Please ask for a new one."
INVALID = "This link is not valid. Please check it or ask for a new one."
USED = "This link has already been used. Please ask for a new one."


class TokenError(Exception):
    """The link is invalid, expired or already used; `str()` is a message for the person."""


class TokenUsed(TokenError):
    """A genuine, unexpired link whose account has changed since (already used)."""

    def __init__(self, message: str, user: User) -> None:
        super().__init__(message)
        self.user = user


def _serializer(purpose: TokenPurpose) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=f"lavish.{purpose}")


def _fingerprint(user: User, purpose: TokenPurpose) -> str:
    if purpose is TokenPurpose.VERIFY_EMAIL:
        state = f"{user.email}|{user.email_verified_at is not None}"
    else:
        state = user.password_hash or ""
    key = f"{current_app.config['SECRET_KEY']}|{purpose}".encode()
    return hmac.new(key, state.encode(), hashlib.sha256).hexdigest()[:24]


def make_token(user: User, purpose: TokenPurpose) -> str:
    return _serializer(purpose).dumps({"u": user.id, "f": _fingerprint(user, purpose)})


def read_token(token: str, purpose: TokenPurpose) -> User:
    """The user the token is for, or TokenError with a message fit to show."""
    if not token or len(token) > MAX_TOKEN_LENGTH:
        raise TokenError(INVALID)
    try:
        data = _serializer(purpose).loads(token, max_age=int(MAX_AGE[purpose].total_seconds()))
    except SignatureExpired as exc:
        raise TokenError(EXPIRED) from exc
    except BadSignature as exc:
        raise TokenError(INVALID) from exc
    if not isinstance(data, dict) or not isinstance(data.get("u"), int):
        raise TokenError(INVALID)
    user = db.session.get(User, data["u"])
    if user is None:
        raise TokenError(INVALID)
    if not hmac.compare_digest(str(data.get("f", "")), _fingerprint(user, purpose)):
        raise TokenUsed(USED, user)
    return user

"""Account operations. They change models in the caller's transaction and never commit."""

from __future__ import annotations

import sqlalchemy as sa

from lavish.extensions import db
from lavish.models import User, normalize_email


def find_customer(email: str) -> User | None:
    return db.session.scalar(sa.select(User).where(User.email == normalize_email(email)))


def find_or_create_customer(email: str, name: str = "") -> tuple[User, bool]:
    """The account for `email`, created without a password when there is none.

    Returns (user, created). A created account gets its first password through the
    set-password link (accounts.tokens.TokenPurpose.SET_PASSWORD).
    """
    user = find_customer(email)
    if user is not None:
        return user, False
    user = User(email=normalize_email(email), name=name.strip()[:120])
    db.session.add(user)
    db.session.flush()
    return user, True

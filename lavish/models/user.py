from __future__ import annotations

import secrets
import unicodedata
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING

import sqlalchemy as sa
from flask_login import UserMixin
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from lavish.extensions import db
from lavish.models.base import TimestampMixin, one_of
from lavish.models.types import UTCDateTime

if TYPE_CHECKING:
    from lavish.models.site import Site


class Role(StrEnum):
    CUSTOMER = "customer"
    ADMIN = "admin"


def normalize_email(email: str) -> str:
    """Emails are unique regardless of case and surrounding spaces (and of how a Unicode
    character is composed)."""
    return unicodedata.normalize("NFC", email.strip()).lower()


def _owned_sites_order() -> tuple:
    from lavish.models.site import Site

    return (Site.purchased_at.desc().nulls_last(), Site.id)


def new_session_token() -> str:
    return secrets.token_urlsafe(16)


class User(UserMixin, TimestampMixin, db.Model):
    __tablename__ = "users"
    __table_args__ = (sa.CheckConstraint(one_of("role", Role), name="role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(sa.String(254), unique=True, nullable=False)
    name: Mapped[str] = mapped_column(sa.String(120), nullable=False, default="")
    phone: Mapped[str] = mapped_column(sa.String(40), nullable=False, default="")
    # Null for an account that a purchase created and whose owner has not set a password yet.
    password_hash: Mapped[str | None] = mapped_column(sa.String(255))
    role: Mapped[str] = mapped_column(sa.String(20), nullable=False, default=Role.CUSTOMER)
    email_verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    password_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Part of the Flask-Login id: changing it ends every other session and remember-me cookie.
    session_token: Mapped[str] = mapped_column(
        sa.String(32), nullable=False, default=new_session_token
    )

    # The sites the user owns, most recently bought first (read-only: ownership changes
    # through Site.owner_id).
    sites: Mapped[list[Site]] = relationship(
        "Site",
        foreign_keys="Site.owner_id",
        order_by=_owned_sites_order,
        viewonly=True,
    )

    @validates("email")
    def _normalize_email(self, key: str, value: str) -> str:
        # Every way in stores the normalised form, so the unique constraint covers it.
        return normalize_email(value) if value else value

    def get_id(self) -> str:
        return f"{self.id}:{self.session_token}"

    @property
    def is_admin(self) -> bool:
        return self.role == Role.ADMIN

    @property
    def is_verified(self) -> bool:
        return self.email_verified_at is not None

    def __repr__(self) -> str:
        return f"<User {self.id} {self.email}>"


# The signed-in user, by the id and session token their session carries (auth.load_user): it
# runs on every signed-in request, so it is built once (no statement building or cache-key
# hashing per request). Pages that show the user's own rows add their loader options to it.
USER_BY_SESSION = sa.select(User).where(
    User.id == sa.bindparam("user_id"), User.session_token == sa.bindparam("token")
)

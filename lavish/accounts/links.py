"""Links that act on an account (verify, reset, set password), made when a mail is sent.

No token is ever stored: the outbox keeps the account's id and the mail job calls `token_url`
as it renders, so a delayed mail still carries a fresh link. A staff preview of a mail gets
`placeholder_url` instead: the console never holds a working link to a customer's account.
"""

from __future__ import annotations

from lavish.accounts.tokens import TokenPurpose, make_token
from lavish.extensions import db
from lavish.models import User
from lavish.urls import public_url_for

# Which page each kind of link opens.
TOKEN_ENDPOINTS = {
    TokenPurpose.VERIFY_EMAIL: "accounts.verify_email",
    TokenPurpose.RESET_PASSWORD: "accounts.reset_password",
    TokenPurpose.SET_PASSWORD: "accounts.set_password",
}


def token_url(purpose: TokenPurpose | str, user: User | int) -> str:
    """Absolute link (on PUBLIC_URL) carrying a fresh token for `user`."""
    purpose = TokenPurpose(purpose)
    if isinstance(user, int):
        user = db.session.get(User, user)
        if user is None:
            raise LookupError("the account of this mail no longer exists")
    return public_url_for(TOKEN_ENDPOINTS[purpose], token=make_token(user, purpose))


def set_password_url(user: User) -> str:
    """The link a purchase-created account uses to choose its first password (30 days)."""
    return token_url(TokenPurpose.SET_PASSWORD, user)


def placeholder_url(purpose: TokenPurpose | str, user: User | int | None = None) -> str:
    """What a preview shows where the mail has a link: it says what the link is, works for
    nobody, and makes no token."""
    return f"[{TokenPurpose(purpose)} link: made when the mail is sent]"


def link_purpose_in(value: object) -> TokenPurpose | None:
    """The kind of account link a stored value holds (mails queued before links were made at
    sending carried a set-password URL in their context), or None."""
    if isinstance(value, str):
        for purpose in TokenPurpose:
            if f"/{purpose}/" in value:
                return purpose
    return None

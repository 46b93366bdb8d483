"""Account operations. They change models in the caller's transaction and never commit.

Mails are queued in the same transaction (lavish.mail.outbox), so a rolled-back change sends
nothing; the links in them are made when the mail is sent (lavish.accounts.links), so a mail
delayed by a Redis outage still carries a fresh link and no token is stored in the outbox.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload, undefer

from lavish import audit
from lavish.accounts.passwords import hash_password, needs_rehash, verify_password
from lavish.accounts.tokens import USED, TokenError, TokenPurpose, TokenUsed, read_token
from lavish.clock import utcnow
from lavish.extensions import db
from lavish.mail.outbox import queue_mail
from lavish.models import Site, SiteVersion, User, normalize_email
from lavish.models.user import USER_BY_SESSION, new_session_token


class EmailTaken(Exception):
    """Another account has this address (registration raced with another)."""


class WrongPassword(Exception):
    pass


def find_customer(email: str) -> User | None:
    return db.session.scalar(sa.select(User).where(User.email == normalize_email(email)))


def find_or_create_customer(email: str, name: str = "") -> tuple[User, bool]:
    """The account for `email`, created without a password when there is none.

    Returns (user, created). A created account gets its first password through the
    set-password link (`token_url("set-password", user_id)` in its mail). A purchase uses
    `account_for_purchase`, which also refuses to hand anything to an unverified account.
    """
    user = find_customer(email)
    if user is not None:
        return user, False
    user = User(email=normalize_email(email), name=name.strip()[:120])
    db.session.add(user)
    db.session.flush()
    return user, True


def account_for_purchase(
    email: str, name: str = "", *, account_id: int | None = None
) -> tuple[User, bool]:
    """The account a paid purchase goes to: `account_id` (the buyer was signed in) or the one
    of `email`, created when there is none. Returns (user, created).

    A purchase never gives anything to an account whose address nobody has proved to read:
    anyone can register the buyer's address with a password of their own before the buyer
    pays. So an unverified account with a password loses it here, and every session and
    remember-me cookie with it; it is now what a purchase-created account is, and whoever
    reads the mailbox chooses the password through the receipt's set-password link (which
    verifies the address). The caller's receipt offers that link when
    `user.password_hash is None`.
    """
    user = db.session.get(User, account_id) if account_id else None
    if user is None:
        user, created = find_or_create_customer(email, name)
        if created:
            return user, True
    if not user.is_verified and user.password_hash is not None:
        audit.record(
            None,
            "account.password_cleared_for_purchase",
            user,
            before={"name": user.name, "phone": user.phone, "had_password": True},
            after={"name": name.strip()[:120] or user.name, "phone": "", "had_password": False},
        )
        user.password_hash = None
        user.password_changed_at = utcnow()
        # Who registered may not be who pays: the name and phone were theirs.
        user.name = name.strip()[:120] or user.name
        user.phone = ""
        end_other_sessions(user)
        db.session.flush()
    return user, False


# ---- registration and verification ----------------------------------------------------------


def register_customer(*, name: str, email: str, password: str) -> User | None:
    """A new account with its password, whose welcome mail asks to verify the address; or, when
    the address has an account already, None and a mail telling its owner (`tell_owner`).

    The caller answers both the same way ("check your mail"), and both do the same work (the
    Argon2 hash, which is most of it, one lookup, one outbox row and its job), so registering
    does not tell anyone whether an address has an account.
    """
    password_hash = hash_password(password)
    if find_customer(email) is not None:
        # Looks the account up again: as many statements as creating one.
        tell_owner_of_registration_attempt(email)
        return None
    user = User(
        email=normalize_email(email),
        name=name.strip(),
        password_hash=password_hash,
        password_changed_at=utcnow(),
    )
    db.session.add(user)
    try:
        db.session.flush()
    except IntegrityError as exc:
        # Two sign-ups of one address at once: the caller rolls back and tells the owner.
        raise EmailTaken(user.email) from exc
    # No dedupe key: the account is new in this transaction, so is its welcome.
    queue_mail(user.email, "welcome", {"user_id": user.id, "name": user.name})
    return user


def tell_owner_of_registration_attempt(email: str) -> None:
    """Mail the owner of `email`'s account that someone tried to register it (sign in or
    choose a password instead). The registration limits keep this from flooding them."""
    user = find_customer(email)
    if user is not None:
        queue_mail(user.email, "account_exists", {"name": user.name})


def send_verification(user: User) -> bool:
    """Queue "verify your email" again; False (and nothing queued) when already verified."""
    if user.is_verified:
        return False
    queue_mail(user.email, "verify_email", {"user_id": user.id, "name": user.name})
    return True


def resend_verification_to(email: str) -> None:
    """Anonymous resend. Every address gets one mail: the link, or why there is none. So the
    answer, and the work behind it (one lookup, one outbox row), is the same whether or not
    the account exists, and a person who mistyped learns it from their mailbox, not from us."""
    user = find_customer(email)
    if user is None:
        _tell_there_is_no_account(email, asked_for="verify_email")
    elif user.is_verified:
        queue_mail(user.email, "already_verified", {"name": user.name})
    else:
        send_verification(user)


def _tell_there_is_no_account(email: str, *, asked_for: str) -> None:
    address = normalize_email(email)
    queue_mail(address, "no_account", {"address": address, "asked_for": asked_for})


class SignInToVerify(Exception):
    """A genuine verify link, followed by a browser that is not signed in to its account."""

    def __init__(self, user: User) -> None:
        super().__init__(user.email)
        self.user = user


def verify_email(token: str, *, signed_in: User | None) -> tuple[User, bool]:
    """Mark the address of the token's account verified. Returns (user, newly_verified).

    The link proves the mailbox; `signed_in` (the browser's account) must prove the account:
    otherwise someone who registered a stranger's address with a password of their own would
    have the stranger confirm it with one click on the welcome mail, and own a verified
    account at their address (raises SignInToVerify). The owner of the address who did not
    register it takes the account over with "forgot password" instead.
    A link used a second time is not an error for the person: the address is verified.
    """
    try:
        user = read_token(token, TokenPurpose.VERIFY_EMAIL)
    except TokenUsed as used:
        if used.user.is_verified:
            return used.user, False
        raise
    if signed_in is None or signed_in.id != user.id:
        raise SignInToVerify(user)
    user.email_verified_at = utcnow()
    return user, True


# ---- signing in and out ---------------------------------------------------------------------


def authenticate(email: str, password: str) -> User | None:
    """The account for these credentials, or None. Takes the same time whether or not the
    address exists (verify_password hashes against a dummy)."""
    user = find_customer(email)
    if not verify_password(user.password_hash if user else None, password):
        return None
    if needs_rehash(user.password_hash):  # Argon2 parameters were raised since
        user.password_hash = hash_password(password)
    return user


def end_other_sessions(user: User) -> None:
    """Every session and remember-me cookie of this account stops working (the Flask-Login id
    includes the session token)."""
    user.session_token = new_session_token()


# ---- passwords ------------------------------------------------------------------------------


def _set_password(user: User, password: str, *, mail: str = "password_changed") -> None:
    user.password_hash = hash_password(password)
    user.password_changed_at = utcnow()
    end_other_sessions(user)
    queue_mail(
        user.email,
        mail,
        {"user_id": user.id, "name": user.name, "changed_at": user.password_changed_at.isoformat()},
        dedupe_key=f"password-changed:{user.id}:{user.password_changed_at.isoformat()}",
    )


def request_password_reset(email: str) -> None:
    """Queue the reset mail, or, for an address without an account, a mail that says so. The
    caller learns nothing, and both paths do the same work (one indexed lookup, one outbox
    row and its job), so they take the same time; the mail is sent by the job."""
    user = find_customer(email)
    if user is None:
        _tell_there_is_no_account(email, asked_for="password_reset")
    else:
        queue_mail(user.email, "password_reset", {"user_id": user.id, "name": user.name})


def reset_password(user: User, password: str) -> User:
    """Choose a new password through a reset link (the caller read the link with `read_token`;
    single use: the hash changes, and with it the link's fingerprint)."""
    _set_password(user, password)
    # Following a link sent to the address proves the person reads that mailbox.
    user.email_verified_at = user.email_verified_at or utcnow()
    return user


def check_set_password_token(token: str) -> User:
    user = read_token(token, TokenPurpose.SET_PASSWORD)
    if user.password_hash is not None:
        raise TokenError(USED)
    return user


def set_first_password(user: User, password: str) -> User:
    """The first password of an account a purchase created (link in the purchase mail, read
    with `check_set_password_token`). Its mail is a welcome, not "your password was changed
    … if this was not you": the owner just chose it."""
    _set_password(user, password, mail="account_ready")
    user.email_verified_at = user.email_verified_at or utcnow()
    return user


def change_password(user: User, *, current_password: str, new_password: str) -> None:
    if user.password_hash is None or not verify_password(user.password_hash, current_password):
        raise WrongPassword
    _set_password(user, new_password)


def update_profile(user: User, *, name: str, phone: str) -> None:
    user.name = name.strip()
    user.phone = phone.strip()


# ---- the owner's sites ----------------------------------------------------------------------


# The owner's dashboard: the signed-in user with their sites, each with its live version,
# number of versions and hosting history, in the one query that also checks the session
# (auth.login_required_loading). Built once: it is the portal's hottest query.
USER_WITH_SITES = USER_BY_SESSION.options(
    joinedload(User.sites).options(
        undefer(Site.version_count),
        joinedload(Site.live_version),
        joinedload(Site.subscriptions),
    )
)


def site_versions(user: User) -> list[tuple[Site, list[SiteVersion]]]:
    """Version history (newest first) of each of the user's sites."""
    sites = db.session.scalars(
        sa.select(Site).where(Site.owner_id == user.id).order_by(Site.business_name, Site.id)
    ).all()
    if not sites:
        return []
    versions = db.session.scalars(
        sa.select(SiteVersion)
        .where(SiteVersion.site_id.in_([s.id for s in sites]), SiteVersion.draft.is_(False))
        .order_by(SiteVersion.site_id, SiteVersion.number.desc())
    ).all()
    by_site: dict[int, list[SiteVersion]] = {s.id: [] for s in sites}
    for version in versions:
        by_site[version.site_id].append(version)
    return [(site, by_site[site.id]) for site in sites]


def live_url(site: Site) -> str:
    """Where visitors see the site: the sites host when there is one, else the portal."""
    from lavish.urls import site_url

    return site_url(site.slug)

"""Staff actions. Each changes models in the caller's transaction, records who did it in the
audit log (before/after), flushes and never commits. The work itself belongs to the feature
that owns it (hosting publishes, billing refunds and cancels, accounts verifies): these
functions call those services, they don't redo them.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any, BinaryIO

import sqlalchemy as sa
from flask import current_app

from lavish import audit
from lavish.clock import utcnow
from lavish.extensions import db
from lavish.hosting.services import change_status
from lavish.models import (
    AuditEntry,
    Order,
    OutboxEmail,
    Site,
    SiteStatus,
    SiteVersion,
    Subscription,
    SubscriptionStatus,
    User,
    WebhookEvent,
)


class ActionRefused(Exception):
    """The action cannot be done; str() is the message for staff, `field` the form field."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


def _site_state(site: Site) -> dict[str, Any]:
    return {"status": site.status, "reason": site.status_reason}


# --- sites --------------------------------------------------------------------------------------


def import_root() -> Path:
    """The only folder on the server that staff may publish sites from."""
    configured = current_app.config.get("SITES_IMPORT_ROOT")
    return Path(configured or Path(current_app.instance_path) / "imports")


def import_folders() -> list[str]:
    root = import_root()
    if not root.is_dir():
        return []
    return sorted(
        child.name for child in root.iterdir() if child.is_dir() and not child.is_symlink()
    )


def resolve_import_folder(name: str) -> Path:
    """`name` as a folder directly under the import root; anything else is refused."""
    root = import_root().resolve()
    if not name or "/" in name or "\\" in name or name in (".", "..") or "\x00" in name:
        raise ActionRefused("Give the name of a folder in the import folder.", field="folder")
    candidate = root / name
    if candidate.is_symlink() or not candidate.resolve().is_relative_to(root):
        raise ActionRefused("That folder is outside the import folder.", field="folder")
    if not candidate.is_dir():
        raise ActionRefused(f"There is no folder “{name}” in {root}.", field="folder")
    return candidate


def create_preview_site(
    actor: User, *, source: Path | BinaryIO, note: str = "", **details: str
) -> Site:
    """A new site in `preview` with its first version published from `source`, a folder on
    the server or an uploaded zip (the hosting service checks the slug and the files;
    PublishError names a refused file)."""
    from lavish.hosting import services as hosting
    from lavish.hosting.slugs import SlugError

    try:
        site = hosting.create_site(details.pop("slug"), details.pop("business_name"), **details)
    except SlugError as error:
        raise ActionRefused(str(error), field="slug") from error
    version = _publish(site, source, actor=actor, note=note or "First version")
    audit.record(
        actor,
        "site.create",
        site,
        after={"slug": site.slug, "business_name": site.business_name, "version": version.number},
    )
    db.session.flush()
    return site


def _publish(site: Site, source: Path | BinaryIO, *, actor: User, note: str) -> SiteVersion:
    from lavish.hosting import services as hosting

    if isinstance(source, Path):
        return hosting.publish(site, source, actor=actor, note=note)
    return hosting.publish_zip(site, source, actor=actor, note=note)


def publish_version(actor: User, site: Site, *, archive: BinaryIO, note: str = "") -> SiteVersion:
    before = {"live_version": site.live_version.number if site.live_version else None}
    version = _publish(site, archive, actor=actor, note=note)
    audit.record(actor, "site.publish", site, before=before, after={"live_version": version.number})
    db.session.flush()
    return version


def rollback_site(actor: User, site: Site, *, number: int) -> SiteVersion:
    from lavish.hosting import services as hosting
    from lavish.hosting.publisher import PublishError

    version = db.session.scalar(
        sa.select(SiteVersion).where(SiteVersion.site_id == site.id, SiteVersion.number == number)
    )
    if version is None:
        raise ActionRefused(f"This site has no version {number}.", field="version")
    if site.live_version_id == version.id:
        raise ActionRefused(f"Version {number} is already live.", field="version")
    before = {"live_version": site.live_version.number if site.live_version else None}
    try:
        hosting.rollback(site, version)
    except PublishError as error:
        raise ActionRefused(str(error), field="version") from error
    audit.record(actor, "site.rollback", site, before=before, after={"live_version": number})
    db.session.flush()
    return version


def suspend_site(actor: User, site: Site, *, reason: str, owner_message: str = "") -> None:
    """A staff suspension (abuse, refund, chargeback): a later payment does not lift it.
    `reason` is staff's internal note; the owner reads `owner_message` (or a plain default),
    on their page and in a mail."""
    from lavish.billing.services import BILLING_SUSPENSION_PREFIX

    if site.status == SiteStatus.SUSPENDED:
        raise ActionRefused("This site is already suspended.")
    if reason.startswith(BILLING_SUSPENSION_PREFIX):
        # Billing recognises its own suspensions by this prefix; keep staff ones apart.
        reason = f"Staff: {reason}"[:500]
    before = _site_state(site)
    change_status(site, SiteStatus.SUSPENDED, reason=reason)
    site.owner_message = (owner_message or "").strip()
    audit.record(actor, "site.suspend", site, before=before, after=_site_state(site))
    _tell_the_owner(site, "site_offline_by_staff", message=site.owner_message)
    db.session.flush()


def _tell_the_owner(site: Site, template: str, **context: str) -> None:
    """The owner's mail about a staff action on their site (none for an unsold preview)."""
    from lavish.mail.outbox import queue_mail

    if site.owner is None:
        return
    queue_mail(
        site.owner.email,
        template,
        {"name": site.owner.name, "site_name": site.business_name, **context},
    )


def status_without_suspension(site: Site) -> SiteStatus:
    """What a site is when nothing holds it suspended: active with a running subscription,
    owned when it has an owner, otherwise a preview."""
    running = db.session.scalar(
        sa.select(sa.func.count(Subscription.id)).where(
            Subscription.site_id == site.id,
            Subscription.status.in_((SubscriptionStatus.ACTIVE, SubscriptionStatus.PAST_DUE)),
        )
    )
    if running:
        return SiteStatus.ACTIVE
    return SiteStatus.OWNED if site.owner_id is not None else SiteStatus.PREVIEW


def unsuspend_site(actor: User, site: Site, *, reason: str) -> SiteStatus:
    if site.status != SiteStatus.SUSPENDED:
        raise ActionRefused("This site is not suspended.")
    before = _site_state(site)
    status = status_without_suspension(site)
    change_status(site, status, reason=reason)
    site.owner_message = ""
    audit.record(actor, "site.unsuspend", site, before=before, after=_site_state(site))
    _tell_the_owner(site, "site_back_online")
    db.session.flush()
    return status


def transfer_site(actor: User, site: Site, *, email: str) -> User:
    """Give an owned site to another customer account. Subscriptions stay with whoever pays
    them (staff cancel and the new owner subscribes, if the payer changes too)."""
    from lavish.accounts.services import find_customer

    if site.owner_id is None:
        raise ActionRefused(
            "A preview site has no owner to transfer from; it is bought on its offer page.",
            field="email",
        )
    new_owner = find_customer(email)
    if new_owner is None:
        raise ActionRefused(f"No account has the email {email}.", field="email")
    if new_owner.is_admin:
        raise ActionRefused("Staff accounts cannot own sites.", field="email")
    if new_owner.id == site.owner_id:
        raise ActionRefused(f"{email} already owns this site.", field="email")
    previous = db.session.get(User, site.owner_id)
    site.owner_id = new_owner.id
    audit.record(
        actor,
        "site.transfer",
        site,
        before={"owner": previous.email if previous else None},
        after={"owner": new_owner.email},
    )
    db.session.flush()
    return new_owner


# --- customers, billing, mail -------------------------------------------------------------------


def resend_verification(actor: User, user: User) -> None:
    from lavish.accounts import services as accounts

    if user.is_verified:
        raise ActionRefused(f"{user.email} is already verified.")
    accounts.send_verification(user)
    audit.record(actor, "user.resend_verification", user, after={"to": user.email})
    db.session.flush()


def cancel_subscription(
    actor: User, subscription: Subscription, *, at_period_end: bool, reason: str
) -> str:
    """Billing cancels (and records the audit entry, with the provider call when 'now')."""
    from lavish.billing import services as billing
    from lavish.billing.providers import get_provider
    from lavish.billing.providers.base import ProviderError

    try:
        return billing.cancel_subscription(
            subscription,
            at_period_end=at_period_end,
            reason=reason,
            provider=get_provider(),
            actor=actor,
        )
    except billing.BillingError as error:
        raise ActionRefused(str(error)) from error
    except ProviderError as error:
        raise ActionRefused(error.user_message) from error


def refund_order(actor: User, order: Order, *, reason: str) -> str:
    """Billing refunds through the provider first (and records the audit entry)."""
    from lavish.billing import services as billing
    from lavish.billing.providers import get_provider
    from lavish.billing.providers.base import ProviderError

    try:
        return billing.refund_order(order, provider=get_provider(), actor=actor, reason=reason)
    except billing.BillingError as error:
        raise ActionRefused(str(error)) from error
    except ProviderError as error:
        raise ActionRefused(error.user_message) from error


def reprocess_webhook(actor: User, event: WebhookEvent) -> str:
    """Billing runs the stored delivery through its handlers again (idempotent; a failure is
    rolled back to a savepoint and stored on the row); the outcome and the audit entry, with
    the outcome before and after, are committed together by the caller."""
    from lavish.billing import webhooks

    before = {"result": event.result, "error": event.error[:500]}
    try:
        message = webhooks.reprocess(event.id)
    except ValueError as error:  # the stored body is not JSON: there is nothing to run
        db.session.rollback()
        message = f"not re-processed: the stored payload is not JSON ({error})"
    db.session.refresh(event)
    audit.record(
        actor,
        "webhook.reprocess",
        event,
        before=before,
        after={"result": event.result, "error": event.error[:500], "message": message},
    )
    db.session.flush()
    return message


def resend_email(actor: User, email: OutboxEmail) -> OutboxEmail:
    """A new copy of the mail (the original stays, as the record of what happened to it)."""
    from lavish.mail.outbox import queue_mail

    copy = queue_mail(email.to, email.template, dict(email.context or {}))
    assert copy is not None  # no dedupe key: always queued
    audit.record(actor, "email.resend", email, after={"copy": copy.id, "to": email.to})
    db.session.flush()
    return copy


# One "email.viewed" entry per person, mail and this long: the detail page and the frame it
# loads (or a reload) are one reading.
VIEW_AUDIT_WINDOW = timedelta(minutes=10)


def record_email_view(actor: User, email: OutboxEmail) -> None:
    """A customer's mail is theirs: who read it goes on the record (committed with the page,
    lavish/transaction.py: the console's only GETs that write)."""
    recent = db.session.scalar(
        sa.select(AuditEntry.id)
        .where(
            AuditEntry.action == "email.viewed",
            AuditEntry.object_type == OutboxEmail.__tablename__,
            AuditEntry.object_id == email.id,
            AuditEntry.actor_id == actor.id,
            AuditEntry.created_at > utcnow() - VIEW_AUDIT_WINDOW,
        )
        .limit(1)
    )
    if recent is None:
        audit.record(actor, "email.viewed", email, after={"to": email.to})
        db.session.flush()

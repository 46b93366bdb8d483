"""Periodic billing sweeps (run by jobs/sweeps.py through RQ cron or `flask sweep`).

Each selects only what is due through an index, works in batches committed one by one, and is
safe to run twice or in two processes at once: rows are claimed with FOR UPDATE SKIP LOCKED on
PostgreSQL (SQLite serialises writers), every change re-checks the state it moves from, and
mails carry dedupe keys.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import selectinload

from lavish.background import enqueue_now
from lavish.billing import services
from lavish.billing.providers import ProviderError, get_provider
from lavish.clock import utcnow
from lavish.extensions import db
from lavish.hosting.services import change_status
from lavish.mail.outbox import queue_mail, queue_mails
from lavish.models import (
    ENDED_SUBSCRIPTION,
    Payment,
    Site,
    SiteStatus,
    Subscription,
    SubscriptionStatus,
    User,
)
from lavish.urls import site_url

log = logging.getLogger(__name__)

BATCH_SIZE = 500
RENEWAL_REMINDER_BEFORE = timedelta(days=3)
SETUP_REMINDER_BEFORE = timedelta(days=3)
# Recurrente has no "cancel at period end": we delete the subscription shortly before the
# period ends, so its renewal charge never runs.
PERIOD_END_LEAD = timedelta(hours=1)
# A refund is queued right after the commit that decides it; one still due this long after is
# queued again (its job was never queued, Redis being down, or failed all its retries).
REFUND_REQUEUE_AFTER = timedelta(minutes=10)


def _in_batches(
    model: Any,
    where: list[Any],
    handle: Callable[[Any], bool],
    *,
    options: tuple = (),
    batch_size: int | None = None,
) -> int:
    """Claim due rows batch by batch (keyset on id), handle each, commit per batch."""
    batch_size = batch_size or BATCH_SIZE
    done, last_id = 0, 0
    while True:
        rows = db.session.scalars(
            sa.select(model)
            .where(*where, model.id > last_id)
            .order_by(model.id)
            .limit(batch_size)
            .options(*options)
            .with_for_update(skip_locked=True, of=model)
        ).all()
        if not rows:
            return done
        for row in rows:
            if handle(row):
                done += 1
        last_id = rows[-1].id
        db.session.commit()


def _suspend(site: Site, *, reason: str, now: datetime, owner: User | None) -> None:
    if site.status == SiteStatus.SUSPENDED:
        return
    change_status(site, SiteStatus.SUSPENDED, reason=reason)
    if owner is not None:
        # queue_mails: no savepoint, whose release would fire the after-commit hooks early.
        queue_mails(
            [
                (
                    owner.email,
                    "site_suspended",
                    {
                        "name": owner.name,
                        "site_name": site.business_name,
                        "reason": reason,
                        "suspended_at": now.isoformat(),
                        "status_url": services.dashboard_url(),
                    },
                    f"site_suspended:{site.id}:{now.date().isoformat()}",
                )
            ]
        )


_SUB_OPTIONS = (selectinload(Subscription.site), selectinload(Subscription.customer))


def expire_grace(now: datetime | None = None) -> int:
    """past_due beyond grace_until → expired, site suspended, mail.

    Set-based, as it may meet thousands of rows at once: per batch one SELECT … FOR UPDATE
    SKIP LOCKED through (status, grace_until), one conditional UPDATE … RETURNING (only rows
    still past_due are acted on, so a concurrent or repeated run changes nothing twice), the
    sites and owners in one query each, the mails in one insert.
    """
    now = now or utcnow()
    status_url = services.dashboard_url()
    total = 0
    while True:
        ids = db.session.scalars(
            sa.select(Subscription.id)
            .where(
                Subscription.status == SubscriptionStatus.PAST_DUE,
                Subscription.grace_until <= now,
            )
            .order_by(Subscription.grace_until)
            .limit(BATCH_SIZE)
            .with_for_update(skip_locked=True)
        ).all()
        if not ids:
            return total
        expired = db.session.execute(
            sa.update(Subscription)
            .where(Subscription.id.in_(ids), Subscription.status == SubscriptionStatus.PAST_DUE)
            .values(status=SubscriptionStatus.EXPIRED, ended_at=now, updated_at=now)
            .returning(
                Subscription.id,
                Subscription.site_id,
                Subscription.customer_id,
                Subscription.grace_until,
            )
            .execution_options(synchronize_session=False)
        ).all()
        sites = {
            site.id: site
            for site in db.session.scalars(
                sa.select(Site).where(Site.id.in_({row.site_id for row in expired}))
            )
        }
        owners = {
            user.id: user
            for user in db.session.scalars(
                sa.select(User).where(User.id.in_({row.customer_id for row in expired}))
            )
        }
        mails = []
        for row in expired:
            site, owner = sites[row.site_id], owners[row.customer_id]
            # The running-subscription index allows no other running one for this site.
            if site.status != SiteStatus.SUSPENDED:
                change_status(
                    site,
                    SiteStatus.SUSPENDED,
                    reason=f"Hosting payment not received by {row.grace_until:%B %-d, %Y}.",
                )
            mails.append(
                (
                    owner.email,
                    "subscription_expired",
                    {
                        "name": owner.name,
                        "site_name": site.business_name,
                        "grace_until": row.grace_until.isoformat(),
                        "status_url": status_url,
                    },
                    f"subscription_expired:{row.id}",
                )
            )
        queue_mails(mails)
        db.session.commit()
        total += len(expired)


def end_cancelled_at_period_end(now: datetime | None = None) -> int:
    """Subscriptions cancelled at period end: stop the provider's charges, mark them ended
    (the site stays online CANCEL_GRACE_DAYS more)."""
    now = now or utcnow()
    provider = get_provider()

    def handle(sub: Subscription) -> bool:
        if not (sub.status == SubscriptionStatus.ACTIVE and sub.cancel_at_period_end):
            return False
        if sub.provider_subscription_id:
            try:
                provider.cancel_subscription(sub.provider_subscription_id)
            except ProviderError as exc:
                log.warning("could not end subscription %s now: %s (next run)", sub.id, exc)
                return False
        services._end(
            sub, now=min(sub.current_period_end, now), reason=sub.cancel_reason, site=sub.site
        )
        return True

    return _in_batches(
        Subscription,
        [
            Subscription.status == SubscriptionStatus.ACTIVE,
            Subscription.current_period_end <= now + PERIOD_END_LEAD,
            Subscription.cancel_at_period_end.is_(True),
        ],
        handle,
        options=_SUB_OPTIONS,
    )


def suspend_after_cancel_grace(now: datetime | None = None) -> int:
    """Ended subscriptions whose CANCEL_GRACE_DAYS (or remaining grace) is over: suspend the
    site unless it has a running subscription again."""
    now = now or utcnow()

    def handle(sub: Subscription) -> bool:
        if sub.site_online_until is None or sub.site_online_until > now:
            return False
        sub.site_online_until = None  # handled: out of the index range for good
        if services._other_running(sub) is not None:
            return False
        _suspend(
            sub.site,
            reason="Hosting subscription ended.",
            now=now,
            owner=sub.customer,
        )
        return True

    return _in_batches(
        Subscription,
        [
            Subscription.status.in_(ENDED_SUBSCRIPTION),
            Subscription.site_online_until <= now,
        ],
        handle,
        options=_SUB_OPTIONS,
    )


def suspend_unsubscribed(now: datetime | None = None) -> int:
    """Bought sites whose SETUP_DAYS passed without hosting: suspended, mail."""
    now = now or utcnow()
    cutoff = now - timedelta(days=current_app.config["SETUP_DAYS"])

    def handle(site: Site) -> bool:
        if site.status != SiteStatus.OWNED or site.purchased_at > cutoff:
            return False
        _suspend(
            site,
            reason=f"Hosting was not activated within {current_app.config['SETUP_DAYS']} days "
            "of the purchase.",
            now=now,
            owner=site.owner,
        )
        return True

    return _in_batches(
        Site,
        [Site.status == SiteStatus.OWNED, Site.purchased_at <= cutoff],
        handle,
        options=(selectinload(Site.owner),),
    )


def remind_activate_hosting(now: datetime | None = None) -> int:
    """A few days before the setup window closes, remind the owner to activate hosting."""
    now = now or utcnow()
    setup = timedelta(days=current_app.config["SETUP_DAYS"])
    sent = 0
    sites = db.session.scalars(
        sa.select(Site)
        .where(
            Site.status == SiteStatus.OWNED,
            Site.purchased_at <= now - setup + SETUP_REMINDER_BEFORE,
            Site.purchased_at > now - setup,
        )
        .options(selectinload(Site.owner))
    ).all()
    for site in sites:
        if site.owner is None:
            continue
        email = queue_mail(
            site.owner.email,
            "activate_hosting_reminder",
            {
                "name": site.owner.name,
                "site_name": site.business_name,
                "site_url": site_url(site.slug),
                "setup_ends": (site.purchased_at + setup).isoformat(),
                "amount_cents": current_app.config["SUBSCRIPTION_PRICE_CENTS"],
                "currency": current_app.config["CURRENCY"],
                "status_url": services.dashboard_url(),
            },
            dedupe_key=f"activate_hosting_reminder:{site.id}:{site.purchased_at.isoformat()}",
        )
        sent += email is not None
    db.session.commit()
    return sent


def remind_renewals(now: datetime | None = None) -> int:
    """Three days before a renewal, tell the owner their card will be charged."""
    now = now or utcnow()

    def handle(sub: Subscription) -> bool:
        if sub.renewal_reminded_for == sub.current_period_end or sub.cancel_at_period_end:
            return False
        sub.renewal_reminded_for = sub.current_period_end
        queue_mail(
            sub.customer.email,
            "renewal_reminder",
            services._sub_mail_context(sub, sub.site),
            dedupe_key=f"renewal_reminder:{sub.id}:{sub.current_period_end.isoformat()}",
        )
        return True

    return _in_batches(
        Subscription,
        [
            Subscription.status == SubscriptionStatus.ACTIVE,
            Subscription.current_period_end > now,
            Subscription.current_period_end <= now + RENEWAL_REMINDER_BEFORE,
            Subscription.cancel_at_period_end.is_(False),
            sa.or_(
                Subscription.renewal_reminded_for.is_(None),
                Subscription.renewal_reminded_for != Subscription.current_period_end,
            ),
        ],
        handle,
        options=_SUB_OPTIONS,
    )


def requeue_due_refunds(now: datetime | None = None) -> int:
    """Refunds we promised (payments.refund_due_at) and that are still not done: queue their
    job again. The job is idempotent (it locks the payment and skips a refunded one), so a
    job that was merely slow does no harm when it runs twice."""
    now = now or utcnow()
    due = db.session.execute(
        sa.select(Payment.order_id, Payment.provider_payment_id)
        .where(
            Payment.refund_due_at <= now - REFUND_REQUEUE_AFTER,
            Payment.refunded_at.is_(None),
            Payment.order_id.is_not(None),
        )
        .order_by(Payment.refund_due_at)
        .limit(BATCH_SIZE)
    ).all()
    db.session.rollback()  # nothing to keep; the job runs in its own transaction
    queued = 0
    for order_id, payment_id in due:
        queued += enqueue_now(services.REFUND_JOB, order_id, payment_id)
    if len(due) > queued:
        log.warning("%d due refunds could not be queued; next run", len(due) - queued)
    return queued

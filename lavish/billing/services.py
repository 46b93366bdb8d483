"""Buying a site and paying for hosting. Functions change models in the caller's transaction,
flush, queue mail and enqueue jobs after commit; they never commit and never touch `request`.

Webhooks, the return-page reconcile, the sandbox and staff all go through the same functions,
and each is idempotent on the provider's payment id (`pa_…`) and on state transitions.
"""

from __future__ import annotations

import calendar
import logging
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload

from lavish import audit
from lavish.accounts.services import account_for_purchase
from lavish.background import enqueue_after_commit
from lavish.billing.providers.base import CheckoutItem, PaymentProvider, ProviderError
from lavish.clock import utcnow
from lavish.extensions import db
from lavish.formatting import possessive
from lavish.hosting.services import change_status
from lavish.mail.outbox import queue_mail, queue_mails
from lavish.models import (
    ENDED_SUBSCRIPTION,
    RUNNING_SUBSCRIPTION,
    Order,
    OrderStatus,
    OutboxEmail,
    Payment,
    Site,
    SiteStatus,
    Subscription,
    SubscriptionStatus,
    User,
    normalize_email,
)
from lavish.urls import public_url_for, site_url

log = logging.getLogger(__name__)

REFUND_JOB = "jobs.billing.refund_order_job"
# Our checkouts expire after this (sent as `expires_at`); a pending one is reused until then.
CHECKOUT_TTL = timedelta(hours=24)


class BillingError(Exception):
    """Something the person asked for cannot be done; str() is a message fit to show them."""


# ---------------------------------------------------------------------------------------------
# Small helpers


def add_month(moment: datetime) -> datetime:
    """The same day next month (clipped to the month's last day): Jan 31 → Feb 28."""
    year, month = (moment.year + 1, 1) if moment.month == 12 else (moment.year, moment.month + 1)
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


# Every suspension billing makes has a reason starting with this; staff suspensions don't, and
# only billing suspensions are lifted by a payment.
BILLING_SUSPENSION_PREFIX = "Hosting "


def is_billing_suspension(site: Site) -> bool:
    return site.status_reason.startswith(BILLING_SUSPENSION_PREFIX)


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _lock(model: Any, row_id: int, *options: Any, key_share: bool = False) -> Any:
    """Re-read a row with a row lock (PostgreSQL; SQLite serialises writers anyway), so two
    deliveries of one event, or a webhook and a reconcile, apply it once. `key_share`: FOR NO
    KEY UPDATE, which still lets other transactions insert rows referring to this one."""
    return db.session.scalar(
        sa.select(model)
        .where(model.id == row_id)
        .options(*options)
        .with_for_update(of=model, key_share=key_share)
        .execution_options(populate_existing=True)
    )


def _insert(model: Any, values: dict[str, Any], conflict_column: str) -> int | None:
    """INSERT … ON CONFLICT DO NOTHING RETURNING id: None when the row already exists."""
    dialect = db.session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return db.session.scalar(
        insert(model)
        .values(**values)
        .on_conflict_do_nothing(index_elements=[conflict_column])
        .returning(model.id)
    )


def _record_payment(payment_id: str, **values: Any) -> bool:
    """Store a payment once per provider payment id; False when it was already recorded."""
    return (
        _insert(Payment, {"provider_payment_id": payment_id, **values}, "provider_payment_id")
        is not None
    )


def _already_recorded(payment_id: str) -> str:
    """The result for a payment seen before: a flagged one stays flagged."""
    flag = db.session.scalar(
        sa.select(Payment.flag).where(Payment.provider_payment_id == payment_id)
    )
    return f"flagged: {flag} (already recorded)" if flag else "duplicate payment"


def price_mismatch(
    expected_cents: int, expected_currency: str, amount_cents: int, currency: str
) -> str:
    """Why a payment is not what we charged ("" when it is exactly that)."""
    if amount_cents == expected_cents and currency.upper() == expected_currency.upper():
        return ""
    return (
        f"paid {amount_cents} {currency.upper()}, "
        f"charged {expected_cents} {expected_currency.upper()}"
    )


def flagged_payments(*, order_ids: list[int] = (), subscription_ids: list[int] = ()) -> list:
    """Payments of these orders/subscriptions that were not applied (for the buyer's pages)."""
    if not order_ids and not subscription_ids:
        return []
    return list(
        db.session.scalars(
            sa.select(Payment)
            .where(
                Payment.flag != "",
                sa.or_(
                    Payment.order_id.in_(list(order_ids)),
                    Payment.subscription_id.in_(list(subscription_ids)),
                ),
            )
            .order_by(Payment.id)
        )
    )


def _add_guarded(row: Any) -> None:
    """Add and flush a row a unique index may refuse (a double click racing us). On
    PostgreSQL a savepoint keeps the transaction usable after IntegrityError; SQLite serialises
    writers, and its driver would turn a savepoint before the first write into a commit."""
    if db.session.get_bind().dialect.name == "postgresql":
        with db.session.begin_nested():
            db.session.add(row)
            db.session.flush()
    else:
        db.session.add(row)
        db.session.flush()


def _mail(to: str, template: str, context: dict[str, Any], dedupe_key: str) -> None:
    """queue_mail in one statement (the webhook path is hot: see bench/billing.py)."""
    queue_mails([(to, template, context, dedupe_key)])


def dashboard_url() -> str:
    """The owner's hosting page, for mails (the sweeps' too)."""
    return public_url_for("billing.status")


# ---------------------------------------------------------------------------------------------
# Purchase


def site_item(site: Site) -> CheckoutItem:
    config = current_app.config
    return CheckoutItem(
        name=f"Website: {site.business_name}",
        amount_cents=config["SITE_PRICE_CENTS"],
        currency=config["CURRENCY"],
        description=f"One-time purchase of {possessive(site.business_name)} website ({site.slug})",
    )


def subscription_item(site: Site) -> CheckoutItem:
    config = current_app.config
    return CheckoutItem(
        name=f"Hosting: {site.business_name}",
        amount_cents=config["SUBSCRIPTION_PRICE_CENTS"],
        currency=config["CURRENCY"],
        recurring=True,
        description="Monthly hosting, custom domain and edit requests",
    )


def _pending_order(site: Site, email: str) -> Order | None:
    return db.session.scalar(
        sa.select(Order).where(
            Order.site_id == site.id,
            Order.buyer_email == email,
            Order.status == OrderStatus.PENDING,
        )
    )


def start_purchase(
    site: Site,
    *,
    email: str,
    name: str,
    customer: User | None,
    provider: PaymentProvider,
    complete_url: Any,
    cancel_url: str,
) -> Order:
    """The order whose checkout the buyer should be sent to.

    Pressing buy twice reuses the live pending checkout of the same buyer and site. A provider
    failure marks the new order failed (nothing half-created) and raises BillingError.
    `complete_url(order)` builds the return URL with our order id.
    """
    if site.status != SiteStatus.PREVIEW:
        raise BillingError("This site has already been bought and is no longer for sale.")
    email = normalize_email(customer.email if customer else email)
    name = (customer.name if customer else name).strip()[:120]
    existing = _pending_order(site, email)
    if existing is not None and existing.checkout_url:
        if existing.created_at > utcnow() - CHECKOUT_TTL:
            return existing
        # Its checkout has expired at the provider: close it, start a fresh one.
        existing.status = OrderStatus.CANCELLED
        existing.failure_reason = "The checkout expired."
        db.session.flush()
        existing = None
    order = existing
    if order is None:
        order = Order(
            site_id=site.id,
            customer_id=customer.id if customer else None,
            buyer_email=email,
            buyer_name=name,
            amount_cents=current_app.config["SITE_PRICE_CENTS"],
            currency=current_app.config["CURRENCY"],
            status=OrderStatus.PENDING,
            provider=provider.name,
        )
        try:
            _add_guarded(order)
        except IntegrityError as exc:
            # A second click raced us (PostgreSQL waited for it to commit): use its checkout.
            existing = _pending_order(site, email)
            if existing is not None and existing.checkout_url:
                return existing
            raise BillingError("Your purchase is being prepared, please try again.") from exc
    try:
        checkout = provider.create_checkout(
            item=site_item(site),
            success_url=complete_url(order),
            cancel_url=cancel_url,
            metadata={"order_id": str(order.id), "site": site.slug, "kind": "site"},
            expires_at=utcnow() + CHECKOUT_TTL,
        )
    except ProviderError as exc:
        order.status = OrderStatus.FAILED
        order.failure_reason = f"Could not create the checkout: {exc}"[:500]
        db.session.flush()
        raise BillingError(exc.user_message) from exc
    order.checkout_id = checkout.id
    order.checkout_url = checkout.url
    db.session.flush()
    return order


def order_by_checkout(checkout_id: str | None) -> Order | None:
    """The order whose checkout the provider says was paid (its id is what we stored)."""
    if not checkout_id:
        return None
    return db.session.scalar(sa.select(Order).where(Order.checkout_id == checkout_id))


def record_order_payment(
    order: Order,
    *,
    payment_id: str,
    amount_cents: int,
    currency: str,
    flag: str = "",
) -> str:
    """A payment for a site order succeeded (webhook or reconcile). Idempotent on `payment_id`.

    Applied only when it is exactly the order's amount and currency (and `flag`, a reason the
    caller found not to trust it, is empty): otherwise it is stored with the reason, changes
    nothing, sends nothing and waits for staff. The first paid order of a preview site wins
    it; any other payment for the site (another buyer who raced, or a second payment) is
    refunded through the provider and told so.
    """
    # The site first, then the order: every path that locks both takes them in this order,
    # so buyers racing for one site queue up instead of deadlocking.
    # (FOR NO KEY UPDATE: a buyer starting a checkout meanwhile, whose new order refers to
    # the site, neither waits for this nor makes it wait.)
    site = _lock(Site, order.site_id, key_share=True)
    order = _lock(Order, order.id)
    now = utcnow()
    flag = flag or price_mismatch(order.amount_cents, order.currency, amount_cents, currency)
    lost = not flag and (order.status == OrderStatus.PAID or site.status != SiteStatus.PREVIEW)
    if not _record_payment(
        payment_id,
        kind="one_time",
        order_id=order.id,
        amount_cents=amount_cents,
        currency=currency.upper(),
        paid_at=now,
        flag=flag[:300],
        # The promise of a refund is a row: the sweep re-queues it if the job is lost.
        refund_due_at=now if lost else None,
    ):
        return _already_recorded(payment_id)
    if flag:
        log.warning("payment %s for order %s not applied: %s", payment_id, order.id, flag)
        return f"flagged: {flag}; not applied"
    if lost:
        # Lost the race (or paid twice): never keep money for a site we can't hand over.
        if order.status != OrderStatus.PAID:
            order.status = OrderStatus.PAID
            order.payment_id = payment_id
            order.paid_at = now
        if order.payment_id == payment_id:
            order.failure_reason = "The site was already sold; this payment is being refunded."
        db.session.flush()
        enqueue_after_commit(REFUND_JOB, order.id, payment_id)
        return "refund: site already sold"

    # Never to an account whose address is unverified (see account_for_purchase).
    customer, created = account_for_purchase(
        order.buyer_email, order.buyer_name, account_id=order.customer_id
    )
    order.customer_id = customer.id
    order.status = OrderStatus.PAID
    order.payment_id = payment_id
    order.paid_at = now
    order.failure_reason = ""
    site.owner_id = customer.id
    site.purchased_at = now
    change_status(site, SiteStatus.OWNED, reason="Bought; hosting not subscribed yet.")
    # Other buyers' open checkouts for this site can no longer be honoured.
    db.session.execute(
        sa.update(Order)
        .where(Order.site_id == site.id, Order.id != order.id, Order.status == OrderStatus.PENDING)
        .values(status=OrderStatus.CANCELLED, failure_reason="The site was sold to someone else.")
    )
    setup_ends = now + timedelta(days=current_app.config["SETUP_DAYS"])
    _mail(
        customer.email,
        "purchase_confirmation",
        {
            "name": customer.name or order.buyer_name,
            "site_name": site.business_name,
            "site_url": site_url(site.slug),
            "amount_cents": order.amount_cents,
            "currency": order.currency,
            "paid_at": _iso(now),
            "payment_id": payment_id,
            "order_id": order.id,
            # The link is made when the mail is sent (accounts.links), never stored.
            "set_password_for": customer.id if customer.password_hash is None else None,
            "login_url": public_url_for("accounts.login"),
            "setup_ends": _iso(setup_ends),
            "status_url": dashboard_url(),
        },
        f"purchase_confirmation:{payment_id}",
    )
    db.session.flush()
    return "site sold" + (" to a new customer" if created else "")


def record_order_failure(order: Order, *, reason: str) -> str:
    """The buyer's payment failed; the site stays in preview and they may try again."""
    order = _lock(Order, order.id)
    if order.status != OrderStatus.PENDING:
        return f"ignored: order is {order.status}"
    order.status = OrderStatus.FAILED
    order.failure_reason = (reason or "The payment was declined.")[:500]
    db.session.flush()
    return "order failed"


def _flagged_payment_id(order: Order) -> str | None:
    return db.session.scalar(
        sa.select(Payment.provider_payment_id)
        .where(Payment.order_id == order.id, Payment.flag != "", Payment.refunded_at.is_(None))
        .order_by(Payment.id)
        .limit(1)
    )


def refund_order(
    order: Order,
    *,
    provider: PaymentProvider,
    actor: User | None = None,
    reason: str = "",
    payment_id: str | None = None,
) -> str:
    """Refund an order's payment through the provider (lost race, paid twice, or staff).

    `payment_id` defaults to the order's payment; another payment id refunds only that extra
    payment. Raises ProviderError when the provider refuses; nothing changes then. A staff
    refund of a sold site does not take the site back by itself (staff suspend it with a reason).
    """
    order = _lock(Order, order.id)
    # An order that was never applied may still hold money: its payment that was flagged.
    payment_id = payment_id or order.payment_id or _flagged_payment_id(order)
    payment = db.session.scalar(
        sa.select(Payment)
        .where(Payment.provider_payment_id == (payment_id or ""))
        .with_for_update()
    )
    if payment is None or payment.order_id != order.id:
        raise BillingError("Only a paid order can be refunded.")
    if payment.refunded_at is not None:
        return "already refunded"
    refund = provider.refund(payment_id)
    now = utcnow()
    before = {"status": order.status}
    payment.refunded_at = now
    payment.refund_due_at = None  # the promise is kept
    if payment_id == order.payment_id:
        order.status = OrderStatus.REFUNDED
        order.refunded_at = now
        if reason:
            order.failure_reason = reason[:500]
    site = db.session.get(Site, order.site_id)
    _mail(
        order.buyer_email,
        "refund_notice",
        {
            "name": order.buyer_name,
            "site_name": site.business_name,
            "amount_cents": payment.amount_cents,
            "currency": payment.currency,
            "payment_id": payment_id,
            "refund_id": refund.id,
            "reason": reason or order.failure_reason or "Your order was refunded.",
            "refunded_at": _iso(now),
        },
        f"refund_notice:{payment_id}",
    )
    if actor is not None:
        audit.record(
            actor,
            "order.refund",
            order,
            before=before,
            after={"status": order.status, "payment_id": payment_id, "refund_id": refund.id},
        )
    db.session.flush()
    return f"refunded {payment_id} ({refund.id})"


def reconcile_order(order: Order, *, provider: PaymentProvider) -> str:
    """Ask the provider about a pending order's checkout (the webhook may be late or lost)."""
    if order.status != OrderStatus.PENDING or not order.checkout_id:
        return "nothing to reconcile"
    state = provider.get_checkout(order.checkout_id)
    if state.paid and (state.amount_cents is None or not state.currency):
        return "checkout paid, amount not known: waiting for the webhook"
    if state.paid:
        return record_order_payment(
            order,
            payment_id=state.payment_id,
            amount_cents=state.amount_cents,
            currency=state.currency,
        )
    return f"checkout {state.status}"


# ---------------------------------------------------------------------------------------------
# Subscriptions


def site_subscriptions(site: Site) -> list[Subscription]:
    return list(
        db.session.scalars(
            sa.select(Subscription)
            .where(Subscription.site_id == site.id)
            .order_by(Subscription.id.desc())
        )
    )


def current_subscription(site: Site) -> Subscription | None:
    """The subscription that decides the site's hosting: running, else the latest."""
    return current_of(site_subscriptions(site))


def current_of(history: list[Subscription]) -> Subscription | None:
    """From a site's subscriptions, newest first: the running one, else the latest."""
    for sub in history:
        if sub.status in RUNNING_SUBSCRIPTION:
            return sub
    return history[0] if history else None


def start_subscription(
    site: Site,
    *,
    customer: User,
    provider: PaymentProvider,
    return_url: str,
) -> Subscription:
    """A pending subscription and its recurring checkout (activate, or reactivate after an end).

    An unpaid checkout for the site is reused; a new one after a cancel or expiry is a new row
    in the site's history, for the same customer.
    """
    if site.owner_id != customer.id:
        raise BillingError("Only the owner of this site can subscribe to its hosting.")
    if site.status == SiteStatus.PREVIEW:
        raise BillingError("This site has not been bought yet.")
    history = site_subscriptions(site)
    if any(sub.status in RUNNING_SUBSCRIPTION for sub in history):
        raise BillingError("Hosting for this site is already paid.")
    pending = next((s for s in history if s.status == SubscriptionStatus.PENDING), None)
    # An unpaid checkout is reused until it expires; then the same row gets a fresh one.
    if (
        pending is not None
        and pending.checkout_url
        and pending.updated_at > utcnow() - CHECKOUT_TTL
    ):
        return pending
    sub = pending or Subscription(
        site_id=site.id,
        customer_id=customer.id,
        provider=provider.name,
        status=SubscriptionStatus.PENDING,
        amount_cents=current_app.config["SUBSCRIPTION_PRICE_CENTS"],
        currency=current_app.config["CURRENCY"],
    )
    if pending is None:
        try:
            _add_guarded(sub)
        except IntegrityError as exc:
            raise BillingError("A checkout for this site is already being prepared.") from exc
    try:
        checkout = provider.create_checkout(
            item=subscription_item(site),
            success_url=return_url,
            cancel_url=return_url,
            metadata={"subscription_id": str(sub.id), "site": site.slug, "kind": "hosting"},
            expires_at=utcnow() + CHECKOUT_TTL,
        )
    except ProviderError as exc:
        # Leave no unpaid row behind that would block the next try.
        db.session.delete(sub)
        db.session.flush()
        raise BillingError(exc.user_message) from exc
    sub.checkout_id = checkout.id
    sub.checkout_url = checkout.url
    db.session.flush()
    return sub


SUBSCRIPTION_WITH_SITE_AND_CUSTOMER = (
    joinedload(Subscription.site),
    joinedload(Subscription.customer),
)


def find_subscription(
    *,
    provider_subscription_id: str | None = None,
    checkout_id: str | None = None,
    lock: bool = False,
) -> Subscription | None:
    """The subscription an event is about: by su_… (renewals, subscription.* events), or by
    the checkout id (a first payment). Never by our id in metadata, which only has to agree.
    With `lock`, loaded FOR UPDATE (with its site and customer) in one query."""
    if provider_subscription_id:
        condition = Subscription.provider_subscription_id == provider_subscription_id
    elif checkout_id:
        condition = Subscription.checkout_id == checkout_id
    else:
        return None
    query = sa.select(Subscription).where(condition)
    if lock:
        query = (
            query.options(*SUBSCRIPTION_WITH_SITE_AND_CUSTOMER)
            .with_for_update(of=Subscription)
            .execution_options(populate_existing=True)
        )
    return db.session.scalar(query)


def link_provider_subscription(sub: Subscription, provider_subscription_id: str) -> bool:
    """Store `su_…` the first time we learn it (subscription.* events carry nothing else)."""
    if not provider_subscription_id or sub.provider_subscription_id == provider_subscription_id:
        return False
    if sub.provider_subscription_id:
        log.warning(
            "subscription %s is %s, event says %s",
            sub.id,
            sub.provider_subscription_id,
            provider_subscription_id,
        )
        return False
    sub.provider_subscription_id = provider_subscription_id
    db.session.flush()
    return True


def _other_running(sub: Subscription) -> Subscription | None:
    return db.session.scalar(
        sa.select(Subscription).where(
            Subscription.site_id == sub.site_id,
            Subscription.id != sub.id,
            Subscription.status.in_(RUNNING_SUBSCRIPTION),
        )
    )


def _sub_mail_context(sub: Subscription, site: Site, **extra: Any) -> dict[str, Any]:
    customer = db.session.get(User, sub.customer_id)
    return {
        "name": customer.name,
        "site_name": site.business_name,
        "site_url": site_url(site.slug),
        "amount_cents": sub.amount_cents,
        "currency": sub.currency,
        "period_start": _iso(sub.current_period_start),
        "period_end": _iso(sub.current_period_end),
        "grace_until": _iso(sub.grace_until),
        "status_url": dashboard_url(),
        **extra,
    }


def _customer_email(sub: Subscription) -> str:
    return db.session.get(User, sub.customer_id).email


def record_subscription_payment(
    sub: Subscription,
    *,
    payment_id: str,
    amount_cents: int,
    currency: str,
    locked: bool = False,
    flag: str = "",
) -> str:
    """A subscription payment succeeded: the first one activates, later ones renew (one month
    each, from the end of the current period), a payment in grace makes it active again.
    Applied only when it is exactly the subscription's price (else stored, flagged, nothing
    changes). Idempotent on `payment_id`; the order of first payment and renewal doesn't
    matter."""
    if not locked:
        sub = _lock(Subscription, sub.id, *SUBSCRIPTION_WITH_SITE_AND_CUSTOMER)
    now = utcnow()
    flag = flag or price_mismatch(sub.amount_cents, sub.currency, amount_cents, currency)
    if not _record_payment(
        payment_id,
        kind="recurring",
        subscription_id=sub.id,
        amount_cents=amount_cents,
        currency=currency.upper(),
        paid_at=now,
        flag=flag[:300],
    ):
        return _already_recorded(payment_id)
    if flag:
        log.warning("payment %s for subscription %s not applied: %s", payment_id, sub.id, flag)
        return f"flagged: {flag}; not applied"
    # Site changes of a subscription happen under the subscription's lock.
    site = sub.site
    receipt = {"payment_id": payment_id, "paid_at": _iso(now)}

    if sub.status == SubscriptionStatus.CANCELLED:
        db.session.flush()
        log.warning("payment %s for cancelled subscription %s", payment_id, sub.id)
        return "payment recorded on a cancelled subscription (staff to review)"
    if sub.status in (SubscriptionStatus.PENDING, SubscriptionStatus.EXPIRED) and (
        _other_running(sub) is not None
    ):
        db.session.flush()
        return "payment recorded; the site already has a running subscription (staff to review)"

    if sub.status == SubscriptionStatus.PENDING:
        reactivation = db.session.scalar(
            sa.select(sa.func.count(Subscription.id)).where(
                Subscription.site_id == sub.site_id,
                Subscription.id != sub.id,
                Subscription.activated_at.is_not(None),
            )
        )
        sub.status = SubscriptionStatus.ACTIVE
        sub.activated_at = now
        sub.current_period_start = now
        sub.current_period_end = add_month(now)
        result = "subscription activated"
        template = "subscription_reactivated" if reactivation else "subscription_activated"
        dedupe = f"{template}:{sub.id}"
    elif sub.status == SubscriptionStatus.EXPIRED:
        # The provider's retries went through after our grace ended: hosting resumes.
        sub.status = SubscriptionStatus.ACTIVE
        sub.ended_at = None
        sub.current_period_start = now
        sub.current_period_end = add_month(now)
        result = "expired subscription paid: active again"
        template, dedupe = "subscription_reactivated", f"subscription_reactivated:{payment_id}"
    else:  # active or past_due: a renewal
        start = sub.current_period_end or now
        sub.current_period_start = start
        sub.current_period_end = add_month(start)
        result = "renewed" if sub.status == SubscriptionStatus.ACTIVE else "paid in grace: active"
        sub.status = SubscriptionStatus.ACTIVE
        template, dedupe = "payment_received", f"payment_received:{payment_id}"
    sub.grace_until = None
    sub.past_due_at = None
    if site.status == SiteStatus.SUSPENDED and not is_billing_suspension(site):
        # Staff suspended it (abuse, chargeback…): a payment does not overrule them.
        result += "; site stays suspended by staff"
    elif site.status != SiteStatus.ACTIVE:
        change_status(site, SiteStatus.ACTIVE, reason="Hosting paid.")
    db.session.flush()
    _mail(_customer_email(sub), template, _sub_mail_context(sub, site, **receipt), dedupe)
    return result


def mark_past_due(sub: Subscription, *, reason: str = "") -> str:
    """A renewal failed: the site stays online until grace_until (now + GRACE_DAYS)."""
    sub = _lock(Subscription, sub.id)
    if sub.status == SubscriptionStatus.PENDING:
        return "first payment failed: subscription not started"
    if sub.status != SubscriptionStatus.ACTIVE:
        return f"ignored: subscription is {sub.status}"
    now = utcnow()
    sub.status = SubscriptionStatus.PAST_DUE
    sub.past_due_at = now
    sub.grace_until = now + timedelta(days=current_app.config["GRACE_DAYS"])
    site = db.session.get(Site, sub.site_id)
    db.session.flush()
    _mail(
        _customer_email(sub),
        "payment_failed",
        _sub_mail_context(sub, site, reason=reason),
        # subscription.past_due and payment_intent.failed come together: one mail.
        f"payment_failed:{sub.id}:{_iso(sub.current_period_end)}",
    )
    return "past due"


def _end(sub: Subscription, *, now: datetime, reason: str, site: Site) -> None:
    sub.cancelled_at = sub.cancelled_at or now
    sub.ended_at = now
    if sub.status == SubscriptionStatus.PAST_DUE and sub.grace_until:
        # A lapsed payment keeps only its grace, not the cancellation grace on top.
        sub.site_online_until = sub.grace_until
    else:
        sub.site_online_until = now + timedelta(days=current_app.config["CANCEL_GRACE_DAYS"])
    sub.status = SubscriptionStatus.CANCELLED
    sub.cancel_at_period_end = False
    if reason:
        sub.cancel_reason = reason[:500]
    db.session.flush()
    _mail(
        _customer_email(sub),
        "subscription_cancelled",
        _sub_mail_context(
            sub,
            site,
            ended_at=_iso(now),
            online_until=_iso(sub.site_online_until),
            reactivate_url=dashboard_url(),
        ),
        f"subscription_cancelled:{sub.id}",
    )


def end_from_provider(sub: Subscription, *, event_type: str) -> str:
    """subscription.cancel / .paused / .pause: the provider stopped charging; the site keeps
    running for CANCEL_GRACE_DAYS (or what is left of a payment grace), then the sweep
    suspends it."""
    sub = _lock(Subscription, sub.id)
    if sub.status in ENDED_SUBSCRIPTION:
        return f"ignored: already {sub.status}"
    now = utcnow()
    site = db.session.get(Site, sub.site_id)
    if sub.status == SubscriptionStatus.PENDING:
        sub.status = SubscriptionStatus.CANCELLED
        sub.ended_at = now
        sub.cancel_reason = "The first payment never went through."
        db.session.flush()
        return "pending subscription closed"
    word = "paused" if "pause" in event_type else "cancelled"
    _end(sub, now=now, reason=sub.cancel_reason or f"The payment provider {word} it.", site=site)
    return f"ended ({event_type})"


def cancel_subscription(
    sub: Subscription,
    *,
    at_period_end: bool,
    reason: str,
    provider: PaymentProvider,
    actor: User | None = None,
) -> str:
    """Owner (or staff) cancels. At period end: nothing stops now, undo possible until then.
    Now: the provider subscription is deleted first (a ProviderError changes nothing)."""
    sub = _lock(Subscription, sub.id)
    if sub.status not in RUNNING_SUBSCRIPTION:
        raise BillingError("This subscription is not running.")
    before = {"status": sub.status, "cancel_at_period_end": sub.cancel_at_period_end}
    now = utcnow()
    site = db.session.get(Site, sub.site_id)
    if at_period_end and sub.status == SubscriptionStatus.ACTIVE:
        sub.cancel_at_period_end = True
        sub.cancel_reason = reason[:500]
        sub.cancelled_at = now
        result = "cancels at period end"
        db.session.flush()
        _mail(
            _customer_email(sub),
            "subscription_cancelled",
            _sub_mail_context(
                sub,
                site,
                scheduled=True,
                ended_at=_iso(sub.current_period_end),
                online_until=_iso(
                    sub.current_period_end + timedelta(days=current_app.config["CANCEL_GRACE_DAYS"])
                ),
                reactivate_url=dashboard_url(),
            ),
            f"subscription_cancel_scheduled:{sub.id}:{_iso(now)}",
        )
    else:
        if sub.provider_subscription_id:
            provider.cancel_subscription(sub.provider_subscription_id)
        _end(sub, now=now, reason=reason, site=site)
        result = "cancelled now"
    if actor is not None and actor.is_admin:
        audit.record(
            actor,
            "subscription.cancel",
            sub,
            before=before,
            after={"status": sub.status, "cancel_at_period_end": sub.cancel_at_period_end},
        )
    return result


def replace_past_due(sub: Subscription, *, provider: PaymentProvider) -> None:
    """The owner pays again while past due: stop the failing subscription's retries (provider
    first; a ProviderError changes nothing) and end it; the site keeps what is left of its grace
    while the new checkout is paid."""
    sub = _lock(Subscription, sub.id)
    if sub.status != SubscriptionStatus.PAST_DUE:
        return
    if sub.provider_subscription_id:
        provider.cancel_subscription(sub.provider_subscription_id)
    now = utcnow()
    sub.status = SubscriptionStatus.CANCELLED
    sub.cancelled_at = now
    sub.ended_at = now
    sub.site_online_until = sub.grace_until or now
    sub.cancel_reason = "Replaced by a new subscription after a failed payment."
    db.session.flush()


def undo_cancel(sub: Subscription) -> str:
    sub = _lock(Subscription, sub.id)
    if not (sub.status == SubscriptionStatus.ACTIVE and sub.cancel_at_period_end):
        raise BillingError("There is no scheduled cancellation to undo.")
    if sub.current_period_end and sub.current_period_end <= utcnow():
        raise BillingError("The period has ended; please reactivate instead.")
    undone_at = utcnow()
    sub.cancel_at_period_end = False
    sub.cancel_reason = ""
    sub.cancelled_at = None
    db.session.flush()
    # The owner's last mail said "cancelled": tell them it is not (one mail per undo).
    _mail(
        _customer_email(sub),
        "subscription_continues",
        _sub_mail_context(sub, sub.site),
        f"subscription_continues:{sub.id}:{_iso(undone_at)}",
    )
    return "cancellation undone"


def reconcile_subscription(sub: Subscription, *, provider: PaymentProvider) -> str:
    if sub.status != SubscriptionStatus.PENDING or not sub.checkout_id:
        return "nothing to reconcile"
    state = provider.get_checkout(sub.checkout_id)
    if not state.paid:
        return f"checkout {state.status}"
    if state.amount_cents is None or not state.currency:
        return "checkout paid, amount not known: waiting for the webhook"
    if state.paymentable_id:
        link_provider_subscription(sub, state.paymentable_id)
    return record_subscription_payment(
        sub, payment_id=state.payment_id, amount_cents=state.amount_cents, currency=state.currency
    )


def resend_purchase_receipt(order: Order) -> bool:
    """Queue a new copy of a paid order's receipt (the buyer cannot find it); False when the
    order has none. Its set-password link, if any, is made anew when the copy is sent."""
    if order.status != OrderStatus.PAID or not order.payment_id:
        return False
    original = db.session.scalar(
        sa.select(OutboxEmail).where(
            OutboxEmail.dedupe_key == f"purchase_confirmation:{order.payment_id}"
        )
    )
    if original is None:
        return False
    queue_mail(original.to, original.template, dict(original.context or {}))
    return True

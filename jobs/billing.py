"""Billing jobs: refunds (network calls stay out of webhook transactions)."""

from __future__ import annotations

import logging

from jobs import with_app_context
from lavish.extensions import db

log = logging.getLogger(__name__)


@with_app_context
def refund_order_job(order_id: int, payment_id: str) -> str:
    """Refund a payment that cannot be honoured (the site went to another buyer, or it was
    paid twice). A ProviderError propagates so RQ retries it; a refunded payment is left alone."""
    from lavish.billing.providers import get_provider
    from lavish.billing.services import refund_order
    from lavish.models import Order

    order = db.session.get(Order, order_id)
    if order is None:
        return "no such order"
    try:
        result = refund_order(
            order,
            provider=get_provider(),
            payment_id=payment_id,
            reason=(
                "The site was sold to another buyer a moment before your payment."
                if order.customer_id is None or order.payment_id == payment_id
                else "This site was paid twice; the extra payment is refunded."
            ),
        )
    except Exception:
        db.session.rollback()
        log.exception("refund of %s (order %s) failed; will be retried", payment_id, order_id)
        raise
    db.session.commit()
    log.info("order %s: %s", order_id, result)
    return result


@with_app_context
def reconcile_order_job(order_id: int) -> str:
    """Ask the provider about a pending order's checkout (the return page's webhook is late)."""
    from lavish.billing.providers import ProviderError, get_provider
    from lavish.billing.services import reconcile_order
    from lavish.models import Order

    order = db.session.get(Order, order_id)
    if order is None:
        return "no such order"
    try:
        result = reconcile_order(order, provider=get_provider())
    except ProviderError as exc:  # the page asks again later, and the webhook may still come
        db.session.rollback()
        log.warning("reconcile of order %s failed: %s", order_id, exc)
        return f"failed: {exc}"
    db.session.commit()
    log.info("reconciled order %s: %s", order_id, result)
    return result


@with_app_context
def reconcile_subscription_job(subscription_id: int) -> str:
    """Ask the provider about a pending subscription's checkout (the status page's)."""
    from lavish.billing.providers import ProviderError, get_provider
    from lavish.billing.services import reconcile_subscription
    from lavish.models import Subscription

    sub = db.session.get(Subscription, subscription_id)
    if sub is None:
        return "no such subscription"
    try:
        result = reconcile_subscription(sub, provider=get_provider())
    except ProviderError as exc:
        db.session.rollback()
        log.warning("reconcile of subscription %s failed: %s", subscription_id, exc)
        return f"failed: {exc}"
    db.session.commit()
    log.info("reconciled subscription %s: %s", subscription_id, result)
    return result

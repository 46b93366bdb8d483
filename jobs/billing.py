"""Billing jobs: refunds (network calls stay out of webhook transactions)."""

from __future__ import annotations

import logging
from collections.abc import Callable

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


def _reconcile(model: type, row_id: int, reconcile: Callable[..., str]) -> str:
    """Ask the provider about a pending checkout of `model` #`row_id`; commits what it learnt.
    A ProviderError is logged and dropped: the page asks again later, and the webhook may
    still come."""
    from lavish.billing.providers import ProviderError, get_provider

    row = db.session.get(model, row_id)
    name = model.__name__.lower()
    if row is None:
        return f"no such {name}"
    try:
        result = reconcile(row, provider=get_provider())
    except ProviderError as exc:
        db.session.rollback()
        log.warning("reconcile of %s %s failed: %s", name, row_id, exc)
        return f"failed: {exc}"
    db.session.commit()
    log.info("reconciled %s %s: %s", name, row_id, result)
    return result


@with_app_context
def reconcile_order_job(order_id: int) -> str:
    """Ask the provider about a pending order's checkout (the return page's webhook is late)."""
    from lavish.billing.services import reconcile_order
    from lavish.models import Order

    return _reconcile(Order, order_id, reconcile_order)


@with_app_context
def reconcile_subscription_job(subscription_id: int) -> str:
    """Ask the provider about a pending subscription's checkout (the status page's)."""
    from lavish.billing.services import reconcile_subscription
    from lavish.models import Subscription

    return _reconcile(Subscription, subscription_id, reconcile_subscription)

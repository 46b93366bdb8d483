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

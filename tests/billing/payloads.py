"""Recurrente-shaped webhook payloads (recurrente-api.md §4), signed with the real svix library."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from svix.webhooks import Webhook

from lavish.clock import utcnow

TEST_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
# What the fake Recurrente expects (the fake_recurrente fixture configures these keys).
KEY_HEADERS = {"X-PUBLIC-KEY": "pk_test_abc", "X-SECRET-KEY": "sk_test_xyz"}


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(6)}"


def payment_payload(
    event_type: str = "payment_intent.succeeded",
    *,
    payment_id: str | None = None,
    amount_cents: int = 49500,
    currency: str = "USD",
    metadata: dict | None = None,
    checkout_id: str | None = None,
    subscription_id: str | None = None,
    failure_reason: str | None = None,
    email: str = "buyer@example.com",
) -> dict[str, Any]:
    """The flat envelope Recurrente documents for payment_intent.* (recurrente-api.md §4)."""
    payment_id = payment_id or new_id("pa")
    paymentable = (
        {"id": subscription_id, "type": "Subscription", "tax_id": None, "address": None}
        if subscription_id
        else {"id": new_id("on"), "type": "OneTimePayment", "tax_id": None, "address": None}
    )
    checkout = None
    if metadata is not None or checkout_id:
        checkout = {
            "id": checkout_id or new_id("ch"),
            "status": "paid" if event_type.endswith("succeeded") else "unpaid",
            "payment": {"id": payment_id},
            "payment_method": {"id": "pay_m_1", "type": "card", "card": {"last4": "4242"}},
            "metadata": metadata or {},
        }
    return {
        "event_type": event_type,
        "api_version": "2024-04-24",
        "created_at": utcnow().isoformat(),
        "id": payment_id,
        "amount_in_cents": amount_cents,
        "currency": currency,
        "fee": 1500,
        "vat_withheld": 0,
        "failure_reason": failure_reason,
        "checkout": checkout,
        "customer": {"id": "us_test", "email": email, "full_name": "Bea Buyer"},
        "payment": {"id": payment_id, "paymentable": paymentable},
        "product": {"id": "prod_1"},
        "invoice": {"id": "in_1", "tax_invoice_url": None},
    }


def subscription_payload(event_type: str, subscription_id: str, email: str = "") -> dict:
    """subscription.* events: only su_ and the customer, no checkout, no metadata."""
    return {
        "event_type": event_type,
        "api_version": "2024-04-24",
        "created_at": utcnow().isoformat(),
        "id": subscription_id,
        "customer_id": "us_test",
        "customer_email": email,
        "customer_name": "Olivia Owner",
        "payment": {"id": None, "paymentable": {"id": subscription_id, "type": "Subscription"}},
        "product": {"id": "prod_1", "prices": []},
    }


def signed_headers(
    body: str, *, msg_id: str | None = None, secret: str = TEST_SECRET, at: datetime | None = None
) -> dict[str, str]:
    msg_id = msg_id or new_id("msg")
    at = at or utcnow()
    return {
        "svix-id": msg_id,
        "svix-timestamp": str(int(at.timestamp())),
        "svix-signature": Webhook(secret).sign(msg_id, at, body),
        "Content-Type": "application/json",
    }


def order_payment(order: Any, **fields: Any) -> dict[str, Any]:
    """A payment of `order`'s checkout, with its id in the metadata, as Recurrente sends it."""
    return payment_payload(
        checkout_id=order.checkout_id, metadata={"order_id": str(order.id)}, **fields
    )

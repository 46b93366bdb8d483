"""Billing fixtures: a preview site, Recurrente-shaped webhook payloads signed with the real
svix library, and a fake Recurrente API (pytest-httpserver) that checks what we send."""

from __future__ import annotations

import json
import secrets
from datetime import datetime
from typing import Any

import pytest
from svix.webhooks import Webhook

from lavish.clock import utcnow
from lavish.extensions import db
from lavish.models import Site, SiteStatus

TEST_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


@pytest.fixture
def app_config(app_config: dict, tmp_path) -> dict:
    app_config.update(
        SANDBOX_DIR=str(tmp_path / "sandbox"),
        PAYMENT_PROVIDER="sandbox",
        RECURRENTE_WEBHOOK_SECRET=TEST_SECRET,
    )
    return app_config


@pytest.fixture
def make_site(app):
    def make(slug: str = "la-plumbing-pros", *, status: str = SiteStatus.PREVIEW, **fields) -> Site:
        site = Site(
            slug=slug,
            business_name=fields.pop("business_name", "LA Plumbing Pros"),
            city="Los Angeles",
            status=status,
            **fields,
        )
        db.session.add(site)
        db.session.commit()
        return site

    return make


@pytest.fixture
def site(make_site) -> Site:
    return make_site()


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(6)}"


def payment_payload(
    event_type: str = "payment_intent.succeeded",
    *,
    payment_id: str | None = None,
    amount_cents: int = 49500,
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
        "currency": "USD",
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


@pytest.fixture
def send_webhook(client):
    def send(payload: dict, *, msg_id: str | None = None, **kwargs):
        body = json.dumps(payload)
        return client.post(
            "/webhooks/recurrente", data=body, headers=signed_headers(body, msg_id=msg_id, **kwargs)
        )

    return send


@pytest.fixture
def fake_recurrente(httpserver, app):
    """Point the app at a local fake Recurrente with the recurrente provider selected."""
    app.config.update(
        PAYMENT_PROVIDER="recurrente",
        RECURRENTE_API_URL=httpserver.url_for("/api"),
        RECURRENTE_PUBLIC_KEY="pk_test_abc",
        RECURRENTE_SECRET_KEY="sk_test_xyz",
        RECURRENTE_TIMEOUT=2.0,
    )
    return httpserver


KEY_HEADERS = {"X-PUBLIC-KEY": "pk_test_abc", "X-SECRET-KEY": "sk_test_xyz"}


@pytest.fixture(autouse=True)
def _billing_logs_enabled():
    """Alembic's fileConfig (run by the migrations fixture) disables loggers that existed
    before it; the rejection log lines are part of what these tests check."""
    import logging

    for name in ("lavish.billing.webhooks", "lavish.billing.routes", "lavish.billing.sweeps"):
        logging.getLogger(name).disabled = False

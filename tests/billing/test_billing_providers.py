"""The Recurrente client against a local fake Recurrente that checks what we send."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from werkzeug import Request, Response

from lavish.billing.providers import CheckoutItem, ProviderError, get_provider
from lavish.billing.providers.recurrente import RecurrenteProvider
from lavish.clock import utcnow
from lavish.extensions import db
from lavish.models import Order, Site
from tests.billing.payloads import KEY_HEADERS


def _json(request: Request) -> dict:
    assert request.headers["Content-Type"] == "application/json"
    return json.loads(request.get_data())


def test_one_time_checkout_sends_keys_inline_item_in_cents_and_metadata(fake_recurrente, app):
    fake_recurrente.expect_request(
        "/api/checkouts", method="POST", headers=KEY_HEADERS
    ).respond_with_json(
        {"id": "ch_123", "checkout_url": "https://app.recurrente.com/checkout-session/ch_123"},
        status=201,
    )
    provider = get_provider()
    assert isinstance(provider, RecurrenteProvider)
    checkout = provider.create_checkout(
        item=CheckoutItem(name="Website: X", amount_cents=49500, currency="USD"),
        success_url="http://localhost/sites/x/purchase/complete?order=7",
        cancel_url="http://localhost/sites/x",
        metadata={"order_id": "7"},
        expires_at=datetime(2026, 12, 1, 12, 0, tzinfo=UTC),
    )
    assert checkout.id == "ch_123"
    ((request, _),) = fake_recurrente.log
    body = _json(request)
    assert body["items"] == [
        {
            "name": "Website: X",
            "currency": "USD",
            "amount_in_cents": 49500,
            "quantity": 1,
            "charge_type": "one_time",
            "payment_method_types": ["card"],
        }
    ]
    assert body["metadata"] == {"order_id": "7"}
    assert body["expires_at"] == "2026-12-01T12:00:00+00:00"
    assert body["success_url"].endswith("?order=7") and body["cancel_url"]


def test_recurring_checkout_is_monthly(fake_recurrente, app):
    fake_recurrente.expect_request("/api/checkouts", method="POST").respond_with_json(
        {"id": "ch_s", "checkout_url": "https://x/ch_s"}, status=201
    )
    get_provider().create_checkout(
        item=CheckoutItem(name="Hosting", amount_cents=9500, currency="USD", recurring=True),
        success_url="s",
        cancel_url="c",
        metadata={"subscription_id": "3"},
    )
    ((request, _),) = fake_recurrente.log
    item = _json(request)["items"][0]
    assert (item["charge_type"], item["billing_interval"], item["billing_interval_count"]) == (
        "recurring",
        "month",
        1,
    )
    assert item["amount_in_cents"] == 9500


def test_get_checkout_cancel_and_refund(fake_recurrente, app):
    fake_recurrente.expect_request("/api/checkouts/ch_9", method="GET").respond_with_json(
        {
            "id": "ch_9",
            "status": "paid",
            "payment": {"id": "pa_9", "paymentable": {"type": "Subscription", "id": "su_9"}},
            "metadata": {"subscription_id": "4"},
            "total_in_cents": "9500",
            "currency": "USD",
        }
    )
    fake_recurrente.expect_request(
        "/api/subscriptions/su_9", method="DELETE", headers=KEY_HEADERS
    ).respond_with_json({"message": "Suscripción cancelada"})
    fake_recurrente.expect_request(
        "/api/refunds", method="POST", json={"payment_intent_id": "pa_9"}, headers=KEY_HEADERS
    ).respond_with_json({"id": "re_1", "status": "succeeded"})
    provider = get_provider()
    state = provider.get_checkout("ch_9")
    assert state.paid and state.payment_id == "pa_9" and state.paymentable_id == "su_9"
    assert state.amount_cents == 9500 and state.metadata == {"subscription_id": "4"}
    provider.cancel_subscription("su_9")
    assert provider.refund("pa_9").id == "re_1"
    fake_recurrente.check_assertions()


@pytest.mark.parametrize("status", [401, 422, 500, 503])
def test_errors_become_provider_errors_with_a_buyer_message(fake_recurrente, app, status):
    fake_recurrente.expect_request("/api/checkouts").respond_with_json(
        {"message": "nope", "errors": {"items": ["invalid"]}}, status=status
    )
    with pytest.raises(ProviderError) as error:
        get_provider().create_checkout(
            item=CheckoutItem(name="X", amount_cents=49500, currency="USD"),
            success_url="s",
            cancel_url="c",
            metadata={},
        )
    assert error.value.status == status and "nope" in str(error.value)
    assert "unavailable" in error.value.user_message


def test_timeouts_and_unreachable_servers_are_provider_errors(fake_recurrente, app):
    def slow(request: Request) -> Response:
        time.sleep(1.5)
        return Response("{}", content_type="application/json")

    fake_recurrente.expect_request("/api/checkouts/ch_slow").respond_with_handler(slow)
    app.config["RECURRENTE_TIMEOUT"] = 0.3
    with pytest.raises(ProviderError, match="timeout"):
        get_provider().get_checkout("ch_slow")
    app.config["RECURRENTE_API_URL"] = "http://127.0.0.1:9/api"  # nothing listens there
    with pytest.raises(ProviderError):
        get_provider().get_checkout("ch_x")


def test_purchase_through_recurrente_redirects_to_its_checkout(client, site, fake_recurrente):
    def create(request: Request) -> Response:
        body = json.loads(request.get_data())
        order_id = body["metadata"]["order_id"]
        # Our order id, and a token that lets the buyer back in without their session.
        assert body["success_url"].startswith(
            f"http://localhost/sites/la-plumbing-pros/purchase/complete?order={order_id}&token="
        )
        assert body["cancel_url"] == "http://localhost/sites/la-plumbing-pros"
        return Response(
            json.dumps(
                {"id": "ch_live1", "checkout_url": "https://app.recurrente.com/cs/ch_live1"}
            ),
            status=201,
            content_type="application/json",
        )

    fake_recurrente.expect_ordered_request(
        "/api/checkouts", method="POST", headers=KEY_HEADERS
    ).respond_with_handler(create)
    response = client.post(
        "/sites/la-plumbing-pros/purchase", data={"email": "b@example.com", "name": "B"}
    )
    assert response.status_code == 303
    assert response.location == "https://app.recurrente.com/cs/ch_live1"
    order = db.session.scalar(sa.select(Order))
    assert (order.checkout_id, order.provider, order.status) == (
        "ch_live1",
        "recurrente",
        "pending",
    )


def test_provider_down_shows_a_clear_message_and_leaves_nothing_half_created(
    client, site, fake_recurrente
):
    fake_recurrente.expect_request("/api/checkouts").respond_with_data("oops", status=502)
    response = client.post(
        "/sites/la-plumbing-pros/purchase", data={"email": "b@example.com", "name": "B"}
    )
    assert response.status_code == 503
    assert "The payment service is unavailable" in response.get_data(as_text=True)
    order = db.session.scalar(sa.select(Order))
    assert order.status == "failed" and order.checkout_id is None
    assert db.session.get(Site, site.id).status == "preview"
    # It works again once the provider is back.
    fake_recurrente.clear()
    fake_recurrente.expect_request("/api/checkouts").respond_with_json(
        {"id": "ch_ok", "checkout_url": "https://x/ch_ok"}, status=201
    )
    again = client.post(
        "/sites/la-plumbing-pros/purchase", data={"email": "b@example.com", "name": "B"}
    )
    assert again.status_code == 303 and again.location == "https://x/ch_ok"


def test_return_page_reconciles_with_get_checkout_when_the_webhook_is_late(
    client, site, fake_recurrente, outbox, time_machine
):
    fake_recurrente.expect_request("/api/checkouts", method="POST").respond_with_json(
        {"id": "ch_late", "checkout_url": "https://x/ch_late"}, status=201
    )
    client.post("/sites/la-plumbing-pros/purchase", data={"email": "b@example.com", "name": "B"})
    order = db.session.scalar(sa.select(Order))
    url = f"/sites/la-plumbing-pros/purchase/complete?order={order.id}"
    # Right after the return, the page waits for the webhook without asking Recurrente.
    assert "Confirming" in client.get(url).get_data(as_text=True)
    assert len(fake_recurrente.log) == 1

    fake_recurrente.expect_request("/api/checkouts/ch_late", method="GET").respond_with_json(
        {
            "id": "ch_late",
            "status": "paid",
            "payment": {"id": "pa_late", "paymentable": {"type": "OneTimePayment", "id": "on_1"}},
            "metadata": {"order_id": str(order.id)},
            "total_in_cents": "49500",
            "currency": "USD",
        }
    )
    time_machine.move_to(utcnow() + timedelta(seconds=30))
    poll = client.get(url, headers={"HX-Request": "true"})
    assert poll.status_code == 286 and "the site is yours" in poll.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Order, order.id).payment_id == "pa_late"
    assert db.session.get(Site, site.id).status == "owned"
    assert len(outbox) == 1

"""A signed payment is applied only when it is what we charged, for the checkout we created
(issue 10, defects 1, 3 and 5): anything else is stored, changes nothing, sends nothing, and is
flagged for staff and for the buyer who is waiting."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from lavish.extensions import db
from lavish.models import Order, OutboxEmail, Payment, Site, WebhookEvent
from tests.billing.payloads import order_payment, payment_payload


def _buy(client, email="bea@example.com", name="Bea Buyer") -> Order:
    client.post("/sites/la-plumbing-pros/purchase", data={"email": email, "name": name})
    return db.session.scalar(
        sa.select(Order).where(Order.buyer_email == email).order_by(Order.id.desc())
    )


def _nothing_changed(order: Order, site: Site) -> None:
    db.session.expire_all()
    assert db.session.get(Order, order.id).status == "pending"
    site = db.session.get(Site, site.id)
    assert site.status == "preview" and site.owner_id is None
    # No receipt, no account: nothing was queued for anyone.
    assert db.session.scalar(sa.select(sa.func.count(OutboxEmail.id))) == 0


def _event() -> WebhookEvent:
    return db.session.scalars(sa.select(WebhookEvent).order_by(WebhookEvent.id.desc())).first()


@pytest.mark.parametrize(
    ("amount", "currency"),
    [(100, "USD"), (49500, "GTQ"), (49499, "USD"), (49501, "usd"), (4950000, "USD")],
)
def test_a_payment_that_is_not_the_price_does_not_sell(
    client, site, send_webhook, outbox, amount, currency
):
    order = _buy(client)
    response = send_webhook(
        order_payment(order, payment_id="pa_odd", amount_cents=amount, currency=currency)
    )
    assert response.status_code == 200
    assert response.json["result"].startswith("flagged: paid")
    _nothing_changed(order, site)
    assert outbox == []
    # Stored, with why it was not applied.
    (payment,) = db.session.scalars(sa.select(Payment)).all()
    assert payment.order_id == order.id and payment.amount_cents == amount
    assert "charged 49500 USD" in payment.flag and payment.refund_due_at is None
    assert _event().state == "flagged"
    # The same payment again (a retry, the intent.* twin) stays flagged and changes nothing.
    again = send_webhook(order_payment(order, payment_id="pa_odd", amount_cents=amount))
    assert again.json["result"].startswith("flagged:")
    _nothing_changed(order, site)


def test_the_exact_price_in_either_case_of_currency_sells(client, site, send_webhook):
    order = _buy(client)
    response = send_webhook(order_payment(order, currency="usd"))
    assert response.json["result"].startswith("site sold")
    assert db.session.get(Site, site.id).status == "owned"


def test_the_buyer_is_told_their_payment_did_not_match(client, site, send_webhook):
    order = _buy(client)
    send_webhook(order_payment(order, amount_cents=100))
    url = f"/sites/la-plumbing-pros/purchase/complete?order={order.id}"
    page = client.get(url)
    html = page.get_data(as_text=True)
    assert "did not match the price" in html and "$1.00" in html and "$495.00" in html
    assert "staff" in html and "refunded" in html and "hx-trigger" not in html
    # The polling fragment stops (286) with the same answer.
    poll = client.get(url, headers={"HX-Request": "true"})
    assert poll.status_code == 286 and "did not match" in poll.get_data(as_text=True)


def test_staff_see_the_flag_on_the_dashboard_and_the_event(
    client, site, send_webhook, admin, login
):
    order = _buy(client)
    send_webhook(order_payment(order, amount_cents=100))
    event = _event()
    login(admin)
    dashboard = client.get("/admin/").get_data(as_text=True)
    assert "1 payments flagged" in dashboard
    page = client.get(f"/admin/webhooks/{event.id}").get_data(as_text=True)
    assert "Flagged for staff" in page and "paid 100 USD, charged 49500 USD" in page
    listed = client.get("/admin/webhooks?outcome=flagged").get_data(as_text=True)
    assert event.delivery_id in listed


def test_a_flagged_payment_can_be_refunded_by_staff(client, app, site, send_webhook, admin, login):
    order = _buy(client)
    send_webhook(order_payment(order, payment_id="pa_small", amount_cents=100))
    staff = app.test_client()
    login(admin, test_client=staff)
    page = staff.get(f"/admin/orders/{order.id}").get_data(as_text=True)
    assert "not applied: paid 100 USD" in page and "Refunds the flagged payment of $1.00" in page
    response = staff.post(f"/admin/orders/{order.id}/refund", data={"reason": "Wrong amount."})
    assert response.status_code == 303
    db.session.expire_all()
    payment = db.session.scalar(sa.select(Payment))
    assert payment.refunded_at is not None
    assert db.session.get(Order, order.id).status == "pending"  # still theirs to pay properly


def test_a_checkout_paid_for_one_order_never_sells_another(client, site, send_webhook, outbox):
    """Payment of checkout D naming order E in its metadata: neither is applied."""
    d = _buy(client, email="d@example.com")
    e = _buy(client, email="e@example.com")
    payload = payment_payload(
        payment_id="pa_cross", checkout_id=d.checkout_id, metadata={"order_id": str(e.id)}
    )
    response = send_webhook(payload)
    assert response.status_code == 200
    assert response.json["result"].startswith(
        f"flagged: checkout {d.checkout_id} is order {d.id}'s but its metadata names order"
    )
    _nothing_changed(e, site)
    _nothing_changed(d, site)
    assert db.session.scalar(sa.select(Payment.order_id)) == d.id
    assert _event().state == "flagged"


def test_metadata_naming_an_order_with_an_unknown_checkout_is_refused(client, site, send_webhook):
    e = _buy(client)
    response = send_webhook(
        payment_payload(checkout_id="ch_someoneelse", metadata={"order_id": str(e.id)})
    )
    assert response.json["result"].startswith("flagged: checkout ch_someoneelse is not order")
    _nothing_changed(e, site)
    assert db.session.scalar(sa.select(sa.func.count(Payment.id))) == 0


@pytest.mark.parametrize(
    "metadata",
    [
        {"order_id": "1" * 30},
        {"order_id": "²"},
        {"order_id": "-1"},
        {"order_id": ["1"]},
        {"subscription_id": "9" * 30},
        {"subscription_id": {"id": 1}},
    ],
)
def test_nonsense_ids_are_stored_and_acknowledged_as_ignored(client, site, send_webhook, metadata):
    response = send_webhook(payment_payload(metadata=metadata))
    assert response.status_code == 200
    assert response.json["result"].startswith("ignored:")
    event = _event()
    assert event.state == "ignored" and event.error == ""


@pytest.mark.parametrize(
    "payload",
    [
        {"event_type": "payment_intent.succeeded", "id": "pa_\x00x", "amount_in_cents": 1},
        {"event_type": "subscription.cancel\x00", "id": "su_" + "9" * 200},
        {"event_type": "subscription.past_due", "id": {"nested": True}},
        {
            "event_type": "payment_intent.succeeded",
            "id": "pa_1",
            "amount_in_cents": 49500,
            "currency": "USD",
            "checkout": {"id": "ch_\x00", "metadata": "not a dict"},
            "payment": ["not", "a", "dict"],
        },
    ],
)
def test_malformed_payloads_never_answer_500(client, site, send_webhook, payload):
    response = send_webhook(payload)
    assert response.status_code == 200, response.json
    assert _event().state in ("ignored", "flagged")

"""Staff billing actions through billing's services: refund an order (the provider is called
first), cancel a subscription, re-process a stored webhook. Recurrente is a local fake."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from werkzeug import Response

from lavish.clock import utcnow
from lavish.extensions import db
from lavish.models import AuditEntry, Order, Payment, Site, Subscription, WebhookEvent

KEYS = {"X-PUBLIC-KEY": "pk_test_abc", "X-SECRET-KEY": "sk_test_xyz"}


@pytest.fixture
def recurrente(httpserver, app):
    app.config.update(
        PAYMENT_PROVIDER="recurrente",
        RECURRENTE_API_URL=httpserver.url_for("/api"),
        RECURRENTE_PUBLIC_KEY="pk_test_abc",
        RECURRENTE_SECRET_KEY="sk_test_xyz",
        RECURRENTE_TIMEOUT=2.0,
    )
    return httpserver


@pytest.fixture
def staff(client, admin, login):
    login(admin)
    return client


@pytest.fixture
def owned(app, make_user):
    owner = make_user("olivia@example.com", name="Olivia")
    site = Site(slug="la-plumbing", business_name="LA Plumbing", status="active",
                owner_id=owner.id, purchased_at=utcnow())  # fmt: skip
    db.session.add(site)
    db.session.flush()
    order = Order(
        site_id=site.id, customer_id=owner.id, buyer_email=owner.email, buyer_name="Olivia",
        amount_cents=49500, currency="USD", status="paid", provider="recurrente",
        checkout_id="ch_1", payment_id="pa_1", paid_at=utcnow(),
    )  # fmt: skip
    db.session.add(order)
    db.session.flush()
    db.session.add(Payment(provider_payment_id="pa_1", kind="one_time", order_id=order.id,
                           amount_cents=49500, currency="USD", paid_at=utcnow()))  # fmt: skip
    sub = Subscription(
        site_id=site.id, customer_id=owner.id, provider="recurrente", status="active",
        provider_subscription_id="su_1", amount_cents=9500, currency="USD",
        activated_at=utcnow(), current_period_start=utcnow(),
        current_period_end=utcnow() + timedelta(days=20),
    )  # fmt: skip
    db.session.add(sub)
    db.session.commit()
    return {"owner": owner, "site": site, "order": order, "sub": sub}


def entries(action: str) -> list[AuditEntry]:
    return list(db.session.scalars(sa.select(AuditEntry).where(AuditEntry.action == action)))


def test_refund_calls_the_provider_then_marks_the_order(recurrente, staff, owned, outbox):
    recurrente.expect_oneshot_request(
        "/api/refunds", method="POST", json={"payment_intent_id": "pa_1"}, headers=KEYS
    ).respond_with_json({"id": "re_1", "status": "succeeded"})
    order = owned["order"]
    response = staff.post(f"/admin/orders/{order.id}/refund", data={"reason": "Duplicate"})
    assert response.status_code == 303, response.get_data(as_text=True)
    recurrente.check_assertions()
    db.session.refresh(order)
    assert order.status == "refunded" and order.refunded_at is not None
    [entry] = entries("order.refund")
    assert entry.after["refund_id"] == "re_1"
    assert any("olivia@example.com" in m.recipients for m in outbox)  # the buyer is told
    page = staff.get(f"/admin/orders/{order.id}").get_data(as_text=True)
    assert "order.refund" in page and "refunded" in page


def test_a_provider_failure_changes_nothing(recurrente, staff, owned):
    recurrente.expect_oneshot_request("/api/refunds", method="POST").respond_with_response(
        Response("boom", status=500)
    )
    order = owned["order"]
    response = staff.post(f"/admin/orders/{order.id}/refund", data={"reason": "Duplicate"})
    assert response.status_code == 422
    assert 'class="error"' in response.get_data(as_text=True)
    db.session.refresh(order)
    assert order.status == "paid"
    assert entries("order.refund") == []


def test_a_refund_needs_a_reason_and_a_paid_order(staff, owned):
    order = owned["order"]
    response = staff.post(f"/admin/orders/{order.id}/refund", data={"reason": ""})
    assert response.status_code == 422 and "Say why" in response.get_data(as_text=True)
    order.status, order.payment_id = "pending", None
    db.session.commit()
    response = staff.post(f"/admin/orders/{order.id}/refund", data={"reason": "x"})
    assert response.status_code == 422
    assert "Only a paid order can be refunded" in response.get_data(as_text=True)


def test_cancel_at_period_end(staff, owned):
    sub = owned["sub"]
    response = staff.post(
        f"/admin/subscriptions/{sub.id}/cancel",
        data={"reason": "Asked by phone", "at_period_end": "1"},
    )
    assert response.status_code == 303
    db.session.refresh(sub)
    assert sub.status == "active" and sub.cancel_at_period_end
    [entry] = entries("subscription.cancel")
    assert entry.after == {"status": "active", "cancel_at_period_end": True}
    page = staff.get(f"/admin/subscriptions/{sub.id}").get_data(as_text=True)
    assert "cancels at period end" in page and "subscription.cancel" in page


def test_cancel_now_calls_the_provider(recurrente, staff, owned):
    recurrente.expect_oneshot_request("/api/subscriptions/su_1", method="DELETE").respond_with_json(
        {}
    )
    sub = owned["sub"]
    response = staff.post(
        f"/admin/subscriptions/{sub.id}/cancel", data={"reason": "Fraud", "at_period_end": "0"}
    )
    assert response.status_code == 303
    recurrente.check_assertions()
    db.session.refresh(sub)
    assert sub.status == "cancelled" and sub.ended_at is not None
    # Cancelling again is refused with billing's message.
    response = staff.post(
        f"/admin/subscriptions/{sub.id}/cancel", data={"reason": "again", "at_period_end": "0"}
    )
    assert response.status_code == 422
    assert "not running" in response.get_data(as_text=True)


def test_cancel_form_errors(staff, owned):
    sub = owned["sub"]
    response = staff.post(f"/admin/subscriptions/{sub.id}/cancel", data={"at_period_end": "7"})
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Say why" in html and "Not a valid choice" in html


def _payment_event(order: Order, payment_id: str) -> dict:
    return {
        "event_type": "payment_intent.succeeded", "id": payment_id, "amount_in_cents": 49500,
        "currency": "USD", "failure_reason": None,
        "checkout": {"id": order.checkout_id, "status": "paid", "payment": {"id": payment_id},
                     "metadata": {"order_id": str(order.id)}},
        "customer": {"id": "us_1", "email": order.buyer_email, "full_name": "Bea Buyer"},
        "payment": {"id": payment_id, "paymentable": {"id": "on_1", "type": "OneTimePayment"}},
    }  # fmt: skip


def test_reprocess_a_webhook(app, staff, make_user):
    site = Site(slug="dentist", business_name="Dentist", status="preview")
    db.session.add(site)
    db.session.flush()
    order = Order(site_id=site.id, buyer_email="bea@example.com", buyer_name="Bea",
                  amount_cents=49500, currency="USD", status="pending", provider="sandbox",
                  checkout_id="ch_9")  # fmt: skip
    db.session.add(order)
    db.session.flush()
    event = WebhookEvent(
        delivery_id="msg_9", event_type="payment_intent.succeeded", object_id="pa_9",
        payload=json.dumps(_payment_event(order, "pa_9")),
        received_at=datetime(2026, 11, 1, tzinfo=UTC), result="error",
        error="OperationalError: database was down",
    )  # fmt: skip
    db.session.add(event)
    db.session.commit()

    response = staff.post(f"/admin/webhooks/{event.id}/reprocess")
    assert response.status_code == 303
    db.session.expire_all()
    assert db.session.get(Order, order.id).status == "paid"
    event = db.session.get(WebhookEvent, event.id)
    assert event.error == "" and event.processed_at is not None
    [entry] = entries("webhook.reprocess")
    assert entry.before["error"].startswith("OperationalError")
    assert entry.after["error"] == ""
    page = staff.get(f"/admin/webhooks/{event.id}").get_data(as_text=True)
    assert "Re-processed" in page and "webhook.reprocess" in page

    # Again: one effect only (the payment is already recorded).
    staff.post(f"/admin/webhooks/{event.id}/reprocess")
    db.session.expire_all()
    assert db.session.scalar(sa.select(sa.func.count(Payment.id))) == 1


def test_reprocess_a_payload_that_is_not_json(app, staff):
    event = WebhookEvent(delivery_id="msg_x", event_type="x", payload="not json",
                         received_at=utcnow())  # fmt: skip
    db.session.add(event)
    db.session.commit()
    response = staff.post(f"/admin/webhooks/{event.id}/reprocess")
    assert response.status_code == 303
    page = staff.get(response.headers["Location"]).get_data(as_text=True)
    assert "Re-processing failed" in page and "not JSON" in page
    assert len(entries("webhook.reprocess")) == 1


def test_dunning_recovery_through_billing(app, owned):
    """The model keeps the dunning history whatever billing clears on recovery."""
    from lavish.admin import queries
    from lavish.billing import services as billing

    sub = owned["sub"]
    billing.mark_past_due(sub, reason="card declined")
    db.session.commit()
    assert sub.status == "past_due" and sub.dunning_started_at is not None
    billing.record_subscription_payment(
        sub, payment_id="pa_grace", amount_cents=9500, currency="USD"
    )
    db.session.commit()
    db.session.refresh(sub)
    assert sub.status == "active" and sub.past_due_at is None  # billing clears it
    dunning = queries.dashboard_stats(currency="USD").dunning
    assert dunning["went_past_due"] == 1 and dunning["recovered"] == 1
    assert dunning["recovery_rate_percent"] == 100.0


def test_a_payment_does_not_lift_a_staff_suspension(app, staff, owned):
    from lavish.billing import services as billing

    site, sub = owned["site"], owned["sub"]
    response = staff.post(f"/admin/sites/{site.id}/suspend", data={"reason": "Hosting abuse"})
    assert response.status_code == 303
    db.session.refresh(site)
    assert site.status_reason == "Staff: Hosting abuse"
    assert not billing.is_billing_suspension(site)
    billing.record_subscription_payment(
        sub, payment_id="pa_renewal", amount_cents=9500, currency="USD"
    )
    db.session.commit()
    db.session.refresh(site)
    assert site.status == "suspended"

"""POST /webhooks/recurrente: Svix verification, storage, dedupe, concurrency, reprocess."""

from __future__ import annotations

import json
import threading
from datetime import timedelta

import pytest
import sqlalchemy as sa

from lavish.billing import webhooks
from lavish.clock import utcnow
from lavish.extensions import db
from lavish.models import Order, OutboxEmail, Payment, Site, WebhookEvent
from tests.billing.payloads import TEST_SECRET, payment_payload, signed_headers


def _count(model) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


@pytest.fixture
def order(client, site) -> Order:
    client.post("/sites/la-plumbing-pros/purchase", data={"email": "b@example.com", "name": "B"})
    return db.session.scalar(sa.select(Order))


def _post(client, body: str | bytes, headers: dict):
    return client.post("/webhooks/recurrente", data=body, headers=headers)


def test_the_documented_test_vector_verifies(app):
    """Recurrente's documented vector through our handler: the signature is accepted (the body
    is then refused for having no event_type); one changed character and it is not."""
    import time_machine

    body = b'{"test": 2432232314}'
    headers = {
        "svix-id": "msg_p5jXN8AQM9LWM0D4loKWxJek",
        "svix-timestamp": "1614265330",
        "svix-signature": "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
    }
    assert app.config["RECURRENTE_WEBHOOK_SECRET"] == TEST_SECRET
    with time_machine.travel(1614265330 + 60, tick=False):
        accepted = webhooks.handle_delivery(body, headers, "application/json")
        forged = webhooks.handle_delivery(
            body,
            {**headers, "svix-signature": headers["svix-signature"].replace("g0h", "g0i")},
            "application/json",
        )
    assert (accepted.status, accepted.message) == (400, "no event_type")
    assert forged.status == 400 and forged.message.startswith("signature not valid")
    assert db.session.scalar(sa.select(sa.func.count(WebhookEvent.id))) == 0


@pytest.mark.parametrize(
    "tamper",
    [
        "bad_signature",
        "other_secret",
        "stale_timestamp",
        "future_timestamp",
        "missing_headers",
        "malformed_json",
        "wrong_content_type",
        "too_large",
        "no_event_type",
    ],
)
def test_rejected_deliveries_change_nothing(client, order, tamper, caplog):
    payload = payment_payload(checkout_id=order.checkout_id, metadata={"order_id": str(order.id)})
    body = json.dumps(payload)
    headers = signed_headers(body)
    if tamper == "bad_signature":
        headers["svix-signature"] = "v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
    elif tamper == "other_secret":
        headers = signed_headers(body, secret="whsec_" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldY")
    elif tamper == "stale_timestamp":
        headers = signed_headers(body, at=utcnow() - timedelta(minutes=6))
    elif tamper == "future_timestamp":
        headers = signed_headers(body, at=utcnow() + timedelta(minutes=6))
    elif tamper == "missing_headers":
        del headers["svix-signature"]
    elif tamper == "malformed_json":
        body = body[:-1]
        headers = signed_headers(body)
    elif tamper == "wrong_content_type":
        headers["Content-Type"] = "text/plain"
    elif tamper == "too_large":
        payload["padding"] = "x" * (1024 * 1024)
        body = json.dumps(payload)
        headers = signed_headers(body)
    elif tamper == "no_event_type":
        body = json.dumps({"id": "pa_1"})
        headers = signed_headers(body)
    with caplog.at_level("WARNING"):
        response = _post(client, body, headers)
    assert response.status_code == 400
    assert "webhook rejected" in caplog.text
    db.session.expire_all()
    assert _count(WebhookEvent) == 0 and _count(Payment) == 0
    assert db.session.get(Order, order.id).status == "pending"
    assert "Set-Cookie" not in response.headers


def test_duplicate_delivery_and_replayed_payment_have_one_effect(
    client, order, send_webhook, outbox
):
    payload = payment_payload(
        payment_id="pa_dup", checkout_id=order.checkout_id, metadata={"order_id": str(order.id)}
    )
    first = send_webhook(payload, msg_id="msg_same")
    again = send_webhook(payload, msg_id="msg_same")
    # The same payment under a new delivery id (e.g. the legacy and intent.* families).
    other = send_webhook(payload, msg_id="msg_other")
    assert [first.status_code, again.status_code, other.status_code] == [200, 200, 200]
    assert again.json["result"] == "duplicate delivery"
    assert other.json["result"] == "duplicate payment"
    assert _count(Payment) == 1 and _count(WebhookEvent) == 2 and len(outbox) == 1


def test_unknown_objects_are_stored_and_acknowledged(client, app, send_webhook):
    unknown_order = send_webhook(payment_payload(metadata={"order_id": "987654"}))
    unknown_type = send_webhook({"event_type": "dispute.created", "id": "dp_1"})
    unknown_sub = send_webhook(
        {"event_type": "subscription.cancel", "id": "su_nobody", "customer_id": "us_x"}
    )
    assert [r.status_code for r in (unknown_order, unknown_type, unknown_sub)] == [200] * 3
    results = db.session.scalars(sa.select(WebhookEvent.result).order_by(WebhookEvent.id)).all()
    assert results == [
        "ignored: no order for this payment",
        "ignored: event type not handled",
        "deferred: unknown subscription su_nobody",
    ]


def test_processing_error_is_stored_retried_and_reprocessable(
    client, order, send_webhook, monkeypatch
):
    def boom(*args, **kwargs):
        raise RuntimeError("database hiccup")

    monkeypatch.setitem(webhooks.HANDLERS, "payment_intent.succeeded", boom)
    payload = payment_payload(
        payment_id="pa_retry", checkout_id=order.checkout_id, metadata={"order_id": str(order.id)}
    )
    response = send_webhook(payload, msg_id="msg_retry")
    assert response.status_code == 500
    event = db.session.scalar(sa.select(WebhookEvent))
    assert event.error.startswith("RuntimeError") and event.processed_at is None
    assert _count(Payment) == 0

    monkeypatch.undo()
    # Recurrente retries the same delivery: processed now.
    assert send_webhook(payload, msg_id="msg_retry").status_code == 200
    db.session.expire_all()
    assert db.session.get(Order, order.id).status == "paid"
    # Staff reprocess: idempotent.
    assert webhooks.reprocess(event.id) == "duplicate payment"
    assert _count(Payment) == 1


def test_sandbox_secret_is_generated_once_when_none_is_configured(app):
    app.config["RECURRENTE_WEBHOOK_SECRET"] = None
    app.instance_path = app.config["SANDBOX_DIR"]
    secret = webhooks.webhook_secret()
    assert secret.startswith("whsec_")
    app.config["RECURRENTE_WEBHOOK_SECRET"] = None
    assert webhooks.webhook_secret() == secret


def test_identical_deliveries_at_the_same_moment_have_one_effect(app, client, order, outbox):
    """Two threads deliver the same svix-id (and two more the same pa_ under other ids) at
    once, each through its own connection, on the real database."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("concurrency is proven on PostgreSQL")
    payload = payment_payload(
        payment_id="pa_race", checkout_id=order.checkout_id, metadata={"order_id": str(order.id)}
    )
    body = json.dumps(payload)
    deliveries = [signed_headers(body, msg_id="msg_race")] * 2 + [
        signed_headers(body, msg_id=f"msg_race_{n}") for n in range(2)
    ]
    barrier = threading.Barrier(len(deliveries))
    statuses: list[int] = []

    def deliver(headers: dict) -> None:
        with app.app_context():
            barrier.wait()
            outcome = webhooks.handle_delivery(body.encode(), headers, "application/json")
            db.session.commit()  # handle_delivery flushes; its caller commits
            statuses.append(outcome.status)
            db.session.remove()

    threads = [threading.Thread(target=deliver, args=(h,)) for h in deliveries]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert statuses == [200] * 4
    db.session.expire_all()
    assert _count(Payment) == 1
    assert _count(WebhookEvent) == 3
    assert db.session.scalar(sa.select(sa.func.count(OutboxEmail.id))) == 1
    assert db.session.get(Site, order.site_id).status == "owned"


def test_a_delivery_and_a_staff_reprocess_commit_once(app, client, order, admin, login):
    """handle_delivery and reprocess flush; the request commits once (jobs that would run
    after the commit are kept out: Redis is unreachable, the outbox sweep would send)."""
    from sqlalchemy import event

    commits: list[int] = []

    def count(connection) -> None:
        commits.append(1)

    login(admin)
    app.config["REDIS_URL"] = "redis://127.0.0.1:1/0"
    event.listen(db.engine, "commit", count)
    try:
        body = json.dumps(
            payment_payload(checkout_id=order.checkout_id, metadata={"order_id": str(order.id)})
        )
        assert _post(client, body, signed_headers(body)).status_code == 200
        assert len(commits) == 1
        event_id = db.session.scalar(sa.select(WebhookEvent.id))
        commits.clear()
        response = client.post(f"/admin/webhooks/{event_id}/reprocess")
        assert response.status_code == 303 and len(commits) == 1
    finally:
        event.remove(db.engine, "commit", count)
    db.session.expire_all()
    assert db.session.get(WebhookEvent, event_id).state == "processed"

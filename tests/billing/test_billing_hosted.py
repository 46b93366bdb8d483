"""What visitors see follows billing: bought → online without the claim bar, lapsed → 503
"temporarily unavailable", paid again → exactly the version that was live."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from lavish.billing import sweeps
from lavish.extensions import db
from lavish.models import Order, Subscription, User
from tests.billing.payloads import payment_payload, subscription_payload
from tests.hosting_support import make_folder, publish_new

START = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
PAGE = (
    b"<!doctype html><html><head><title>LA</title></head>"
    b"<body><h1>LA Plumbing v1</h1></body></html>"
)


def test_served_files_follow_purchase_lapse_and_reactivation(
    app, client, tmp_path, send_webhook, time_machine, login
):
    time_machine.move_to(START, tick=False)
    publish_new("la-plumbing-pros", make_folder(tmp_path, index=PAGE), "LA Plumbing Pros")
    visitor = app.test_client()
    assert b"LA Plumbing v1" in visitor.get("/la-plumbing-pros/").data

    client.post("/sites/la-plumbing-pros/purchase", data={"email": "o@example.com", "name": "O"})
    order = db.session.scalar(sa.select(Order))
    send_webhook(
        payment_payload(
            payment_id="pa_buy", checkout_id=order.checkout_id, metadata={"order_id": str(order.id)}
        )
    )
    assert b"LA Plumbing v1" in visitor.get("/la-plumbing-pros/").data

    owner = db.session.scalar(sa.select(User))
    from lavish.accounts.passwords import hash_password
    from tests.conftest import TEST_PASSWORD

    owner.password_hash = hash_password(TEST_PASSWORD)
    db.session.commit()
    login(owner)
    client.post("/subscriptions/activate", data={"site": "la-plumbing-pros"})
    sub = db.session.scalar(sa.select(Subscription))
    send_webhook(
        payment_payload(
            payment_id="pa_sub",
            amount_cents=9500,
            subscription_id="su_live",
            metadata={"subscription_id": str(sub.id)},
            checkout_id=sub.checkout_id,
        )
    )
    # A failed renewal, the grace runs out, the sweep suspends: 503, nothing deleted.
    time_machine.move_to(START + timedelta(days=31), tick=False)
    send_webhook(subscription_payload("subscription.past_due", "su_live"))
    assert visitor.get("/la-plumbing-pros/").status_code == 200
    time_machine.move_to(START + timedelta(days=39), tick=False)
    assert sweeps.expire_grace() == 1
    down = visitor.get("/la-plumbing-pros/")
    assert down.status_code == 503 and b"LA Plumbing v1" not in down.data

    # The provider's retry goes through after all: back online, the same version.
    send_webhook(
        payment_payload(payment_id="pa_late", amount_cents=9500, subscription_id="su_live")
    )
    back = visitor.get("/la-plumbing-pros/")
    assert back.status_code == 200 and b"LA Plumbing v1" in back.data

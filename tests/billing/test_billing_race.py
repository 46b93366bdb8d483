"""Buyers racing for one site, on PostgreSQL (issue 10, defect 4): every payment is a real
webhook delivery through the app, each in its own thread, session and connection. Exactly one
buyer owns the site, every other payment is refunded exactly once, nothing answers 5xx and
PostgreSQL detects no deadlock (the site's row is locked before the order's on every path)."""

from __future__ import annotations

import json
import threading

import pytest
import sqlalchemy as sa

from lavish.extensions import db
from lavish.models import Order, OutboxEmail, Payment, Site, User
from tests.billing.payloads import order_payment, signed_headers


@pytest.fixture
def app_config(app_config: dict) -> dict:
    # One connection per racing buyer, plus the refund each loser's request runs after commit.
    app_config["SQLALCHEMY_ENGINE_OPTIONS"] = {"pool_size": 25, "max_overflow": 25}
    app_config["RATELIMIT_ENABLED"] = False  # twenty checkouts from one test client
    return app_config


@pytest.mark.parametrize("buyers", [5, 20])
def test_buyers_racing_for_one_site(app, client, site, buyers, caplog):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("the deadlock is PostgreSQL's")
    for n in range(buyers):
        client.post(
            "/sites/la-plumbing-pros/purchase",
            data={"email": f"buyer{n}@example.com", "name": f"Buyer {n}"},
        )
    orders = db.session.scalars(sa.select(Order).order_by(Order.id)).all()
    assert len(orders) == buyers
    bodies = [
        json.dumps(order_payment(order, payment_id=f"pa_race_{order.id}")) for order in orders
    ]
    db.session.commit()
    barrier = threading.Barrier(buyers)
    statuses: list[int] = []

    def pay(body: str) -> None:
        own_client = app.test_client()  # its own request, app context and session
        barrier.wait()
        response = own_client.post("/webhooks/recurrente", data=body, headers=signed_headers(body))
        statuses.append(response.status_code)

    threads = [threading.Thread(target=pay, args=(body,)) for body in bodies]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert sorted(statuses) == [200] * buyers
    assert "DeadlockDetected" not in caplog.text and "deadlock" not in caplog.text.lower()
    db.session.expire_all()
    site = db.session.get(Site, site.id)
    owner = db.session.get(User, site.owner_id)
    assert site.status == "owned" and owner is not None
    statuses_by_order = {order.id: db.session.get(Order, order.id).status for order in orders}
    assert sorted(statuses_by_order.values()) == ["paid"] + ["refunded"] * (buyers - 1)
    payments = db.session.scalars(sa.select(Payment)).all()
    assert len(payments) == buyers
    refunded = [p for p in payments if p.refunded_at is not None]
    assert len(refunded) == buyers - 1 and all(p.refund_due_at is None for p in payments)
    winner = next(order for order in orders if statuses_by_order[order.id] == "paid")
    assert owner.email == winner.buyer_email
    # One refund notice per losing buyer, one receipt for the winner.
    mails = db.session.execute(sa.select(OutboxEmail.template, OutboxEmail.to)).all()
    assert sorted(t for t, _ in mails) == ["purchase_confirmation"] + ["refund_notice"] * (
        buyers - 1
    )
    assert len({to for t, to in mails if t == "refund_notice"}) == buyers - 1

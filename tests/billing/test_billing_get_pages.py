"""The two pages that ask the provider about a late payment are GETs: they do not write. The
asking is a job with its own transaction (run at once without Redis)."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from jobs.billing import reconcile_order_job, reconcile_subscription_job
from lavish.billing import routes
from lavish.clock import utcnow
from lavish.extensions import db
from lavish.models import Order, Site, Subscription
from tests.sql_support import recorded_statements

WRITES = ("INSERT", "UPDATE", "DELETE")


@pytest.fixture
def asked(monkeypatch) -> list[tuple]:
    """The jobs the pages ask for, recorded instead of run."""
    calls: list[tuple] = []
    monkeypatch.setattr(routes, "enqueue_now", lambda *args: calls.append(args) or True)
    return calls


def _paid_checkout(fake_recurrente, checkout_id: str, payment: dict, metadata: dict, cents: int):
    fake_recurrente.expect_request(f"/api/checkouts/{checkout_id}", method="GET").respond_with_json(
        {
            "id": checkout_id,
            "status": "paid",
            "payment": payment,
            "metadata": metadata,
            "total_in_cents": str(cents),
            "currency": "USD",
        }
    )


def _get_without_writes(client, url: str) -> None:
    """GET `url`: a page, and not one INSERT, UPDATE or DELETE on the way."""
    with recorded_statements() as executed:
        page = client.get(url)
    assert page.status_code == 200
    assert not [e.sql for e in executed if e.sql.lstrip().upper().startswith(WRITES)]


def test_the_return_page_does_not_write_and_its_job_applies_the_payment(
    client, site, fake_recurrente, asked, time_machine
):
    fake_recurrente.expect_request("/api/checkouts", method="POST").respond_with_json(
        {"id": "ch_late", "checkout_url": "https://x/ch_late"}, status=201
    )
    client.post("/sites/la-plumbing-pros/purchase", data={"email": "b@example.com", "name": "B"})
    order = db.session.scalar(sa.select(Order))
    _paid_checkout(
        fake_recurrente,
        "ch_late",
        {"id": "pa_late", "paymentable": {"type": "OneTimePayment", "id": "on_1"}},
        {"order_id": str(order.id)},
        49500,
    )
    time_machine.move_to(utcnow() + timedelta(seconds=30))
    _get_without_writes(client, f"/sites/la-plumbing-pros/purchase/complete?order={order.id}")
    assert asked == [(routes.RECONCILE_ORDER_JOB, order.id)]

    reconcile_order_job(order.id)
    db.session.expire_all()
    assert db.session.get(Order, order.id).payment_id == "pa_late"
    assert db.session.get(Site, site.id).status == "owned"


def test_the_status_page_does_not_write_and_its_job_activates_hosting(
    client, make_site, make_user, login, fake_recurrente, asked
):
    owner = make_user("owner@example.com")
    make_site(status="owned", owner_id=owner.id, purchased_at=utcnow())
    login(owner)
    fake_recurrente.expect_request("/api/checkouts", method="POST").respond_with_json(
        {"id": "ch_sub", "checkout_url": "https://x/ch_sub"}, status=201
    )
    client.post("/subscriptions/activate", data={"site": "la-plumbing-pros"})
    sub = db.session.scalar(sa.select(Subscription))
    _paid_checkout(
        fake_recurrente,
        "ch_sub",
        {"id": "pa_rec", "paymentable": {"type": "Subscription", "id": "su_rec"}},
        {"subscription_id": str(sub.id)},
        9500,
    )
    _get_without_writes(client, "/subscriptions/status?site=la-plumbing-pros")
    assert asked == [(routes.RECONCILE_SUBSCRIPTION_JOB, sub.id)]

    reconcile_subscription_job(sub.id)
    db.session.expire_all()
    sub = db.session.get(Subscription, sub.id)
    assert sub.status == "active" and sub.provider_subscription_id == "su_rec"

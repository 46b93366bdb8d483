"""Refunds are durable (issue 10, defect 9): the promise is a row (payments.refund_due_at),
written with the decision; a sweep queues the job again while it is due; the job is
idempotent; the staff dashboard counts refunds stuck for an hour."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from jobs.sweeps import SWEEPS
from lavish.admin import queries
from lavish.billing import sweeps
from lavish.billing.providers import sandbox
from lavish.clock import utcnow
from lavish.extensions import db
from lavish.models import Order, OutboxEmail, Payment
from tests.billing.payloads import order_payment

UNREACHABLE_REDIS = "redis://127.0.0.1:1/0"  # nothing listens on port 1: refused at once


def _buy(client, email: str) -> Order:
    client.post("/sites/la-plumbing-pros/purchase", data={"email": email, "name": "B"})
    return db.session.scalar(sa.select(Order).where(Order.buyer_email == email))


def _refund_notices() -> int:
    return db.session.scalar(
        sa.select(sa.func.count(OutboxEmail.id)).where(OutboxEmail.template == "refund_notice")
    )


def test_a_refund_that_could_not_be_queued_is_done_by_the_sweep(
    app, client, site, send_webhook, time_machine, monkeypatch
):
    time_machine.move_to(utcnow(), tick=False)
    first, second = _buy(client, "first@example.com"), _buy(client, "second@example.com")
    send_webhook(order_payment(first, payment_id="pa_first"))
    # Redis is down when the losing payment arrives: its refund job cannot be queued.
    app.config["REDIS_URL"] = UNREACHABLE_REDIS
    response = send_webhook(order_payment(second, payment_id="pa_second"))
    assert response.json["result"] == "refund: site already sold"
    db.session.expire_all()
    lost = db.session.scalar(sa.select(Payment).where(Payment.provider_payment_id == "pa_second"))
    assert lost.refund_due_at is not None and lost.refunded_at is None
    assert db.session.get(Order, second.id).status == "paid"  # not refunded yet

    # Redis is still down: the sweep cannot queue it either, and says so.
    time_machine.shift(timedelta(minutes=11))
    assert sweeps.requeue_due_refunds() == 0
    # An hour on, staff see it on the dashboard.
    time_machine.shift(timedelta(hours=1))
    assert queries.dashboard_stats(currency="USD").attention["stuck_refunds"] == 1

    # Redis back (here: jobs run in-process): the next sweep refunds it, once.
    app.config["REDIS_URL"] = None
    refunds: list[str] = []
    real_refund = sandbox.SandboxProvider.refund
    monkeypatch.setattr(
        sandbox.SandboxProvider,
        "refund",
        lambda self, payment_id: refunds.append(payment_id) or real_refund(self, payment_id),
    )
    assert sweeps.requeue_due_refunds() == 1
    db.session.expire_all()
    lost = db.session.scalar(sa.select(Payment).where(Payment.provider_payment_id == "pa_second"))
    assert lost.refunded_at is not None and lost.refund_due_at is None
    assert db.session.get(Order, second.id).status == "refunded"
    assert refunds == ["pa_second"] and _refund_notices() == 1
    assert queries.dashboard_stats(currency="USD").attention["stuck_refunds"] == 0
    # Nothing is due any more; the job itself, run again, refunds nothing twice.
    assert sweeps.requeue_due_refunds() == 0
    from jobs.billing import refund_order_job

    assert refund_order_job(second.id, "pa_second") == "already refunded"
    assert refunds == ["pa_second"] and _refund_notices() == 1


def test_a_refund_just_decided_is_left_to_its_job(app, client, site, send_webhook):
    first, second = _buy(client, "first@example.com"), _buy(client, "second@example.com")
    send_webhook(order_payment(first, payment_id="pa_first"))
    app.config["REDIS_URL"] = UNREACHABLE_REDIS
    send_webhook(order_payment(second, payment_id="pa_second"))
    app.config["REDIS_URL"] = None
    assert sweeps.requeue_due_refunds() == 0  # too fresh: its job may still be on its way


def test_the_refund_sweep_is_scheduled():
    assert "billing_requeue_due_refunds" in SWEEPS

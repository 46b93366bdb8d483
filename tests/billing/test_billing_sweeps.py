"""Sweeps: setup window, renewal reminders, idempotence, two processes at once."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from jobs.sweeps import SWEEPS, run_all_sweeps
from lavish.billing import sweeps
from lavish.billing.services import add_month
from lavish.extensions import db
from lavish.models import OutboxEmail, Site, Subscription

NOW = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def owner(make_user):
    return make_user("owner@example.com")


def _mails(template: str) -> int:
    return db.session.scalar(
        sa.select(sa.func.count(OutboxEmail.id)).where(OutboxEmail.template == template)
    )


def test_billing_sweeps_are_registered():
    for name in (
        "billing_expire_grace",
        "billing_end_cancelled_at_period_end",
        "billing_suspend_after_cancel_grace",
        "billing_suspend_unsubscribed",
        "billing_remind_activate_hosting",
        "billing_remind_renewals",
    ):
        assert name in SWEEPS


def test_setup_window_reminder_then_suspension(app, make_site, owner, time_machine, outbox):
    time_machine.move_to(NOW, tick=False)
    setup_days = app.config["SETUP_DAYS"]
    site = make_site(status="owned", owner_id=owner.id, purchased_at=NOW)
    make_site("fresh", status="owned", owner_id=owner.id, purchased_at=NOW + timedelta(days=5))

    time_machine.move_to(NOW + timedelta(days=setup_days - 4), tick=False)
    assert sweeps.remind_activate_hosting() == 0
    time_machine.move_to(NOW + timedelta(days=setup_days - 2), tick=False)
    assert sweeps.remind_activate_hosting() == 1
    assert sweeps.remind_activate_hosting() == 0  # no second mail
    (reminder,) = outbox
    assert "goes offline on June 15, 2026" in reminder.subject
    assert "http://localhost/subscriptions/status" in reminder.body

    assert sweeps.suspend_unsubscribed() == 0
    time_machine.move_to(NOW + timedelta(days=setup_days, seconds=1), tick=False)
    assert sweeps.suspend_unsubscribed() == 1
    assert sweeps.suspend_unsubscribed() == 0
    db.session.expire_all()
    assert db.session.get(Site, site.id).status == "suspended"
    assert db.session.scalar(sa.select(Site.status).where(Site.slug == "fresh")) == "owned"
    assert _mails("site_suspended") == 1


def _active_sub(site, owner, period_end) -> Subscription:
    sub = Subscription(
        site_id=site.id,
        customer_id=owner.id,
        provider="sandbox",
        provider_subscription_id=f"su_{site.id}",
        status="active",
        amount_cents=9500,
        currency="USD",
        current_period_start=period_end - timedelta(days=30),
        current_period_end=period_end,
        activated_at=period_end - timedelta(days=30),
    )
    db.session.add(sub)
    db.session.commit()
    return sub


def test_renewal_reminder_three_days_before_once_per_period(
    app, make_site, owner, time_machine, outbox
):
    time_machine.move_to(NOW, tick=False)
    site = make_site(status="active", owner_id=owner.id)
    sub = _active_sub(site, owner, NOW + timedelta(days=5))
    assert sweeps.remind_renewals() == 0
    time_machine.move_to(NOW + timedelta(days=2, hours=1), tick=False)
    assert sweeps.remind_renewals() == 1
    assert sweeps.remind_renewals() == 0
    assert "renews on June 6, 2026" in outbox[0].subject
    # Next period: reminded again.
    db.session.get(Subscription, sub.id).current_period_end = add_month(NOW + timedelta(days=5))
    db.session.commit()
    time_machine.move_to(add_month(NOW + timedelta(days=5)) - timedelta(days=1), tick=False)
    assert sweeps.remind_renewals() == 1


def test_sweep_command_runs_everything(app, make_site, owner, time_machine):
    time_machine.move_to(NOW, tick=False)
    make_site(status="owned", owner_id=owner.id, purchased_at=NOW - timedelta(days=60))
    results = run_all_sweeps()
    assert results["billing_suspend_unsubscribed"] == 1
    runner = app.test_cli_runner()
    output = runner.invoke(args=["sweep"]).output
    assert "billing_expire_grace: 0" in output and "billing_suspend_unsubscribed: 0" in output


def test_two_expiry_sweeps_at_once_change_each_row_once(app, make_site, owner, time_machine):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("SKIP LOCKED is PostgreSQL's")
    time_machine.move_to(NOW, tick=False)
    for n in range(60):
        site = make_site(f"site-{n}", status="active", owner_id=owner.id)
        sub = _active_sub(site, owner, NOW - timedelta(days=10))
        sub.status, sub.grace_until = "past_due", NOW - timedelta(days=1)
    db.session.commit()
    sweeps.BATCH_SIZE, saved = 7, sweeps.BATCH_SIZE
    barrier = threading.Barrier(2)
    counts: list[int] = []

    def run() -> None:
        with app.app_context():
            barrier.wait()
            counts.append(sweeps.expire_grace())
            db.session.remove()

    try:
        threads = [threading.Thread(target=run) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
    finally:
        sweeps.BATCH_SIZE = saved
    assert sum(counts) == 60
    assert _mails("subscription_expired") == 60
    assert (
        db.session.scalar(sa.select(sa.func.count(Site.id)).where(Site.status == "suspended")) == 60
    )


def test_sweeps_run_as_rq_jobs(app, redis_url, make_site, owner, time_machine):
    """What `rq cron` enqueues (jobs/cron.py) runs in a real RQ worker against real Redis."""
    from redis import Redis
    from rq import Queue, SimpleWorker

    time_machine.move_to(NOW, tick=False)
    make_site(status="owned", owner_id=owner.id, purchased_at=NOW - timedelta(days=60))
    connection = Redis.from_url(redis_url)
    queue = Queue("default", connection=connection)
    job = queue.enqueue(SWEEPS["billing_suspend_unsubscribed"])
    assert job.func_name == "jobs.sweeps.suspend_unsubscribed"
    SimpleWorker([queue], connection=connection).work(burst=True)
    job.refresh()
    assert job.get_status() == "finished" and job.return_value() == 1
    db.session.expire_all()
    assert db.session.scalar(sa.select(Site.status)) == "suspended"

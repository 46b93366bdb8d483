"""Hosting subscriptions: activation, renewals, grace, cancel/undo/reactivate, out-of-order."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from lavish.billing import sweeps
from lavish.billing.services import add_month
from lavish.clock import utcnow
from lavish.extensions import db
from lavish.models import Payment, Site, Subscription, User
from tests.billing.payloads import payment_payload, subscription_payload

START = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


@pytest.fixture
def owner(make_user) -> User:
    return make_user("owner@example.com")


@pytest.fixture
def owned_site(make_site, owner) -> Site:
    return make_site(status="owned", owner_id=owner.id, purchased_at=utcnow())


@pytest.fixture
def at_start(time_machine):
    """The clock is set before anyone signs in (sessions don't survive time going backwards)."""
    time_machine.move_to(START, tick=False)


@pytest.fixture
def signed_in(at_start, client, owner, login):
    login(owner)
    return client


def _subs() -> list[Subscription]:
    db.session.expire_all()
    return db.session.scalars(sa.select(Subscription).order_by(Subscription.id)).all()


def _activate(client, slug="la-plumbing-pros"):
    return client.post("/subscriptions/activate", data={"site": slug})


def _first_payment(send_webhook, sub: Subscription, su="su_abc", pa="pa_sub1"):
    return send_webhook(
        payment_payload(
            payment_id=pa,
            amount_cents=9500,
            subscription_id=su,
            metadata={"subscription_id": str(sub.id), "site": "la-plumbing-pros"},
            checkout_id=sub.checkout_id,
        )
    )


def _renewal(send_webhook, su="su_abc", pa="pa_renew"):
    return send_webhook(payment_payload(payment_id=pa, amount_cents=9500, subscription_id=su))


@pytest.fixture
def active(outbox, signed_in, owned_site, send_webhook, time_machine):
    time_machine.move_to(START, tick=False)
    _activate(signed_in)
    (sub,) = _subs()
    _first_payment(send_webhook, sub)
    return _subs()[0]


def test_activate_creates_pending_subscription_and_recurring_checkout(signed_in, owned_site):
    response = _activate(signed_in)
    assert response.status_code == 303 and "/sandbox/checkout/ch_" in response.location
    (sub,) = _subs()
    assert (sub.status, sub.amount_cents, sub.customer_id) == ("pending", 9500, owned_site.owner_id)
    from lavish.billing.providers.sandbox import load_checkout

    checkout = load_checkout(sub.checkout_id)
    assert checkout["item"]["recurring"] and checkout["metadata"]["subscription_id"] == str(sub.id)
    # Twice: the same checkout, no second row.
    assert _activate(signed_in).location == response.location and len(_subs()) == 1


def test_only_the_owner_can_activate(client, owned_site, make_user, login):
    login(make_user("stranger@example.com"))
    assert _activate(client).status_code == 403
    assert _subs() == []
    assert client.post("/subscriptions/activate", data={"site": "nope"}).status_code == 404


def test_first_payment_activates_site_and_mails(active, outbox):
    sub = active
    site = db.session.get(Site, sub.site_id)
    assert sub.status == "active" and sub.provider_subscription_id == "su_abc"
    assert sub.current_period_start == START and sub.current_period_end == add_month(START)
    assert site.status == "active"
    (mail,) = outbox
    assert "Hosting is active" in mail.subject and "April 10, 2026" in mail.body
    assert "pa_sub1" in mail.body


def test_renewal_extends_one_month_with_a_receipt(active, send_webhook, outbox):
    _renewal(send_webhook)
    _renewal(send_webhook)  # a replay of the same pa_: no second month
    sub = _subs()[0]
    assert sub.current_period_end == add_month(add_month(START))
    assert [m.subject for m in outbox][-1].startswith("Payment received")
    assert len(outbox) == 2
    assert db.session.scalar(sa.select(sa.func.count(Payment.id))) == 2


def test_failed_renewal_gives_grace_then_payment_restores(
    active, send_webhook, outbox, time_machine, app
):
    time_machine.move_to(add_month(START), tick=False)
    send_webhook(subscription_payload("subscription.past_due", "su_abc"))
    send_webhook(
        payment_payload(
            "payment_intent.failed", subscription_id="su_abc", failure_reason="Fondos insuficientes"
        )
    )
    sub = _subs()[0]
    assert sub.status == "past_due"
    assert sub.grace_until == add_month(START) + timedelta(days=app.config["GRACE_DAYS"])
    failed = [m for m in outbox if "Payment failed" in m.subject]
    assert len(failed) == 1 and "April 17, 2026" in failed[0].subject
    assert "http://localhost/subscriptions/status" in failed[0].body
    assert db.session.get(Site, sub.site_id).status == "active"

    time_machine.move_to(add_month(START) + timedelta(days=3), tick=False)
    _renewal(send_webhook, pa="pa_retry_ok")
    sub = _subs()[0]
    assert sub.status == "active" and sub.grace_until is None
    assert sub.current_period_end == add_month(add_month(START))
    assert outbox[-1].subject.startswith("Payment received")


def test_walk_through_grace_and_expiry_with_the_sweep(
    active, send_webhook, outbox, time_machine, signed_in, login, owner
):
    time_machine.move_to(add_month(START), tick=False)
    send_webhook(subscription_payload("subscription.past_due", "su_abc"))
    time_machine.move_to(add_month(START) + timedelta(days=6), tick=False)
    assert sweeps.expire_grace() == 0
    time_machine.move_to(add_month(START) + timedelta(days=7, seconds=1), tick=False)
    assert sweeps.expire_grace() == 1
    assert sweeps.expire_grace() == 0  # safe to run twice
    sub = _subs()[0]
    site = db.session.get(Site, sub.site_id)
    assert sub.status == "expired" and site.status == "suspended"
    assert sum("hosting expired" in m.subject for m in outbox) == 1

    # Reactivate: a new checkout, a new row, the same customer and site.
    login(owner)  # weeks later: a new session
    response = signed_in.post("/subscriptions/reactivate", data={"site": "la-plumbing-pros"})
    assert response.status_code == 303 and "/sandbox/checkout/" in response.location
    old, new = _subs()
    assert new.status == "pending" and new.customer_id == old.customer_id
    _first_payment(send_webhook, new, su="su_new", pa="pa_back")
    new = _subs()[1]
    assert new.status == "active" and db.session.get(Site, new.site_id).status == "active"
    assert outbox[-1].subject.startswith("Welcome back")
    assert db.session.scalar(sa.select(sa.func.count(User.id))) == 1


def test_cancel_at_period_end_then_undo(active, signed_in, outbox):
    confirm = signed_in.get("/subscriptions/cancel?site=la-plumbing-pros")
    assert confirm.status_code == 200 and 'name="at_period_end"' in confirm.get_data(as_text=True)
    fragment = signed_in.get(
        "/subscriptions/cancel?site=la-plumbing-pros", headers={"HX-Request": "true"}
    )
    assert "<html" not in fragment.get_data(as_text=True)
    response = signed_in.post(
        "/subscriptions/cancel",
        data={"site": "la-plumbing-pros", "at_period_end": "1", "reason": "Closing the shop"},
    )
    assert response.status_code == 303
    sub = _subs()[0]
    assert sub.status == "active" and sub.cancel_at_period_end
    assert sub.cancel_reason == "Closing the shop"
    assert "ends on April 10, 2026" in outbox[-1].subject
    status = signed_in.get("/subscriptions/status").get_data(as_text=True)
    assert "Keep my subscription" in status

    undo = signed_in.post("/subscriptions/reactivate", data={"site": "la-plumbing-pros"})
    assert undo.status_code == 303
    sub = _subs()[0]
    assert not sub.cancel_at_period_end and sub.status == "active" and len(_subs()) == 1
    # The owner's last word is not the cancellation: a mail says hosting continues.
    continues = outbox[-1]
    assert continues.subject == "Your hosting for LA Plumbing Pros continues"
    assert "April 10, 2026" in continues.body


def test_cancel_at_period_end_ends_then_site_suspended_after_cancel_grace(
    active, signed_in, time_machine, outbox, app
):
    signed_in.post("/subscriptions/cancel", data={"site": "la-plumbing-pros", "at_period_end": "1"})
    time_machine.move_to(add_month(START) - timedelta(hours=2), tick=False)
    assert sweeps.end_cancelled_at_period_end() == 0
    time_machine.move_to(add_month(START) - timedelta(minutes=30), tick=False)
    assert sweeps.end_cancelled_at_period_end() == 1
    assert sweeps.end_cancelled_at_period_end() == 0
    sub = _subs()[0]
    site = db.session.get(Site, sub.site_id)
    assert sub.status == "cancelled" and site.status == "active"
    grace = timedelta(days=app.config["CANCEL_GRACE_DAYS"])
    assert sub.site_online_until == add_month(START) - timedelta(minutes=30) + grace

    time_machine.move_to(sub.site_online_until + timedelta(seconds=1), tick=False)
    assert sweeps.suspend_after_cancel_grace() == 1
    assert sweeps.suspend_after_cancel_grace() == 0
    db.session.expire_all()
    assert db.session.get(Site, sub.site_id).status == "suspended"
    assert sum(m.subject.endswith("is offline") for m in outbox) == 1


def test_cancel_now_calls_the_provider_delete(active, signed_in, fake_recurrente, outbox):
    fake_recurrente.expect_request("/api/subscriptions/su_abc", method="DELETE").respond_with_json(
        {"message": "Suscripción cancelada"}
    )
    response = signed_in.post(
        "/subscriptions/cancel", data={"site": "la-plumbing-pros", "at_period_end": "0"}
    )
    assert response.status_code == 303
    fake_recurrente.check_assertions()
    sub = _subs()[0]
    assert sub.status == "cancelled" and sub.ended_at == START
    assert "is cancelled" in outbox[-1].subject


def test_cancel_now_with_the_provider_down_changes_nothing(active, signed_in, fake_recurrente):
    fake_recurrente.expect_request("/api/subscriptions/su_abc").respond_with_data("", status=500)
    response = signed_in.post(
        "/subscriptions/cancel", data={"site": "la-plumbing-pros", "at_period_end": "0"}
    )
    assert response.status_code == 503
    assert "payment service is unavailable" in response.get_data(as_text=True)
    assert _subs()[0].status == "active"


def test_cancel_form_errors_rerender_with_422(active, signed_in):
    response = signed_in.post(
        "/subscriptions/cancel",
        data={"site": "la-plumbing-pros", "at_period_end": "maybe", "reason": "x" * 600},
    )
    assert response.status_code == 422
    assert "under 500 characters" in response.get_data(as_text=True)


@pytest.mark.parametrize(
    "event_type", ["subscription.cancel", "subscription.paused", "subscription.pause"]
)
def test_provider_cancel_or_pause_ends_it(active, send_webhook, event_type, app):
    send_webhook(subscription_payload(event_type, "su_abc"))
    sub = _subs()[0]
    assert sub.status == "cancelled"
    assert sub.site_online_until == START + timedelta(days=app.config["CANCEL_GRACE_DAYS"])


def test_out_of_order_cancel_before_activation(signed_in, owned_site, send_webhook):
    _activate(signed_in)
    (sub,) = _subs()
    assert send_webhook(subscription_payload("subscription.cancel", "su_abc")).status_code == 200
    assert _subs()[0].status == "pending"
    _first_payment(send_webhook, sub)
    assert _subs()[0].status == "cancelled"


def test_out_of_order_renewal_and_create_before_first_payment(
    signed_in, owned_site, owner, send_webhook, time_machine
):
    time_machine.move_to(START, tick=False)
    _activate(signed_in)
    (sub,) = _subs()
    send_webhook(subscription_payload("subscription.create", "su_abc", email=owner.email))
    assert _subs()[0].provider_subscription_id == "su_abc"  # linked by the customer's email
    _renewal(send_webhook, pa="pa_second")
    _first_payment(send_webhook, sub, pa="pa_first")
    sub = _subs()[0]
    assert sub.status == "active"
    assert sub.current_period_end == add_month(add_month(START))
    assert db.session.scalar(sa.select(sa.func.count(Payment.id))) == 2


def test_out_of_order_renewal_before_anything_is_deferred_then_applied(
    signed_in, owned_site, send_webhook, time_machine
):
    time_machine.move_to(START, tick=False)
    _activate(signed_in)
    (sub,) = _subs()
    early = _renewal(send_webhook, pa="pa_early")
    assert early.json["result"].startswith("deferred")
    response = _first_payment(send_webhook, sub, pa="pa_first")
    assert "1 deferred applied" in response.json["result"]
    assert _subs()[0].current_period_end == add_month(add_month(START))


def test_status_page_shows_every_site_and_next_step(active, signed_in, make_site, owner):
    make_site("second-site", status="owned", owner_id=owner.id, purchased_at=utcnow())
    html = signed_in.get("/subscriptions/status").get_data(as_text=True)
    assert "April 10, 2026" in html and "Cancel subscription" in html
    assert "Activate hosting" in html and "History" in html


def test_status_page_reconciles_a_late_hosting_payment(
    signed_in, owned_site, fake_recurrente, outbox
):
    fake_recurrente.expect_request("/api/checkouts", method="POST").respond_with_json(
        {"id": "ch_sub", "checkout_url": "https://x/ch_sub"}, status=201
    )
    assert _activate(signed_in).location == "https://x/ch_sub"
    (sub,) = _subs()
    fake_recurrente.expect_request("/api/checkouts/ch_sub", method="GET").respond_with_json(
        {
            "id": "ch_sub",
            "status": "paid",
            "payment": {"id": "pa_rec", "paymentable": {"type": "Subscription", "id": "su_rec"}},
            "metadata": {"subscription_id": str(sub.id)},
            "total_in_cents": "9500",
            "currency": "USD",
        }
    )
    page = signed_in.get("/subscriptions/status?site=la-plumbing-pros")
    assert "renews automatically" in page.get_data(as_text=True)
    sub = _subs()[0]
    assert sub.status == "active" and sub.provider_subscription_id == "su_rec"
    assert "Hosting is active" in outbox[-1].subject


def test_a_payment_does_not_lift_a_staff_suspension(active, send_webhook):
    from lavish.hosting.services import change_status

    site = db.session.get(Site, active.site_id)
    change_status(site, "suspended", reason="Abuse report #12")
    db.session.commit()
    response = _renewal(send_webhook, pa="pa_after_abuse")
    assert "stays suspended by staff" in response.json["result"]
    db.session.expire_all()
    assert db.session.get(Site, active.site_id).status == "suspended"


@pytest.mark.parametrize(("amount", "currency"), [(100, "USD"), (9500, "GTQ")])
def test_a_renewal_that_is_not_the_price_does_not_extend(
    active, signed_in, send_webhook, outbox, amount, currency
):
    sub = active
    end = sub.current_period_end
    response = send_webhook(
        payment_payload(
            payment_id="pa_one_dollar",
            amount_cents=amount,
            currency=currency,
            subscription_id="su_abc",
        )
    )
    assert response.json["result"].startswith("flagged: paid")
    db.session.expire_all()
    assert _subs()[0].current_period_end == end
    assert len(outbox) == 1  # only the activation receipt
    payment = db.session.scalar(sa.select(Payment).where(Payment.flag != ""))
    assert payment.subscription_id == sub.id
    html = signed_in.get("/subscriptions/status").get_data(as_text=True)
    assert "does not match your plan" in html and "not applied" in html


def test_a_first_payment_must_come_through_the_subscriptions_checkout(
    signed_in, owned_site, send_webhook, outbox
):
    _activate(signed_in)
    (sub,) = _subs()
    response = send_webhook(
        payment_payload(
            payment_id="pa_elsewhere",
            amount_cents=9500,
            subscription_id="su_other",
            metadata={"subscription_id": str(sub.id)},
            checkout_id="ch_not_ours",
        )
    )
    assert response.json["result"].startswith("flagged: checkout ch_not_ours is not subscription")
    db.session.expire_all()
    assert _subs()[0].status == "pending" and _subs()[0].provider_subscription_id is None
    assert outbox == []


def test_hosting_checkouts_are_rate_limited(signed_in, owned_site):
    for _ in range(10):
        assert _activate(signed_in).status_code == 303
    refused = _activate(signed_in)
    assert refused.status_code == 429 and refused.headers["Retry-After"]
    assert len(_subs()) == 1  # the pending checkout was reused meanwhile

"""Buying a site: offer page, checkout, webhook-driven ownership, failures and races."""

from __future__ import annotations

import re

import sqlalchemy as sa

from lavish.extensions import db
from lavish.models import Order, Payment, Site, User
from tests.billing.payloads import payment_payload


def _orders() -> list[Order]:
    return db.session.scalars(sa.select(Order).order_by(Order.id)).all()


def _buy(client, slug="la-plumbing-pros", email="bea@example.com", name="Bea Buyer"):
    return client.post(f"/sites/{slug}/purchase", data={"email": email, "name": name})


def test_offer_page_shows_live_frame_price_and_form(client, site):
    page = client.get("/sites/la-plumbing-pros")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert '<iframe src="http://localhost/la-plumbing-pros/"' in html
    assert "$495.00" in html and "$95.00" in html
    assert 'name="email"' in html and 'name="name"' in html
    assert client.get("/sites/nope").status_code == 404


def test_sites_not_in_preview_cannot_be_bought(client, make_site):
    make_site(status="owned")
    html = client.get("/sites/la-plumbing-pros").get_data(as_text=True)
    assert "not for sale" in html and 'name="email"' not in html
    response = _buy(client)
    assert response.status_code == 409
    assert _orders() == []


def test_invalid_purchase_form_rerenders_with_values_and_messages(client, site):
    response = client.post(
        "/sites/la-plumbing-pros/purchase", data={"email": "not-an-email", "name": ""}
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "valid email" in html and "Enter your name" in html
    assert 'value="not-an-email"' in html
    assert _orders() == []


def test_purchase_creates_order_and_redirects_to_checkout(client, site):
    response = _buy(client, email=" Bea@Example.com ")
    assert response.status_code == 303
    assert response.location.startswith("http://localhost/sandbox/checkout/ch_")
    (order,) = _orders()
    assert (order.status, order.amount_cents, order.currency) == ("pending", 49500, "USD")
    assert order.buyer_email == "bea@example.com" and order.checkout_id

    # Pressing buy again reuses the same live checkout.
    again = _buy(client, email="bea@example.com")
    assert again.location == response.location
    assert len(_orders()) == 1


def test_signed_in_buyer_buys_for_their_account(client, site, make_user, login):
    user = make_user("owner@example.com")
    login(user)
    html = client.get("/sites/la-plumbing-pros").get_data(as_text=True)
    assert "Buying as" in html and 'name="email"' not in html
    response = client.post("/sites/la-plumbing-pros/purchase", data={})
    assert response.status_code == 303
    (order,) = _orders()
    assert order.customer_id == user.id and order.buyer_email == "owner@example.com"


def test_paid_webhook_makes_a_new_buyer_the_owner_with_a_set_password_mail(
    client, site, send_webhook, outbox
):
    _buy(client)
    (order,) = _orders()
    payload = payment_payload(
        payment_id="pa_first1", checkout_id=order.checkout_id, metadata={"order_id": str(order.id)}
    )
    assert send_webhook(payload).status_code == 200

    db.session.expire_all()
    site = db.session.get(Site, site.id)
    buyer = db.session.scalar(sa.select(User).where(User.email == "bea@example.com"))
    assert order.status == "paid" and order.payment_id == "pa_first1" and order.paid_at
    assert site.status == "owned" and site.owner_id == buyer.id and site.purchased_at
    assert buyer.password_hash is None and buyer.name == "Bea Buyer"
    payment = db.session.scalar(sa.select(Payment))
    assert (payment.provider_payment_id, payment.amount_cents, payment.kind) == (
        "pa_first1",
        49500,
        "one_time",
    )
    (mail,) = outbox
    assert mail.recipients == ["bea@example.com"]
    assert "pa_first1" in mail.body and "$495.00" in mail.body and "LA Plumbing Pros" in mail.body
    link = re.search(r"http://localhost/customer/set-password/\S+", mail.body)
    assert link and link.group(0) in mail.html

    # The return page says so, and stops polling (286) for htmx.
    poll = client.get(
        f"/sites/la-plumbing-pros/purchase/complete?order={order.id}",
        headers={"HX-Request": "true"},
    )
    assert poll.status_code == 286 and "the site is yours" in poll.get_data(as_text=True)
    assert "<html" not in poll.get_data(as_text=True)


def test_existing_customer_gets_the_site_without_being_signed_in(
    client, site, make_user, send_webhook, outbox
):
    user = make_user("bea@example.com")
    _buy(client, email="BEA@example.com")
    (order,) = _orders()
    send_webhook(
        payment_payload(checkout_id=order.checkout_id, metadata={"order_id": str(order.id)})
    )
    db.session.expire_all()
    assert db.session.get(Site, site.id).owner_id == user.id
    assert db.session.scalar(sa.select(sa.func.count(User.id))) == 1
    assert "set-password" not in outbox[0].body
    # Still anonymous: the dashboard asks for a login.
    assert client.get("/subscriptions/status").status_code == 302


def test_return_page_polls_and_never_grants_by_itself(client, site):
    _buy(client)
    (order,) = _orders()
    page = client.get(f"/sites/la-plumbing-pros/purchase/complete?order={order.id}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "Confirming your payment" in html
    assert 'hx-trigger="every 2s"' in html and 'http-equiv="refresh"' in html
    poll = client.get(
        f"/sites/la-plumbing-pros/purchase/complete?order={order.id}",
        headers={"HX-Request": "true"},
    )
    assert poll.status_code == 200 and "Confirming" in poll.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Site, site.id).status == "preview"
    assert client.get("/sites/la-plumbing-pros/purchase/complete?order=999").status_code == 404


def test_failed_payment_keeps_preview_and_offers_retry(client, site, send_webhook):
    _buy(client)
    (order,) = _orders()
    send_webhook(
        payment_payload(
            "payment_intent.failed",
            checkout_id=order.checkout_id,
            metadata={"order_id": str(order.id)},
            failure_reason="Tarjeta rechazada",
        )
    )
    db.session.expire_all()
    assert order.status == "failed" and db.session.get(Site, site.id).status == "preview"
    html = client.get(f"/sites/la-plumbing-pros/purchase/complete?order={order.id}").get_data(
        as_text=True
    )
    assert "did not go through" in html and "Try again" in html
    # In plain words; the provider's own text is for staff (issue 11).
    assert "Your bank declined the card." in html and "Tarjeta rechazada" not in html
    # Trying again gives a fresh checkout.
    retry = _buy(client)
    assert retry.status_code == 303 and len(_orders()) == 2


def test_two_buyers_race_one_owns_the_other_is_refunded_and_told(
    client, site, send_webhook, outbox
):
    _buy(client, email="first@example.com", name="First")
    _buy(client, email="second@example.com", name="Second")
    first, second = _orders()
    assert first.checkout_id != second.checkout_id
    send_webhook(
        payment_payload(
            payment_id="pa_a", checkout_id=first.checkout_id, metadata={"order_id": str(first.id)}
        )
    )
    send_webhook(
        payment_payload(
            payment_id="pa_b", checkout_id=second.checkout_id, metadata={"order_id": str(second.id)}
        )
    )

    db.session.expire_all()
    winner = db.session.scalar(sa.select(User).where(User.email == "first@example.com"))
    assert db.session.get(Site, site.id).owner_id == winner.id
    assert first.status == "paid"
    # The sandbox refunded pa_b right after the commit (jobs run in-process in tests).
    assert second.status == "refunded" and second.refunded_at
    refund_mail = [m for m in outbox if m.recipients == ["second@example.com"]]
    assert len(refund_mail) == 1
    assert "refunded" in refund_mail[0].body and "pa_b" in refund_mail[0].body
    assert db.session.scalar(sa.select(User).where(User.email == "second@example.com")) is None
    html = client.get(f"/sites/la-plumbing-pros/purchase/complete?order={second.id}").get_data(
        as_text=True
    )
    assert "Someone else bought this site first" in html


def test_a_day_old_pending_checkout_is_replaced(client, site, time_machine):
    from datetime import timedelta

    from lavish.clock import utcnow

    first = _buy(client).location
    time_machine.move_to(utcnow() + timedelta(hours=25))
    second = _buy(client).location
    assert second != first
    old, new = _orders()
    assert (old.status, old.failure_reason) == ("cancelled", "The checkout expired.")
    assert new.status == "pending"


def test_the_outcome_page_is_only_for_the_buyer(client, app, site, fake_recurrente):
    """Order ids are sequential: without the buyer's session or the return link's token the
    page is a 404, and nobody else's visit makes a provider call."""
    fake_recurrente.expect_request("/api/checkouts", method="POST").respond_with_json(
        {"id": "ch_mine", "checkout_url": "https://app.recurrente.com/cs/ch_mine"}, status=201
    )
    _buy(client)
    (order,) = _orders()
    return_url = fake_recurrente.log[0][0].get_json()["success_url"]
    calls = len(fake_recurrente.log)
    stranger = app.test_client()
    url = f"/sites/la-plumbing-pros/purchase/complete?order={order.id}"
    assert stranger.get(url).status_code == 404
    assert stranger.get(url + "&token=forged").status_code == 404
    other_token = return_url.split("token=")[1]
    assert stranger.get(f"{url.replace(str(order.id), '999')}&token={other_token}").status_code == (
        404
    )
    assert len(fake_recurrente.log) == calls  # no provider call for them
    # The buyer's own browser, and the provider's return link in any browser.
    assert client.get(url).status_code == 200
    back = stranger.get(return_url.removeprefix("http://localhost"))
    assert back.status_code == 200 and "Confirming your payment" in back.get_data(as_text=True)


def test_the_name_refuses_control_characters(client, site):
    # (C0 controls such as \x07 are refused for every form with a 400; these are not.)
    response = _buy(client, name="Bea\u202e Buyer\u200b")
    assert response.status_code == 422
    assert "control characters" in response.get_data(as_text=True)
    assert _orders() == []


def test_checkout_creation_is_rate_limited(client, app, site, make_site):
    make_site("second-site")
    for n in range(10):
        assert _buy(client, email=f"b{n}@example.com").status_code == 303
    refused = _buy(client, slug="second-site", email="late@example.com")
    assert refused.status_code == 429 and refused.headers["Retry-After"]
    assert len(_orders()) == 10
    # Per site too, whoever asks.
    for n in range(20):
        other = app.test_client()
        other.environ_base["REMOTE_ADDR"] = f"10.0.0.{n}"
        _buy(other, email=f"c{n}@example.com")
    last = app.test_client()
    last.environ_base["REMOTE_ADDR"] = "10.0.1.1"
    assert _buy(last, email="d@example.com").status_code == 429
    assert _buy(last, slug="second-site", email="d@example.com").status_code == 303


def test_checkout_item_uses_the_possessive_of_a_name_ending_in_s(app):
    from types import SimpleNamespace

    from lavish.billing.services import site_item

    site = SimpleNamespace(business_name="LA Plumbing Pros", slug="la-plumbing-pros")
    item = site_item(site)
    assert item.description == "One-time purchase of LA Plumbing Pros' website (la-plumbing-pros)"

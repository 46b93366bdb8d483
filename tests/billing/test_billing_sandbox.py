"""The sandbox provider end to end through the app: buy, subscribe, staff simulations."""

from __future__ import annotations

import sqlalchemy as sa

from lavish.accounts.passwords import hash_password
from lavish.extensions import db
from lavish.models import Site, Subscription, User, WebhookEvent
from tests.conftest import TEST_PASSWORD


def _follow_to_sandbox(client, response) -> str:
    assert response.status_code == 303
    path = response.location.removeprefix("http://localhost")
    page = client.get(path)
    assert page.status_code == 200 and "SANDBOX" in page.get_data(as_text=True)
    return path


def test_buy_and_subscribe_through_the_sandbox(client, site, login, admin, app, outbox):
    checkout = _follow_to_sandbox(
        client,
        client.post(
            "/sites/la-plumbing-pros/purchase", data={"email": "new@example.com", "name": "New"}
        ),
    )
    paid = client.post(checkout + "/pay")
    assert paid.status_code == 303 and "/purchase/complete?order=" in paid.location
    done = client.get(paid.location.removeprefix("http://localhost"))
    assert "the site is yours" in done.get_data(as_text=True)
    # Through the real endpoint code: signed, stored, processed.
    event = db.session.scalar(sa.select(WebhookEvent))
    assert event.event_type == "payment_intent.succeeded" and event.processed_at
    assert "set-password" in outbox[0].body

    owner = db.session.scalar(sa.select(User).where(User.email == "new@example.com"))
    owner.password_hash = hash_password(TEST_PASSWORD)
    db.session.commit()
    login(owner)
    dashboard = client.get("/customer/my-site").get_data(as_text=True)
    assert "Activate hosting" in dashboard

    checkout = _follow_to_sandbox(
        client, client.post("/subscriptions/activate", data={"site": "la-plumbing-pros"})
    )
    back = client.post(checkout + "/pay")
    assert back.location.endswith("/subscriptions/status?site=la-plumbing-pros")
    sub = db.session.scalar(sa.select(Subscription))
    assert sub.status == "active" and sub.provider_subscription_id.startswith("su_")
    assert db.session.get(Site, site.id).status == "active"
    assert "Hosting is active" in outbox[-1].subject

    # Staff walk the grace period with the simulation controls.
    client.post("/customer/logout")
    login(admin)
    staff_page = client.get("/sandbox/subscriptions").get_data(as_text=True)
    assert "new@example.com" in staff_page and "Failed renewal" in staff_page
    url = f"/sandbox/subscriptions/{sub.id}/simulate"
    assert client.post(url, data={"action": "failed_renewal"}).status_code == 303
    db.session.expire_all()
    assert db.session.get(Subscription, sub.id).status == "past_due"
    client.post(url, data={"action": "renewal"})
    db.session.expire_all()
    assert db.session.get(Subscription, sub.id).status == "active"
    client.post(url, data={"action": "cancel"})
    db.session.expire_all()
    assert db.session.get(Subscription, sub.id).status == "cancelled"


def test_decline_leaves_the_site_in_preview(client, site):
    checkout = _follow_to_sandbox(
        client,
        client.post(
            "/sites/la-plumbing-pros/purchase", data={"email": "d@example.com", "name": "D"}
        ),
    )
    declined = client.post(checkout + "/decline")
    page = client.get(declined.location.removeprefix("http://localhost")).get_data(as_text=True)
    assert "did not go through" in page
    assert db.session.get(Site, site.id).status == "preview"


def test_simulation_is_for_staff_only(client, make_user, login):
    login(make_user("customer@example.com"))
    assert (
        client.post("/sandbox/subscriptions/1/simulate", data={"action": "renewal"}).status_code
        == 403
    )


def test_sandbox_pages_do_not_exist_with_the_recurrente_provider(client, app):
    app.config["PAYMENT_PROVIDER"] = "recurrente"
    assert client.get("/sandbox/checkout/ch_abc").status_code == 404
    assert client.get("/sandbox/checkout/ch_..%2F..%2Fsecret").status_code == 404


def test_staff_sandbox_page_is_for_staff(client, make_user, login):
    assert client.get("/sandbox/subscriptions").status_code == 302
    login(make_user("customer@example.com"))
    assert client.get("/sandbox/subscriptions").status_code == 403


def test_webhook_needs_no_csrf_but_forms_do(client, site, app):
    app.config["WTF_CSRF_ENABLED"] = True
    import json

    from tests.billing.payloads import payment_payload, signed_headers

    body = json.dumps(payment_payload(metadata={"order_id": "1"}))
    assert (
        client.post("/webhooks/recurrente", data=body, headers=signed_headers(body)).status_code
        == 200
    )
    response = client.post(
        "/sites/la-plumbing-pros/purchase", data={"email": "a@example.com", "name": "A"}
    )
    assert response.status_code == 400

"""What buyers and owners read on the billing pages (issue 11): a scheduled cancellation's badge,
a declined card's reason in plain words, and "Try again" that keeps the buyer's details."""

from __future__ import annotations

import sqlalchemy as sa

from lavish.extensions import db
from lavish.formatting import decline_message
from lavish.models import Order
from tests.billing.test_billing_subscriptions import (  # noqa: F401 (fixtures)
    active,
    at_start,
    owned_site,
    owner,
    signed_in,
)


def test_cancel_at_period_end_shows_cancels_on_date_not_active(active, signed_in):  # noqa: F811
    signed_in.post(
        "/subscriptions/cancel",
        data={"site": "la-plumbing-pros", "at_period_end": "1", "reason": ""},
    )
    for path in ("/subscriptions/status", "/customer/my-site"):
        panel = _hosting_panel(signed_in.get(path).get_data(as_text=True))
        assert '<span class="badge cancelling">cancels on April 10, 2026</span>' in panel, path
        assert '<span class="badge active">active</span>' not in panel, path
    # Undone: active again.
    signed_in.post("/subscriptions/reactivate", data={"site": "la-plumbing-pros"})
    panel = _hosting_panel(signed_in.get("/subscriptions/status").get_data(as_text=True))
    assert '<span class="badge active">active</span>' in panel and "cancels on" not in panel


def _hosting_panel(html: str) -> str:
    """The hosting panel's heading, where its status badge is."""
    start = html.index('class="subscription-panel')
    return html[start : html.index("</h3>", start)]


def _decline_a_purchase(client) -> str:
    bought = client.post(
        "/sites/la-plumbing-pros/purchase", data={"email": "bea@example.com", "name": "Bea Buyer"}
    )
    checkout = bought.location.removeprefix("http://localhost")
    declined = client.post(checkout + "/decline")
    return client.get(declined.location.removeprefix("http://localhost")).get_data(as_text=True)


def test_declined_payment_reads_plainly_and_try_again_keeps_the_details(client, site, app):
    page = _decline_a_purchase(client)
    assert "did not go through" in page and "Your bank declined the card." in page
    assert "Tarjeta" not in page and "sandbox: Decline pressed" not in page
    # Staff still see what the provider said.
    (order,) = db.session.scalars(sa.select(Order)).all()
    assert order.failure_reason == "Tarjeta rechazada (sandbox: Decline pressed)"

    offer = client.get("/sites/la-plumbing-pros").get_data(as_text=True)
    assert 'value="Bea Buyer"' in offer and 'value="bea@example.com"' in offer
    # Someone else's browser gets an empty form.
    other = app.test_client().get("/sites/la-plumbing-pros").get_data(as_text=True)
    assert "bea@example.com" not in other and "Bea Buyer" not in other


def test_decline_messages():
    assert (
        decline_message("Fondos insuficientes (sandbox)") == "The card does not have enough funds."
    )
    assert decline_message("Tarjeta vencida") == "The card has expired."
    assert decline_message("CVV incorrecto") == "The security code (CVC) was not accepted."
    assert decline_message("Tarjeta rechazada") == "Your bank declined the card."
    assert decline_message("") == "Your bank declined the card."


def test_return_page_shows_the_order_next_steps_and_resends_the_receipt(client, site, app):
    from lavish.models import OutboxEmail

    bought = client.post(
        "/sites/la-plumbing-pros/purchase", data={"email": "bea@example.com", "name": "Bea Buyer"}
    )
    checkout = bought.location.removeprefix("http://localhost")
    paid = client.post(checkout + "/pay")
    complete = paid.location.removeprefix("http://localhost")
    page = client.get(complete).get_data(as_text=True)
    (order,) = db.session.scalars(sa.select(Order)).all()
    assert f"Order #{order.id}" in page and "$495.00" in page
    assert "LA Plumbing Pros&#39; website" in page
    for step in ("Check your email", "Set your password", "Activate hosting"):
        assert step in page
    assert "b***@example.com" in page and "Resend the email" in page

    def receipts() -> int:
        return db.session.scalar(
            sa.select(sa.func.count(OutboxEmail.id)).where(
                OutboxEmail.template == "purchase_confirmation", OutboxEmail.to == "bea@example.com"
            )
        )

    assert receipts() == 1
    resend = f"/sites/la-plumbing-pros/purchase/resend?order={order.id}"
    response = client.post(resend)
    assert response.status_code == 303 and receipts() == 2
    assert "We sent your receipt again" in client.get(complete).get_data(as_text=True)
    # Someone without the buyer's session or link cannot, and the buyer only a few times.
    assert app.test_client().post(resend).status_code == 404
    client.post(resend)
    client.post(resend)
    assert client.post(resend).status_code == 429 and receipts() == 4

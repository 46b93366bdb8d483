"""A purchase never lands in an account whose address nobody proved to read (issue 10, #2).

The attack: a stranger registers the buyer's address with a password of their own and never
verifies it; the buyer, signed out, then buys a site with that address. Before the fix the site
went to the stranger's account and the buyer's receipt only said "sign in".
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import sqlalchemy as sa

from lavish.accounts.passwords import verify_password
from lavish.extensions import db
from lavish.models import AuditEntry, OutboxEmail, Site, User
from tests.billing.payloads import payment_payload

STRANGER_PASSWORD = "stranger-knows-this-one-7"
BUYER_PASSWORD = "buyer-picked-this-one-42"


def _pay_for(client, send_webhook, *, email="bea@example.com", name="Bea Buyer", signed_in=False):
    data = {} if signed_in else {"email": email, "name": name}
    assert client.post("/sites/la-plumbing-pros/purchase", data=data).status_code == 303
    from lavish.models import Order

    order = db.session.scalars(sa.select(Order).order_by(Order.id.desc())).first()
    payload = payment_payload(metadata={"order_id": str(order.id)}, checkout_id=order.checkout_id)
    assert send_webhook(payload).status_code == 200
    db.session.expire_all()
    return order


def _sign_in(client, password, *, remember=False):
    data = {"email": "bea@example.com", "password": password}
    if remember:
        data["remember"] = "y"
    return client.post("/customer/login", data=data)


def _set_password_path(mail) -> str:
    match = re.search(r"http://localhost(/customer/set-password/\S+)", mail.body)
    assert match, mail.body
    return urlsplit(match.group(0)).path


def test_a_pre_registered_unverified_account_does_not_get_the_buyers_site(
    app, client, site, send_webhook, outbox
):
    # The stranger registers the buyer's address and stays signed in on two devices, one
    # with a remember-me cookie.
    stranger, stranger_remembered = app.test_client(), app.test_client()
    registered = stranger.post(
        "/customer/register",
        data={
            "name": "Mallory",
            "email": "bea@example.com",
            "password": STRANGER_PASSWORD,
            "password_confirm": STRANGER_PASSWORD,
        },
    )
    assert registered.status_code in (200, 303)
    assert _sign_in(stranger, STRANGER_PASSWORD).status_code == 303
    assert _sign_in(stranger_remembered, STRANGER_PASSWORD, remember=True).status_code == 303
    account = db.session.scalar(sa.select(User).where(User.email == "bea@example.com"))
    assert account is not None and not account.is_verified

    # The buyer, signed out, buys with their own address.
    buyer = app.test_client()
    outbox.clear()
    _pay_for(buyer, send_webhook)

    account = db.session.get(User, account.id)
    site = db.session.get(Site, site.id)
    assert site.owner_id == account.id  # the account of the address, now the buyer's to claim
    assert account.password_hash is None and not account.is_verified
    assert account.name == "Bea Buyer" and account.phone == ""
    # The stranger is out, on every device, and their password no longer works.
    assert stranger.get("/customer/my-site").status_code == 302
    with stranger_remembered.session_transaction() as session:
        session.clear()  # only the remember-me cookie is left
    assert stranger_remembered.get_cookie("remember_token") is not None
    assert stranger_remembered.get("/customer/my-site").status_code == 302
    assert _sign_in(app.test_client(), STRANGER_PASSWORD).status_code == 422
    # Staff can see what happened.
    (entry,) = db.session.scalars(
        sa.select(AuditEntry).where(AuditEntry.action == "account.password_cleared_for_purchase")
    ).all()
    assert entry.object_id == account.id and entry.actor_id is None

    # The receipt, sent to the address, lets its reader choose the password.
    (receipt,) = [m for m in outbox if m.recipients == ["bea@example.com"]]
    assert "Sign in:" not in receipt.body
    path = _set_password_path(receipt)
    assert path in receipt.html
    set_password = buyer.post(
        path, data={"password": BUYER_PASSWORD, "password_confirm": BUYER_PASSWORD}
    )
    assert set_password.status_code == 303
    account = db.session.get(User, account.id)
    db.session.refresh(account)
    assert account.is_verified and verify_password(account.password_hash, BUYER_PASSWORD)
    page = buyer.get("/customer/my-site")
    assert page.status_code == 200 and "LA Plumbing Pros" in page.get_data(as_text=True)
    # The stranger still cannot get in, and the link works once.
    assert _sign_in(app.test_client(), STRANGER_PASSWORD).status_code == 422
    assert stranger_remembered.get("/customer/my-site").status_code == 302
    assert buyer.get(path).status_code == 400


def test_an_unverified_signed_in_buyer_also_confirms_the_address_through_the_receipt(
    app, client, site, send_webhook, outbox, make_user, login
):
    """The order remembers who was signed in, but an unverified address is an unverified
    address: the receipt's link, sent to it, is how the account gets its password back."""
    user = make_user("bea@example.com", verified=False)
    login(user)
    outbox.clear()
    order = _pay_for(client, send_webhook, signed_in=True)
    assert order.customer_id == user.id
    user = db.session.get(User, user.id)
    db.session.refresh(user)
    assert db.session.get(Site, site.id).owner_id == user.id
    assert user.password_hash is None
    assert client.get("/customer/my-site").status_code == 302
    (receipt,) = [m for m in outbox if m.recipients == ["bea@example.com"]]
    assert client.get(_set_password_path(receipt)).status_code == 200


def test_a_verified_account_keeps_its_password_and_sessions(
    app, client, site, send_webhook, outbox, make_user, login
):
    user = make_user("bea@example.com")
    owner = app.test_client()
    login(user, test_client=owner)
    outbox.clear()
    _pay_for(client, send_webhook)
    user = db.session.get(User, user.id)
    db.session.refresh(user)
    assert db.session.get(Site, site.id).owner_id == user.id and user.password_hash
    assert owner.get("/customer/my-site").status_code == 200
    (receipt,) = [m for m in outbox if m.recipients == ["bea@example.com"]]
    assert "set-password" not in receipt.body and "Sign in" in receipt.body


def test_the_receipt_in_the_outbox_stores_no_link(client, site, send_webhook, outbox):
    _pay_for(client, send_webhook)
    stored = db.session.scalar(
        sa.select(OutboxEmail).where(OutboxEmail.template == "purchase_confirmation")
    )
    assert "set_password_url" not in stored.context
    assert "set-password" not in str(stored.context)
    assert stored.context["set_password_for"]
    # ... and the mail that was sent has the link, made by the job.
    (receipt,) = outbox
    assert _set_password_path(receipt)


def test_the_receipt_has_one_set_password_link_in_text_and_html(
    client, site, send_webhook, outbox, monkeypatch
):
    # Each token is minted with the second it was made in: a new one per call (as here) is
    # what a mail rendered across a second's boundary got in its HTML part.
    minted = iter(range(1, 100))
    monkeypatch.setattr(
        "lavish.mail.render.token_url",
        lambda purpose, user: f"http://localhost/customer/set-password/t{next(minted)}",
    )
    _pay_for(client, send_webhook)
    (receipt,) = outbox
    path = _set_password_path(receipt)
    assert path == "/customer/set-password/t1"
    assert path in receipt.html and "set-password/t2" not in receipt.html

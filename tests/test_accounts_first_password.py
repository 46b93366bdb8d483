"""The first password of an account a purchase created is welcomed, not alarmed about (issue 11)."""

from __future__ import annotations

from account_helpers import STRONG_PASSWORD

from lavish.accounts import links
from lavish.extensions import db


def test_first_password_sends_a_welcome_not_a_password_changed_alarm(client, make_user, outbox):
    buyer = make_user("buyer@example.com", password=None, verified=False)
    path = links.set_password_url(buyer).removeprefix("http://localhost")
    response = client.post(
        path, data={"password": STRONG_PASSWORD, "password_confirm": STRONG_PASSWORD}
    )
    assert response.status_code == 303
    db.session.refresh(buyer)
    assert buyer.password_hash and buyer.is_verified
    [mail] = outbox
    assert mail.subject == "Welcome to Lavish: your account is ready"
    assert "if this was not you" not in (mail.body + mail.html).lower()
    assert "/customer/my-site" in mail.body

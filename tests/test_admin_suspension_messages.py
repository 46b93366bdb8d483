"""A staff suspension: the internal note stays with staff; the owner reads a message meant for
them (or a plain default), by mail and on their page, and hears when the site is back (issue 11)."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from lavish.clock import utcnow
from lavish.extensions import db
from lavish.models import OutboxEmail, Site, Subscription, User

INTERNAL = "Chargeback investigation - internal note"


@pytest.fixture
def owner(make_user) -> User:
    return make_user("olivia@example.com", name="Olivia")


@pytest.fixture
def paid_site(app, owner) -> Site:
    site = Site(slug="la-plumbing-pros", business_name="LA Plumbing Pros", status="active",
                owner_id=owner.id, purchased_at=utcnow())  # fmt: skip
    db.session.add(site)
    db.session.flush()
    now = utcnow()
    db.session.add(
        Subscription(
            site_id=site.id,
            customer_id=owner.id,
            provider="sandbox",
            status="active",
            amount_cents=9500,
            currency="USD",
            current_period_start=now,
            current_period_end=now + timedelta(days=30),
            activated_at=now,
        )  # fmt: skip
    )
    db.session.commit()
    return site


def _mails(template: str) -> list[OutboxEmail]:
    return list(db.session.scalars(sa.select(OutboxEmail).where(OutboxEmail.template == template)))


def _owner_pages(app, owner: User, login) -> str:
    client = app.test_client()
    login(owner, test_client=client)
    return client.get("/customer/my-site").get_data(as_text=True) + client.get(
        "/subscriptions/status"
    ).get_data(as_text=True)


def test_the_internal_note_never_reaches_the_owner(app, client, admin, login, owner, paid_site):
    login(admin)
    response = client.post(f"/admin/sites/{paid_site.id}/suspend", data={"reason": INTERNAL})
    assert response.status_code == 303
    staff_page = client.get(f"/admin/sites/{paid_site.id}").get_data(as_text=True)
    assert INTERNAL in staff_page

    pages = _owner_pages(app, owner, login)
    assert INTERNAL not in pages
    assert "This site is offline." in pages and "Our team has taken it offline for now." in pages
    assert "renews automatically" not in pages
    assert "Hosting is paid until" in pages and "mailto:hello@lavish.local" in pages

    [mail] = _mails("site_offline_by_staff")
    assert mail.to == "olivia@example.com" and INTERNAL not in str(mail.context)


def test_staff_write_the_owner_a_message_and_unsuspending_tells_them(
    app, client, admin, login, owner, paid_site, outbox
):
    login(admin)
    client.post(
        f"/admin/sites/{paid_site.id}/suspend",
        data={"reason": INTERNAL, "owner_message": "We received a payment dispute from your bank."},
    )
    pages = _owner_pages(app, owner, login)
    assert "We received a payment dispute from your bank." in pages and INTERNAL not in pages
    offline = [m for m in outbox if m.subject == "LA Plumbing Pros is offline for now"]
    assert offline and "payment dispute" in offline[0].body and INTERNAL not in offline[0].body

    client.post(f"/admin/sites/{paid_site.id}/unsuspend", data={"reason": "Dispute won"})
    db.session.refresh(paid_site)
    assert paid_site.status == "active" and paid_site.owner_message == ""
    assert [m.subject for m in outbox][-1] == "LA Plumbing Pros is back online"
    assert "renews automatically" in _owner_pages(app, owner, login)

"""The owner's home: an onboarding checklist ticked from the data, and a glance at the site."""

from __future__ import annotations

from lavish.clock import utcnow
from lavish.extensions import db
from lavish.models import Site


def test_checklist_ticks_from_the_data_and_goes_away_when_done(client, make_user, login):
    owner = make_user("olivia@example.com", verified=False)
    site = Site(slug="la-plumbing-pros", business_name="LA Plumbing Pros", status="owned",
                owner_id=owner.id, purchased_at=utcnow())  # fmt: skip
    db.session.add(site)
    db.session.commit()
    login(owner)

    page = client.get("/customer/my-site").get_data(as_text=True)
    assert "Get your site ready" in page and "1 of 4 done" in page
    assert 'href="/customer/resend-verification">Send the link again' in page
    assert 'href="/subscriptions/status">Activate hosting' in page
    assert "once hosting is active" in page and "Request a change" not in page
    assert "View site" in page and '<iframe src="http://localhost/la-plumbing-pros/"' in page

    owner.email_verified_at = utcnow()
    site.status = "active"
    db.session.commit()
    page = client.get("/customer/my-site").get_data(as_text=True)
    assert "3 of 4 done" in page and "Send the link again" not in page
    assert 'href="/customer/edit-requests">Request a change' in page


def test_staff_and_owners_without_a_site_get_no_checklist(client, make_user, login):
    login(make_user("nosite@example.com"))
    page = client.get("/customer/my-site").get_data(as_text=True)
    assert "You don't have a site yet" in page and "Get your site ready" not in page

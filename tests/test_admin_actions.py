"""Staff actions: each one answers 303 with a flash, is recorded in the audit log (shown on the
audit page and on the object's page), and refuses bad input with a message (422)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from lavish.extensions import db
from lavish.models import AuditEntry, OutboxEmail, Site, Subscription


@pytest.fixture
def staff(client, admin, login):
    login(admin)
    return client


@pytest.fixture
def owner(make_user):
    return make_user("olivia@example.com", name="Olivia")


@pytest.fixture
def site(app, owner):
    site = Site(slug="la-plumbing-pros", business_name="LA Plumbing Pros", status="owned",
                owner_id=owner.id)  # fmt: skip
    db.session.add(site)
    db.session.commit()
    return site


def audit_entries(action: str) -> list[AuditEntry]:
    return list(db.session.scalars(sa.select(AuditEntry).where(AuditEntry.action == action)))


def test_suspend_and_unsuspend(staff, site, admin):
    response = staff.post(f"/admin/sites/{site.id}/suspend", data={"reason": "Chargeback"})
    assert response.status_code == 303
    assert response.headers["Location"] == f"/admin/sites/{site.id}"
    db.session.refresh(site)
    assert site.status == "suspended" and site.status_reason == "Chargeback"
    [entry] = audit_entries("site.suspend")
    assert entry.actor_id == admin.id and entry.object_id == site.id
    assert entry.before == {"status": "owned", "reason": ""}
    assert entry.after == {"status": "suspended", "reason": "Chargeback"}

    page = staff.get(f"/admin/sites/{site.id}").get_data(as_text=True)
    assert "is suspended" in page  # the flash
    assert "site.suspend" in page and "Chargeback" in page and "Unsuspend" in page
    assert "site.suspend" in staff.get("/admin/audit").get_data(as_text=True)

    response = staff.post(f"/admin/sites/{site.id}/unsuspend", data={"reason": "Resolved"})
    assert response.status_code == 303
    db.session.refresh(site)
    assert site.status == "owned"  # has an owner, no subscription
    assert audit_entries("site.unsuspend")[0].after == {"status": "owned", "reason": "Resolved"}


def test_unsuspend_goes_back_to_active_with_a_running_subscription(staff, site, owner):
    db.session.add(
        Subscription(
            site_id=site.id,
            customer_id=owner.id,
            provider="sandbox",
            status="past_due",
            amount_cents=9500,
            currency="USD",
        )  # fmt: skip
    )
    site.status = "suspended"
    db.session.commit()
    staff.post(f"/admin/sites/{site.id}/unsuspend", data={"reason": "ok"})
    db.session.refresh(site)
    assert site.status == "active"


def test_a_reason_is_required(staff, site):
    response = staff.post(f"/admin/sites/{site.id}/suspend", data={"reason": "  "})
    assert response.status_code == 422
    assert "Say why" in response.get_data(as_text=True)
    db.session.refresh(site)
    assert site.status == "owned"
    assert audit_entries("site.suspend") == []
    response = staff.post(f"/admin/sites/{site.id}/suspend", data={"reason": "x" * 501})
    assert response.status_code == 422


def test_suspending_twice_is_refused(staff, site):
    staff.post(f"/admin/sites/{site.id}/suspend", data={"reason": "abuse"})
    response = staff.post(f"/admin/sites/{site.id}/suspend", data={"reason": "again"})
    assert response.status_code == 422
    assert "already suspended" in response.get_data(as_text=True)
    assert len(audit_entries("site.suspend")) == 1
    response = staff.post(f"/admin/sites/{site.id}/unsuspend", data={"reason": "ok"})
    response = staff.post(f"/admin/sites/{site.id}/unsuspend", data={"reason": "ok"})
    assert response.status_code == 422 and "not suspended" in response.get_data(as_text=True)


def test_transfer(staff, site, make_user, owner):
    new_owner = make_user("bob@example.com", name="Bob")
    response = staff.post(f"/admin/sites/{site.id}/transfer", data={"email": " BOB@example.com "})
    assert response.status_code == 303
    db.session.refresh(site)
    assert site.owner_id == new_owner.id
    [entry] = audit_entries("site.transfer")
    assert entry.before == {"owner": "olivia@example.com"}
    assert entry.after == {"owner": "bob@example.com"}
    assert "site.transfer" in staff.get(f"/admin/sites/{site.id}").get_data(as_text=True)


@pytest.mark.parametrize(
    ("email", "message"),
    [
        ("nobody@example.com", "No account has the email nobody@example.com"),
        ("olivia@example.com", "already owns this site"),
        ("staff@example.com", "Staff accounts cannot own sites"),
        ("not-an-email", "That is not an email address"),
        ("", "Give the new owner"),
    ],
)
def test_transfer_refusals(staff, site, owner, email, message):
    response = staff.post(f"/admin/sites/{site.id}/transfer", data={"email": email})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert message in html
    assert f'value="{email}"' in html or not email  # the value is kept
    db.session.refresh(site)
    assert site.owner_id == owner.id
    assert audit_entries("site.transfer") == []


def test_a_preview_site_cannot_be_transferred(staff, app):
    preview = Site(slug="nobodys", business_name="Nobody's")
    db.session.add(preview)
    db.session.commit()
    response = staff.post(f"/admin/sites/{preview.id}/transfer", data={"email": "a@example.com"})
    assert response.status_code == 422
    assert "A preview site has no owner" in response.get_data(as_text=True)


def test_resend_email_queues_a_copy(staff, app, outbox, owner):
    original = OutboxEmail(to=owner.email, template="missing_template", context={"x": 1},
                           status="failed", last_error="SMTP 550")  # fmt: skip
    db.session.add(original)
    db.session.commit()
    response = staff.post(f"/admin/emails/{original.id}/resend")
    assert response.status_code == 303
    copy = db.session.scalar(sa.select(OutboxEmail).where(OutboxEmail.id != original.id))
    assert response.headers["Location"] == f"/admin/emails/{copy.id}"
    assert copy.to == owner.email and copy.template == "missing_template"
    assert copy.context == {"x": 1}
    db.session.refresh(original)
    assert original.status == "failed"  # the record of what happened stays
    [entry] = audit_entries("email.resend")
    assert entry.object_id == original.id and entry.after["copy"] == copy.id
    assert "email.resend" in staff.get(f"/admin/emails/{original.id}").get_data(as_text=True)


def test_actions_need_the_csrf_token(app, client, site, admin, login):
    login(admin)
    app.config["WTF_CSRF_ENABLED"] = True
    response = client.post(f"/admin/sites/{site.id}/suspend", data={"reason": "x"})
    assert response.status_code == 400
    db.session.refresh(site)
    assert site.status == "owned"


def test_htmx_posts_get_hx_redirect(staff, site):
    response = staff.post(
        f"/admin/sites/{site.id}/suspend", data={"reason": "x"}, headers={"HX-Request": "true"}
    )
    assert response.headers["HX-Redirect"] == f"/admin/sites/{site.id}"


def test_resend_verification(staff, make_user, outbox):
    user = make_user("new@example.com", verified=False)
    response = staff.post(f"/admin/customers/{user.id}/resend-verification")
    assert response.status_code == 303
    assert response.headers["Location"] == f"/admin/customers/{user.id}"
    assert [m.recipients for m in outbox] == [["new@example.com"]]
    assert "/customer/verify-email/" in outbox[0].body
    [entry] = audit_entries("user.resend_verification")
    assert entry.object_type == "users" and entry.object_id == user.id
    page = staff.get(f"/admin/customers/{user.id}").get_data(as_text=True)
    assert "A new verification link is on its way" in page
    assert "user.resend_verification" in page
    # The mail shows in the outbox list and renders in its preview.
    email = db.session.scalar(sa.select(OutboxEmail).where(OutboxEmail.to == "new@example.com"))
    page = staff.get(f"/admin/emails/{email.id}").get_data(as_text=True)
    assert f'src="/admin/emails/{email.id}/preview"' in page
    # The HTML comes in a frame of its own, with a CSP that allows a mail's inline styles only.
    preview = staff.get(f"/admin/emails/{email.id}/preview")
    assert "Confirm your email address" in preview.get_data(as_text=True)
    assert "sandbox" in preview.headers["Content-Security-Policy"]
    assert preview.headers["X-Frame-Options"] == "SAMEORIGIN"


def test_resend_verification_to_a_verified_customer(staff, make_user, outbox):
    user = make_user("done@example.com", verified=True)
    response = staff.post(f"/admin/customers/{user.id}/resend-verification")
    assert response.status_code == 303
    assert outbox == []
    assert audit_entries("user.resend_verification") == []
    assert "already verified" in staff.get(response.headers["Location"]).get_data(as_text=True)

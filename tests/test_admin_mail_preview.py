"""Staff previews of mails show placeholders where the mail has an account link, and every
view of a customer's mail is audited (issue 10, #8)."""

from __future__ import annotations

import html
import re

import pytest
import sqlalchemy as sa

from lavish.accounts import links
from lavish.extensions import db
from lavish.mail.outbox import queue_mail
from lavish.models import AuditEntry, OutboxEmail

# Any account link with a token in it, as text or in an attribute.
TOKEN_LINK = re.compile(r"/customer/(?:verify-email|reset-password|set-password)/[\w.\-]{20,}")


@pytest.fixture
def staff(app, admin, login):
    client = app.test_client()
    login(admin, test_client=client)
    return client


def _queue(to: str, template: str, context: dict) -> OutboxEmail:
    email = queue_mail(to, template, context)
    db.session.commit()
    return email


@pytest.mark.parametrize(
    ("template", "purpose"),
    [
        ("password_reset", "reset-password"),
        ("verify_email", "verify-email"),
        ("welcome", "verify-email"),
    ],
)
def test_a_preview_holds_no_working_account_link(staff, make_user, outbox, template, purpose):
    customer = make_user("olivia@example.com", name="Olivia", verified=False)
    email = _queue(customer.email, template, {"user_id": customer.id, "name": customer.name})
    # The mail that was sent (by the job, in-process in tests) has the real link.
    (sent,) = outbox
    assert TOKEN_LINK.search(sent.body) and f"/customer/{purpose}/" in sent.body

    page = staff.get(f"/admin/emails/{email.id}")
    assert page.status_code == 200
    text = html.unescape(html.unescape(page.get_data(as_text=True)))  # srcdoc is escaped twice
    assert not TOKEN_LINK.search(text)
    assert f"[{purpose} link: made when the mail is sent]" in text


def test_a_purchase_receipt_preview_has_no_set_password_link(staff, make_user, outbox):
    buyer = make_user("bea@example.com", password=None, verified=False)
    context = {
        "name": "Bea",
        "site_name": "LA Plumbing Pros",
        "site_url": "http://localhost/la-plumbing-pros/",
        "amount_cents": 49500,
        "currency": "USD",
        "paid_at": "2026-12-01T10:00:00+00:00",
        "payment_id": "pa_1",
        "order_id": 1,
        "set_password_for": buyer.id,
        "login_url": "http://localhost/customer/login",
        "setup_ends": "2026-12-15T10:00:00+00:00",
        "status_url": "http://localhost/subscriptions/status",
    }
    email = _queue(buyer.email, "purchase_confirmation", context)
    # A receipt queued before links were made at sending stored the link itself.
    legacy = _queue(
        buyer.email,
        "purchase_confirmation",
        {**context, "set_password_for": None, "set_password_url": links.set_password_url(buyer)},
    )
    assert all(TOKEN_LINK.search(m.body) for m in outbox)

    for row in (email, legacy):
        text = html.unescape(
            html.unescape(staff.get(f"/admin/emails/{row.id}").get_data(as_text=True))
        )
        assert not TOKEN_LINK.search(text)
        assert "[set-password link: made when the mail is sent]" in text


def test_viewing_a_mail_is_audited(staff, admin, make_user, time_machine):
    from datetime import timedelta

    from lavish.clock import utcnow

    customer = make_user("olivia@example.com")
    email = _queue(customer.email, "password_reset", {"user_id": customer.id, "name": "Olivia"})

    def views() -> list[AuditEntry]:
        return db.session.scalars(
            sa.select(AuditEntry).where(AuditEntry.action == "email.viewed")
        ).all()

    staff.get(f"/admin/emails/{email.id}")
    staff.get(f"/admin/emails/{email.id}/preview")  # the page's frame: the same reading
    [entry] = views()
    assert (entry.actor_id, entry.object_type, entry.object_id) == (admin.id, "emails", email.id)
    assert entry.after == {"to": "olivia@example.com"}
    time_machine.move_to(utcnow() + timedelta(minutes=11))
    staff.get(f"/admin/emails/{email.id}/preview")  # opened on its own, later: recorded
    assert len(views()) == 2
    # The mail's page lists who read it.
    assert "email.viewed" in staff.get(f"/admin/emails/{email.id}").get_data(as_text=True)


def test_the_preview_frame_holds_no_working_link_either(staff, make_user, outbox):
    customer = make_user("olivia@example.com")
    email = _queue(customer.email, "password_reset", {"user_id": customer.id, "name": "Olivia"})
    assert TOKEN_LINK.search(outbox[0].html)
    frame = staff.get(f"/admin/emails/{email.id}/preview")
    assert frame.status_code == 200
    html_text = html.unescape(frame.get_data(as_text=True))
    assert not TOKEN_LINK.search(html_text)
    assert "[reset-password link: made when the mail is sent]" in html_text

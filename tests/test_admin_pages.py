"""The console's pages as staff see them: lists with active search and paging, detail pages."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from lavish import audit
from lavish.extensions import db
from lavish.models import (
    Order,
    OutboxEmail,
    Payment,
    Site,
    Subscription,
    WebhookEvent,
)

PAID = datetime(2026, 10, 1, 12, tzinfo=UTC)


@pytest.fixture
def world(app, make_user, admin):
    owner = make_user("olivia@example.com", name="Olivia <b>Owner</b>")
    site = Site(
        slug="la-plumbing-pros", business_name="LA Plumbing Pros", city="Los Angeles",
        status="active", owner_id=owner.id, purchased_at=PAID,
    )  # fmt: skip
    other = Site(slug="dentist-100", business_name="Dentist 100% <script>", status="preview")
    db.session.add_all([site, other])
    db.session.flush()
    order = Order(
        site_id=site.id, customer_id=owner.id, buyer_email=owner.email, buyer_name="Olivia",
        amount_cents=49500, currency="USD", status="paid", provider="sandbox",
        checkout_id="ch_abc", payment_id="pa_abc", paid_at=PAID,
    )  # fmt: skip
    sub = Subscription(
        site_id=site.id, customer_id=owner.id, provider="sandbox", status="active",
        provider_subscription_id="su_abc", amount_cents=9500, currency="USD", activated_at=PAID,
    )  # fmt: skip
    db.session.add_all([order, sub])
    db.session.flush()
    db.session.add(
        Payment(
            provider_payment_id="pa_abc",
            kind="one_time",
            order_id=order.id,
            amount_cents=49500,
            currency="USD",
            paid_at=PAID,
        )  # fmt: skip
    )
    event = WebhookEvent(
        delivery_id="msg_123", event_type="payment_intent.succeeded", object_id="pa_abc",
        payload=json.dumps({"event_type": "payment_intent.succeeded", "id": "pa_abc",
                            "note": "<img src=x onerror=alert(1)>"}),
        received_at=PAID, processed_at=PAID, result="order paid",
    )  # fmt: skip
    email = OutboxEmail(to=owner.email, template="no_such_template", subject="Welcome!")
    db.session.add_all([event, email])
    db.session.flush()
    audit.record(admin, "site.suspend", site, before={"status": "active"}, after={"status": "x"})
    db.session.commit()
    return {
        "owner": owner, "site": site, "other": other, "order": order, "sub": sub,
        "event": event, "email": email,
    }  # fmt: skip


@pytest.fixture
def staff(client, admin, login):
    login(admin)
    return client


def test_lists_show_their_rows(staff, world):
    expectations = {
        "/admin/sites": ["LA Plumbing Pros", "/la-plumbing-pros/", "olivia@example.com"],
        "/admin/customers": ["olivia@example.com", "Olivia &lt;b&gt;Owner&lt;/b&gt;"],
        "/admin/orders": ["#1", "$495.00", "la-plumbing-pros"],
        "/admin/subscriptions": ["su_abc", "$95.00", "olivia@example.com"],
        "/admin/webhooks": ["msg_123", "payment_intent.succeeded", "order paid"],
        "/admin/emails": ["Welcome!", "no_such_template"],
        "/admin/audit": ["site.suspend", "staff@example.com", "sites #1"],
    }
    for url, needles in expectations.items():
        response = staff.get(url)
        html = response.get_data(as_text=True)
        assert response.status_code == 200, url
        assert 'aria-current="page"' in html
        for needle in needles:
            assert needle in html, (url, needle)


def test_html_in_data_is_escaped(staff, world):
    html = staff.get("/admin/sites").get_data(as_text=True)
    assert "Dentist 100% &lt;script&gt;" in html
    assert "<script>" not in html.split("</head>")[1]


def test_detail_pages(staff, world):
    pages = {
        f"/admin/sites/{world['site'].id}": ["LA Plumbing Pros", "olivia@example.com", "#1",
                                             "su_abc", "site.suspend", "Suspend"],
        f"/admin/customers/{world['owner'].id}": ["la-plumbing-pros", "$495.00", "su_abc",
                                                  "Welcome!"],
        f"/admin/orders/{world['order'].id}": ["pa_abc", "Refund this order", "$495.00"],
        f"/admin/subscriptions/{world['sub'].id}": ["su_abc", "Cancel subscription",
                                                    "Sandbox: simulate"],
        f"/admin/webhooks/{world['event'].id}": ["&#34;id&#34;: &#34;pa_abc&#34;",
                                                 "&lt;img src=x onerror=alert(1)&gt;",
                                                 "Re-process"],
        f"/admin/emails/{world['email'].id}": ["cannot be rendered now", "Resend"],
        "/admin/audit/1": ["site.suspend", "\"status\": \"active\""],
    }  # fmt: skip
    for url, needles in pages.items():
        response = staff.get(url)
        html = response.get_data(as_text=True)
        assert response.status_code == 200, url
        for needle in needles:
            assert needle in html, (url, needle)


def test_missing_objects_are_404(staff, world):
    for url in ["/admin/sites/999", "/admin/customers/999", "/admin/orders/999",
                "/admin/subscriptions/999", "/admin/webhooks/999", "/admin/emails/999",
                "/admin/audit/999"]:  # fmt: skip
        assert staff.get(url).status_code == 404, url


def test_active_search_answers_only_the_rows(staff, world):
    response = staff.get(
        "/admin/sites?q=plumb", headers={"HX-Request": "true", "HX-Target": "rows"}
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "<html" not in html and "<tbody" not in html
    assert html.lstrip().startswith("<tr")
    assert "LA Plumbing Pros" in html and "Dentist" not in html
    assert "HX-Request" in response.headers["Vary"]
    # The plain GET form gives the whole page with the same result.
    page = staff.get("/admin/sites?q=plumb").get_data(as_text=True)
    assert "<html" in page and "LA Plumbing Pros" in page and "Dentist 100" not in page
    assert 'value="plumb"' in page


@pytest.mark.parametrize(
    "query",
    ["%", "_", "' OR 1=1 --", "\"; DROP TABLE sites; --", "<script>alert(1)</script>", "\\",
     "100%", "a_b", "é😀", "x" * 500],
)  # fmt: skip
def test_search_metacharacters_are_harmless(staff, world, query):
    for url in ["/admin/sites", "/admin/customers", "/admin/orders", "/admin/subscriptions",
                "/admin/webhooks", "/admin/emails", "/admin/audit"]:  # fmt: skip
        response = staff.get(url, query_string={"q": query})
        html = response.get_data(as_text=True)
        assert response.status_code == 200, (url, query)
        assert "<script>alert(1)</script>" not in html
    # "%" and "_" match themselves, not everything.
    sites = staff.get("/admin/sites", query_string={"q": query}).get_data(as_text=True)
    if query in ("%", "100%"):
        assert "Dentist 100%" in sites and "LA Plumbing Pros" not in sites
    if query in ("_", "a_b", "' OR 1=1 --"):
        assert "No sites match" in sites
    assert db.session.scalar(db.select(db.func.count(Site.id))) == 2


def test_status_filter_and_counts(staff, world):
    html = staff.get("/admin/sites?status=preview").get_data(as_text=True)
    assert "Dentist 100%" in html and "LA Plumbing Pros" not in html
    assert "Preview (1)" in html and "Active (1)" in html
    # An unknown status is ignored rather than an error.
    assert "LA Plumbing Pros" in staff.get("/admin/sites?status=bogus").get_data(as_text=True)


def test_paging(staff, app, world):
    db.session.add_all(Site(slug=f"bulk-{n:03d}", business_name=f"Bulk {n:03d}") for n in range(60))
    db.session.commit()
    first = staff.get("/admin/sites").get_data(as_text=True)
    assert "1–25 of 62 sites" in first and "Bulk 059" in first and 'rel="next"' in first
    third = staff.get("/admin/sites?page=3").get_data(as_text=True)
    assert "51–62 of 62 sites" in third and "LA Plumbing Pros" in third
    assert 'rel="next"' not in third and 'rel="prev"' in third
    fragment = staff.get(
        "/admin/sites?q=bulk&page=2", headers={"HX-Request": "true", "HX-Target": "rows"}
    ).get_data(as_text=True)
    assert "26–50 of 60 sites" in fragment
    assert "page=3" in fragment and "q=bulk" in fragment
    for bad in ["0", "-1", "abc", "999999"]:
        assert staff.get(f"/admin/sites?page={bad}").status_code == 200


def test_empty_states(staff, app, admin):
    for url, text in [("/admin/sites", "No sites yet."), ("/admin/orders", "No orders yet."),
                      ("/admin/webhooks", "No webhook deliveries yet."),
                      ("/admin/emails", "No emails yet.")]:  # fmt: skip
        assert text in staff.get(url).get_data(as_text=True), url
    assert "No sites match" in staff.get("/admin/sites?q=zzz").get_data(as_text=True)


def test_webhook_filters(staff, world):
    db.session.add(
        WebhookEvent(
            delivery_id="msg_bad",
            event_type="subscription.cancel",
            object_id="su_zzz",
            payload="not json {",
            received_at=PAID,
            result="error",
            error="KeyError: 'x'",
        )  # fmt: skip
    )
    db.session.commit()
    failed = staff.get("/admin/webhooks?outcome=failed").get_data(as_text=True)
    assert "msg_bad" in failed and "msg_123" not in failed
    by_object = staff.get("/admin/webhooks?q=su_zzz").get_data(as_text=True)
    assert "msg_bad" in by_object and "msg_123" not in by_object
    by_type = staff.get("/admin/webhooks?type=payment_intent.succeeded").get_data(as_text=True)
    assert "msg_123" in by_type and "msg_bad" not in by_type
    event = db.session.scalar(db.select(WebhookEvent).filter_by(delivery_id="msg_bad"))
    detail = staff.get(f"/admin/webhooks/{event.id}").get_data(as_text=True)
    assert "not json {" in detail and "KeyError" in detail

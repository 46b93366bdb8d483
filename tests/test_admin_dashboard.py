"""Every dashboard number against a fixture whose answers are worked out by hand.

Now is 2026-11-15 12:00 UTC, so the chart covers Dec 2025 … Nov 2026, "this month" is November
and "last month" October. Amounts include odd cents (9_999) that must stay integers.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import time_machine

from lavish.admin import queries
from lavish.admin.charts import mrr_chart, nice_step, subscriptions_chart
from lavish.extensions import db
from lavish.models import Order, Payment, Site, Subscription

NOW = datetime(2026, 11, 15, 12, 0, tzinfo=UTC)


def at(year: int, month: int, day: int, hour: int = 12) -> datetime:
    return datetime(year, month, day, hour, tzinfo=UTC)


@pytest.fixture
def business(app, make_user):
    """8 sites, 8 orders, 9 subscriptions and their payments (see the module docstring)."""
    owner = make_user("owner@example.com")
    sites = {}
    for key, status in [
        ("a", "preview"), ("b", "preview"), ("c", "owned"), ("d", "active"),
        ("e", "active"), ("f", "suspended"), ("g", "active"), ("h", "suspended"),
    ]:  # fmt: skip
        sites[key] = Site(slug=f"site-{key}", business_name=f"Site {key.upper()}", status=status)
    db.session.add_all(sites.values())
    db.session.flush()

    def order(key, status, paid=None, amount=49500, refunded=None, payment_id=None):
        o = Order(
            site_id=sites[key].id, customer_id=owner.id, buyer_email=owner.email,
            amount_cents=amount, currency="USD", status=status, provider="sandbox",
            paid_at=paid, refunded_at=refunded, payment_id=payment_id,
        )  # fmt: skip
        db.session.add(o)
        db.session.flush()
        if paid:
            db.session.add(
                Payment(
                    provider_payment_id=payment_id,
                    kind="one_time",
                    order_id=o.id,
                    amount_cents=amount,
                    currency="USD",
                    paid_at=paid,
                    refunded_at=refunded,
                )  # fmt: skip
            )
        return o

    order("a", "pending")
    order("b", "failed")
    order("c", "paid", at(2026, 11, 3), payment_id="pa_c")
    order("d", "paid", at(2026, 10, 10), payment_id="pa_d")
    order("e", "paid", at(2026, 10, 20), amount=9_999, payment_id="pa_e")
    order("f", "paid", at(2026, 5, 1), payment_id="pa_f")
    order("g", "refunded", at(2026, 11, 10), refunded=at(2026, 11, 12), payment_id="pa_g")
    order("h", "paid", at(2026, 3, 1), payment_id="pa_h")

    def sub(key, status, amount=9500, activated=None, dunning=None, ended=None, recovered=None):
        s = Subscription(
            site_id=sites[key].id, customer_id=owner.id, provider="sandbox", status=status,
            amount_cents=amount, currency="USD", activated_at=activated, ended_at=ended,
        )  # fmt: skip
        s.dunning_started_at, s.recovered_at = dunning, recovered
        s.past_due_at = dunning if status == "past_due" else None
        db.session.add(s)
        db.session.flush()
        return s

    s1 = sub("d", "active", activated=at(2026, 10, 15))
    # Paid in grace on Nov 2: recovered. (An older recovery, before its latest failure, and one
    # before the window don't count.)
    s2 = sub("e", "active", 9_999, at(2026, 8, 1, 9), dunning=at(2026, 10, 28),
             recovered=at(2026, 11, 2))  # fmt: skip
    s3 = sub("f", "expired", activated=at(2026, 5, 5), dunning=at(2026, 10, 20),
             ended=at(2026, 10, 27), recovered=at(2026, 9, 1))  # fmt: skip
    s4 = sub("g", "past_due", activated=at(2025, 12, 20), dunning=at(2026, 11, 10))
    sub("f", "cancelled", activated=at(2026, 2, 1), ended=at(2026, 4, 15))
    sub("c", "pending")
    sub("e", "cancelled", activated=at(2026, 3, 1), ended=at(2026, 7, 31),
        dunning=at(2026, 6, 1), recovered=at(2026, 6, 3))  # fmt: skip  # before the window
    s8 = sub("d", "cancelled", activated=at(2025, 11, 20), ended=at(2026, 10, 14))
    sub("h", "cancelled", activated=at(2026, 3, 5), ended=at(2026, 11, 1, 10))

    def renewal(s, paid, amount=9500, refunded=None):
        db.session.add(
            Payment(
                provider_payment_id=f"pa_r{s.id}_{paid:%Y%m%d}",
                kind="recurring",
                subscription_id=s.id,
                amount_cents=amount,
                currency="USD",
                paid_at=paid,
                refunded_at=refunded,
            )  # fmt: skip
        )

    for month in (8, 9, 10):
        renewal(s2, at(2026, month, 1), 9_999)
    renewal(s2, at(2026, 11, 2), 9_999)  # paid in grace
    renewal(s4, at(2025, 12, 20))
    renewal(s4, at(2026, 10, 20))
    renewal(s1, at(2026, 10, 15))
    renewal(s8, at(2025, 11, 20))  # before the 12-month window
    renewal(s3, at(2026, 9, 5), refunded=at(2026, 9, 6))  # refunded: not revenue
    db.session.commit()


EXPECTED_MRR = {  # MRR at the end of each month; November is "now"
    "2025-12": 19000, "2026-01": 19000, "2026-02": 28500, "2026-03": 47500,
    "2026-04": 38000, "2026-05": 47500, "2026-06": 47500, "2026-07": 38000,
    "2026-08": 47999, "2026-09": 47999, "2026-10": 38499, "2026-11": 28999,
}  # fmt: skip
EXPECTED_NEW = {"2025-12": 1, "2026-02": 1, "2026-03": 2, "2026-05": 1, "2026-08": 1, "2026-10": 1}
EXPECTED_VOLUNTARY = {"2026-04": 1, "2026-07": 1, "2026-10": 1, "2026-11": 1}
EXPECTED_INVOLUNTARY = {"2026-10": 1}


def stats():
    with time_machine.travel(NOW, tick=False):
        return queries.dashboard_stats(currency="USD")


def test_every_number(business):
    s = stats()
    assert s.sites_by_status == {"preview": 2, "owned": 1, "active": 3, "suspended": 2}
    assert s.sites_total == 8
    assert s.conversion == {
        "sites": 8, "purchased": 6, "subscribed": 5,
        "purchase_rate_percent": 75.0, "subscribe_rate_percent": 83.3,
    }  # fmt: skip
    assert s.purchases == {
        "this_month": {"count": 2, "revenue_cents": 49500},  # G's refund is not revenue
        "last_month": {"count": 2, "revenue_cents": 59499},
    }
    assert s.mrr == {
        "cents": 28999, "last_month_cents": 38499, "change_cents": -9500, "change_percent": -24.7,
    }  # fmt: skip
    assert s.subscriptions_by_status == {
        "pending": 1, "active": 2, "past_due": 1, "cancelled": 4, "expired": 1,
    }  # fmt: skip
    assert s.churn == {
        "this_month": {"voluntary": 1, "involuntary": 0, "total": 1},
        "last_month": {"voluntary": 1, "involuntary": 1, "total": 2},
    }
    assert s.dunning == {
        "window_days": 90, "went_past_due": 3, "recovered": 1, "still_past_due": 1,
        "recovery_rate_percent": 33.3,
    }  # fmt: skip
    assert s.attention == {
        "failed_webhooks": 0,
        "unprocessed_webhooks": 0,
        "failed_emails": 0,
        "flagged_webhooks": 0,
        "stuck_refunds": 0,
    }
    assert s.revenue == {
        "this_month": {"one_time_cents": 49500, "recurring_cents": 9999, "total_cents": 59499},
        "last_month": {"one_time_cents": 59499, "recurring_cents": 28999, "total_cents": 88498},
        "last_12_months": {
            "one_time_cents": 207999, "recurring_cents": 68496, "total_cents": 276495,
        },
    }  # fmt: skip


def test_months_include_the_empty_ones(business):
    months = stats().months
    assert [m.month for m in months] == list(EXPECTED_MRR)
    assert {m.month: m.mrr_cents for m in months} == EXPECTED_MRR
    assert {m.month: m.new_subscriptions for m in months} == {
        key: EXPECTED_NEW.get(key, 0) for key in EXPECTED_MRR
    }
    assert {m.month: m.churned_voluntary for m in months} == {
        key: EXPECTED_VOLUNTARY.get(key, 0) for key in EXPECTED_MRR
    }
    assert {m.month: m.churned_involuntary for m in months} == {
        key: EXPECTED_INVOLUNTARY.get(key, 0) for key in EXPECTED_MRR
    }


def test_money_stays_integer_cents(business):
    data = stats().as_json()
    assert all(type(m["mrr_cents"]) is int for m in data["months"])
    for block in data["revenue"].values():
        assert all(type(value) is int for value in block.values())
    assert type(data["mrr"]["cents"]) is int


def test_empty_database_is_all_zeros(app):
    s = stats()
    assert s.sites_total == 0
    assert s.mrr == {"cents": 0, "last_month_cents": 0, "change_cents": 0, "change_percent": None}
    assert s.dunning["recovery_rate_percent"] is None
    assert s.conversion["purchase_rate_percent"] is None
    assert len(s.months) == 12
    assert all(m.mrr_cents == 0 and m.new_subscriptions == 0 for m in s.months)
    # The charts still draw an axis and twelve slots.
    assert mrr_chart(s.months).count("<circle") == 12
    assert subscriptions_chart(s.months).count("<rect") == 24


def test_page_and_json_show_the_same_numbers(business, client, admin, login):
    with time_machine.travel(NOW, tick=False):
        login(admin)  # the session is stamped with the (travelled) time
        page = client.get("/admin/")
        data = client.get("/admin/statistics.json").get_json()
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert data["mrr"]["cents"] == 28999
    assert data["mrr"]["change_cents"] == -9500
    assert data["months"][-1] == {
        "month": "2026-11", "label": "Nov 2026", "mrr_cents": 28999, "new_subscriptions": 0,
        "churned_voluntary": 1, "churned_involuntary": 0, "churned_subscriptions": 1,
    }  # fmt: skip
    assert data["sites_by_status"]["suspended"] == 2
    assert data["generated_at"].startswith("2026-11-15T12:00")
    assert "$289.99" in html  # MRR
    assert "-$95.00" in html  # its change
    assert "$384.99" in html  # MRR at the end of October
    assert "33.3%" in html  # dunning recovery
    assert "$2,764.95" in html  # revenue, last 12 months
    assert "<svg" in html and "Oct 2026: $384.99" in html
    assert "Oct 2026: 1 new" in html


def test_nice_steps():
    assert nice_step(0) == 1
    assert nice_step(7) == 2
    assert nice_step(28999, minimum_step=100) == 10000
    assert nice_step(47999, minimum_step=100) == 20000
    assert nice_step(100, minimum_step=100) == 100


def test_month_arithmetic():
    months = queries.last_months(datetime(2026, 1, 31, 23, 59, tzinfo=UTC))
    assert months[0].key == "2025-02" and months[-1].key == "2026-01"
    assert months[-1].end == datetime(2026, 2, 1, tzinfo=UTC)
    assert all(a.end == b.start for a, b in zip(months, months[1:], strict=False))


def test_the_model_keeps_the_dunning_history(app, make_user):
    owner = make_user()
    site = Site(slug="kept", business_name="Kept")
    db.session.add(site)
    db.session.flush()
    sub = Subscription(
        site_id=site.id, customer_id=owner.id, provider="sandbox", status="active",
        amount_cents=9500, currency="USD",
    )  # fmt: skip
    db.session.add(sub)
    db.session.commit()
    with time_machine.travel(at(2026, 11, 1), tick=False):
        sub.status = "past_due"
        sub.past_due_at = at(2026, 11, 1)
    with time_machine.travel(at(2026, 11, 4), tick=False):
        sub.status = "active"
        sub.past_due_at = None  # billing clears it; the history stays
    db.session.commit()
    assert sub.dunning_started_at == at(2026, 11, 1)
    assert sub.recovered_at == at(2026, 11, 4)
    with time_machine.travel(at(2026, 11, 15), tick=False):
        assert queries.dashboard_stats(currency="USD").dunning["recovered"] == 1


def test_attention_counts(app, client, admin, login):
    from lavish.models import OutboxEmail, WebhookEvent

    db.session.add_all(
        [
            WebhookEvent(delivery_id="m1", event_type="x", payload="{}", received_at=NOW,
                         processed_at=NOW, result="error", error="boom"),
            WebhookEvent(delivery_id="m2", event_type="x", payload="{}", received_at=NOW),
            WebhookEvent(delivery_id="m3", event_type="x", payload="{}", received_at=NOW,
                         processed_at=NOW, result="ok"),
            WebhookEvent(delivery_id="m4", event_type="x", payload="{}", received_at=NOW,
                         processed_at=NOW, state="flagged", result="flagged: paid 1 USD"),
            OutboxEmail(to="a@example.com", template="t", status="failed"),
            OutboxEmail(to="b@example.com", template="t", status="sent"),
        ]
    )  # fmt: skip
    db.session.commit()
    assert stats().attention == {
        "failed_webhooks": 1,
        "unprocessed_webhooks": 1,
        "failed_emails": 1,
        "flagged_webhooks": 1,
        "stuck_refunds": 0,
    }
    login(admin)
    html = client.get("/admin/").get_data(as_text=True)
    assert "1 webhook deliveries failed" in html and "outcome=failed" in html
    assert "1 mails gave up after retries" in html
    assert "1 payments flagged" in html and "outcome=flagged" in html

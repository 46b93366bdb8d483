"""Seed a PostgreSQL database of its own for the console benchmark, in seconds.

    .venv/bin/python -m bench.seed_admin [--url postgresql+psycopg://postgres@127.0.0.1/lavish_bench_admin]

Drops and recreates the database, builds the schema with the migrations, then fills it with
INSERT … SELECT generate_series (no Python loop over rows): 60,000 customers, 100,000 sites,
50,000 orders, 30,000 subscriptions, their payments (~200,000), 1,000,000 webhook deliveries,
50,000 outbox mails and 20,000 audit entries, spread over the last two years.
"""

from __future__ import annotations

import argparse
import os
import time

import sqlalchemy as sa

DEFAULT_URL = os.environ.get(
    "BENCH_ADMIN_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/lavish_bench_admin"
)

# Every statement runs in the database; `now()` anchors the two years of history.
SEED = [
    (
        "users",
        """
        INSERT INTO users (email, name, phone, role, password_hash, email_verified_at,
                           session_token, created_at, updated_at)
        SELECT 'customer' || n || '@example.com',
               (ARRAY['Olivia','Liam','Emma','Noah','Ava','Mateo','Sofia','Lucas'])[1 + n % 8]
                 || ' ' || (ARRAY['Garcia','Smith','Lopez','Johnson','Perez','Brown'])[1 + n % 6],
               '+1 555 ' || lpad((n % 10000)::text, 4, '0'),
               'customer', NULL,
               CASE WHEN n % 5 = 0 THEN NULL ELSE now() - (n % 700) * interval '1 day' END,
               md5(n::text), now() - (n % 730) * interval '1 day', now()
        FROM generate_series(1, 60000) AS n
        """,
    ),
    (
        "sites",
        """
        INSERT INTO sites (slug, business_name, phone, email, city, category, status,
                           status_reason, owner_id, purchased_at, suspended_at,
                           created_at, updated_at)
        SELECT 'site-' || n,
               (ARRAY['Ace','Bright','Golden','Sunset','Pacific','Valley','Summit','Metro'])
                 [1 + n % 8] || ' ' ||
               (ARRAY['Plumbing','Dental','Bakery','Roofing','Auto Repair','Salon','Law',
                      'Yoga'])[1 + (n / 8) % 8] || ' ' || n,
               '+1 555 ' || lpad((n % 10000)::text, 4, '0'),
               'hello' || n || '@business.example',
               (ARRAY['Los Angeles','San Diego','Austin','Denver','Miami','Seattle','Chicago',
                      'Boston','Phoenix','Portland'])[1 + n % 10],
               (ARRAY['plumber','dentist','bakery','roofer','mechanic','salon','lawyer',
                      'yoga'])[1 + (n / 8) % 8],
               CASE WHEN n <= 30000 THEN (CASE WHEN n % 20 = 0 THEN 'suspended' ELSE 'active' END)
                    WHEN n <= 45000 THEN 'owned' ELSE 'preview' END,
               CASE WHEN n <= 30000 AND n % 20 = 0 THEN 'Payment lapsed' ELSE '' END,
               CASE WHEN n <= 45000 THEN 2 + (n % 60000) END,
               CASE WHEN n <= 45000 THEN now() - (n % 720) * interval '1 day' END,
               CASE WHEN n <= 30000 AND n % 20 = 0 THEN now() - (n % 30) * interval '1 day' END,
               now() - (n % 730) * interval '1 day' - interval '1 day', now()
        FROM generate_series(1, 100000) AS n
        """,
    ),
    (
        "orders",
        # Sites 1..45000 were bought (paid orders); 5,000 more are pending / failed on previews.
        """
        INSERT INTO orders (site_id, customer_id, buyer_email, buyer_name, amount_cents, currency,
                            status, provider, checkout_id, payment_id, failure_reason, paid_at,
                            refunded_at, created_at, updated_at)
        SELECT CASE WHEN n <= 45000 THEN n ELSE 45000 + n END,
               2 + (n % 60000), 'customer' || (1 + n % 60000) || '@example.com', 'Buyer ' || n,
               CASE WHEN n % 97 = 0 THEN 45999 ELSE 49500 END, 'USD',
               CASE WHEN n > 45000 THEN (CASE WHEN n % 2 = 0 THEN 'pending' ELSE 'failed' END)
                    WHEN n % 100 = 0 THEN 'refunded' ELSE 'paid' END,
               'recurrente', 'ch_' || n,
               CASE WHEN n <= 45000 THEN 'pa_o' || n END, '',
               CASE WHEN n <= 45000 THEN now() - (n % 720) * interval '1 day' END,
               CASE WHEN n <= 45000 AND n % 100 = 0
                    THEN now() - (n % 720) * interval '1 day' + interval '2 days' END,
               now() - (n % 720) * interval '1 day', now()
        FROM generate_series(1, 50000) AS n
        """,
    ),
    (
        "one-time payments",
        """
        INSERT INTO payments (provider_payment_id, kind, order_id, amount_cents, currency,
                              paid_at, refunded_at)
        SELECT payment_id, 'one_time', id, amount_cents, currency, paid_at, refunded_at
        FROM orders WHERE paid_at IS NOT NULL
        """,
    ),
    (
        "subscriptions",
        # One per site 1..30000; 70% active, 5% past due, 15% cancelled, 5% expired, 5% pending.
        """
        INSERT INTO subscriptions (site_id, customer_id, provider, provider_subscription_id,
            checkout_id, status, amount_cents, currency, current_period_start,
            current_period_end, grace_until, cancel_at_period_end, cancel_reason, activated_at,
            past_due_at, cancelled_at, ended_at, dunning_started_at, recovered_at,
            created_at, updated_at)
        SELECT n, 2 + (n % 60000), 'recurrente', 'su_' || n, 'ch_s' || n, s.status,
               CASE WHEN n % 89 = 0 THEN 9999 ELSE 9500 END, 'USD',
               now() - (n % 30) * interval '1 day', now() + (30 - n % 30) * interval '1 day',
               CASE WHEN s.status = 'past_due' THEN now() + interval '3 days' END,
               false, CASE WHEN s.status = 'cancelled' THEN 'Too expensive' ELSE '' END,
               CASE WHEN s.status <> 'pending' THEN s.activated END,
               CASE WHEN s.status = 'past_due' THEN now() - (n % 7) * interval '1 day' END,
               CASE WHEN s.status = 'cancelled' THEN s.ended END,
               CASE WHEN s.status IN ('cancelled', 'expired') THEN s.ended END,
               CASE WHEN s.status IN ('past_due', 'expired') OR n % 23 = 0
                    THEN now() - (n % 80) * interval '1 day' END,
               CASE WHEN s.status = 'active' AND n % 23 = 0
                    THEN now() - (n % 80) * interval '1 day' + interval '3 days' END,
               s.activated, now()
        FROM generate_series(1, 30000) AS n
        CROSS JOIN LATERAL (
            SELECT CASE WHEN n % 20 < 14 THEN 'active' WHEN n % 20 = 14 THEN 'past_due'
                        WHEN n % 20 < 18 THEN 'cancelled' WHEN n % 20 = 18 THEN 'expired'
                        ELSE 'pending' END AS status,
                   now() - (n % 700) * interval '1 day' - interval '20 days' AS activated,
                   now() - (n % 600) * interval '1 day' AS ended
        ) AS s
        """,
    ),
    (
        "recurring payments",
        # One payment per month from activation until the end (or now).
        """
        INSERT INTO payments (provider_payment_id, kind, subscription_id, amount_cents, currency,
                              paid_at)
        SELECT 'pa_s' || s.id || '_' || m, 'recurring', s.id, s.amount_cents, s.currency,
               s.activated_at + m * interval '1 month'
        FROM subscriptions s
        CROSS JOIN LATERAL generate_series(0, 23) AS m
        WHERE s.activated_at IS NOT NULL
          AND s.activated_at + m * interval '1 month' < coalesce(s.ended_at, now())
        """,
    ),
    (
        "webhook_events",
        """
        INSERT INTO webhook_events (delivery_id, event_type, object_id, payload, received_at,
                                    processed_at, result, error)
        SELECT 'msg_' || md5(n::text), e.type, e.object,
               '{"id": "' || e.object || '", "event_type": "' || e.type
                 || '", "amount_in_cents": 9500, "currency": "USD", "customer": {"email": '
                 || '"customer' || (n % 60000) || '@example.com"}}',
               now() - (n % 730) * interval '1 day' - (n % 86400) * interval '1 second',
               CASE WHEN n % 1000 = 7 THEN NULL
                    ELSE now() - (n % 730) * interval '1 day' END,
               CASE WHEN n % 1000 = 7 THEN '' WHEN n % 500 = 3 THEN 'error' ELSE 'ok' END,
               CASE WHEN n % 500 = 3 THEN 'KeyError: ''subscription''' ELSE '' END
        FROM generate_series(1, 1000000) AS n
        CROSS JOIN LATERAL (
            SELECT (ARRAY['payment_intent.succeeded','payment_intent.failed',
                          'subscription.create','subscription.past_due','subscription.cancel',
                          'bank_transfer_intent.pending'])[1 + n % 6] AS type,
                   CASE WHEN n % 6 IN (2, 3, 4) THEN 'su_' || (n % 30000)
                        ELSE 'pa_' || n END AS object
        ) AS e
        """,
    ),
    (
        "emails",
        """
        INSERT INTO emails (\"to\", template, context, subject, status, attempts, last_error,
                            created_at, next_attempt_at, sent_at)
        SELECT 'customer' || (n % 60000) || '@example.com',
               (ARRAY['verify_email','payment_received','payment_failed','welcome'])[1 + n % 4],
               '{}', 'Subject ' || n,
               CASE WHEN n % 100 = 0 THEN 'failed' ELSE 'sent' END, 1,
               CASE WHEN n % 100 = 0 THEN 'SMTP 550' ELSE '' END,
               now() - (n % 700) * interval '1 day', NULL,
               now() - (n % 700) * interval '1 day'
        FROM generate_series(1, 50000) AS n
        """,
    ),
    (
        "audit_log",
        """
        INSERT INTO audit_log (actor_id, action, object_type, object_id, before, after,
                               created_at)
        SELECT 1, (ARRAY['site.suspend','site.unsuspend','site.publish','order.refund'])
                    [1 + n % 4],
               CASE WHEN n % 4 = 3 THEN 'orders' ELSE 'sites' END, 1 + n % 30000,
               '{"status": "active"}', '{"status": "suspended"}',
               now() - (n % 700) * interval '1 day'
        FROM generate_series(1, 20000) AS n
        """,
    ),
]


def recreate_database(url: sa.URL) -> None:
    admin = sa.create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)'))
        conn.execute(sa.text(f'CREATE DATABASE "{url.database}"'))
    admin.dispose()


def migrate(url: str) -> None:
    from flask_migrate import upgrade

    from lavish import create_app
    from lavish.extensions import db

    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": url})
    with app.app_context():
        upgrade()
        db.engine.dispose()


STAFF_EMAIL, STAFF_PASSWORD = "staff@example.com", "bench staff password"


def seed(url: str) -> None:
    from lavish.accounts.passwords import hash_password

    engine = sa.create_engine(url)
    with engine.begin() as conn:
        # The staff account (id 1) can also sign in, to look at the console on this data.
        conn.execute(
            sa.text(
                "INSERT INTO users (email, name, phone, role, password_hash, email_verified_at,"
                " session_token, created_at, updated_at) VALUES (:email, 'Bench Staff', '',"
                " 'admin', :hash, now(), 'bench', now(), now())"
            ),
            {"email": STAFF_EMAIL, "hash": hash_password(STAFF_PASSWORD)},
        )
        for name, statement in SEED:
            started = time.perf_counter()
            count = conn.execute(sa.text(statement)).rowcount
            print(f"  {name:<20} {count:>9,} rows  {time.perf_counter() - started:6.2f} s")
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        started = time.perf_counter()
        conn.execute(sa.text("VACUUM ANALYZE"))
        print(f"  {'vacuum analyze':<20} {'':>9}       {time.perf_counter() - started:6.2f} s")
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default=DEFAULT_URL)
    url = sa.make_url(parser.parse_args().url)
    rendered = url.render_as_string(hide_password=False)
    started = time.perf_counter()
    print(f"seeding {url.render_as_string()}")
    recreate_database(url)
    migrate(rendered)
    seed(rendered)
    print(
        f"done in {time.perf_counter() - started:.1f} s; "
        f"staff login: {STAFF_EMAIL} / {STAFF_PASSWORD}"
    )


if __name__ == "__main__":
    main()

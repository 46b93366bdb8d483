"""Billing benchmark: `python -m bench.billing [--total 1000000] [--keep]`.

1. Webhook ingestion on PostgreSQL through the WSGI app directly (Flask test client, in
   process, so the figure is the app's own cost: Svix verification, the INSERT … ON CONFLICT
   store, dispatch with row locks, mail queued to the outbox and enqueued on a real Redis).
   The mix: renewals of existing subscriptions, duplicate deliveries, unknown event types.
2. The expiry sweep over TOTAL subscriptions (seeded with generate_series, not the ORM), once
   with 1,000 due and once with 10,000 due, to show that its time follows the number due.

Targets (issue 4): ≥ 300 events/s; ≤ 10 s for 10,000 due among 1,000,000.
The machine is shared (2 cores, other helpers running tests): treat figures as noisy.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import statistics
import threading
import time
import uuid

import sqlalchemy as sa
from svix.webhooks import Webhook

ADMIN_URL = os.environ.get(
    "BENCH_POSTGRES_URL",
    os.environ.get("TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"),
)
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/3")
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
TARGET_EVENTS_PER_S = 300
TARGET_SWEEP_S = 10.0


def make_database() -> tuple[str, sa.Engine]:
    name = f"lavish_bench_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = sa.make_url(ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    return url, admin


def build_app(url: str, tmp: str):
    from flask_migrate import upgrade

    from lavish import create_app

    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": url,
            "SECRET_KEY": "bench",
            "REDIS_URL": REDIS_URL,
            "PUBLIC_URL": "http://127.0.0.1:5000",
            "RECURRENTE_WEBHOOK_SECRET": SECRET,
            "PAYMENT_PROVIDER": "sandbox",
            "SANDBOX_DIR": f"{tmp}/sandbox",
            "MAIL_OUTBOX_DIR": f"{tmp}/outbox",
            "SITES_ROOT": f"{tmp}/hosted",
            "WTF_CSRF_ENABLED": False,
        }
    )
    with app.app_context():
        upgrade()
    return app


def seed(conn, *, total: int, due: int) -> None:
    """TOTAL sites and subscriptions: every 50th past_due (the due ones are chosen among them
    by reset_due), 60 % active, the rest cancelled or expired. One customer owns everything."""
    conn.execute(
        sa.text(
            "INSERT INTO users (email, name, phone, role, session_token, created_at, updated_at) "
            "VALUES ('bench@example.com', 'Bench Owner', '', 'customer', 'tok', now(), now())"
        )
    )
    conn.execute(
        sa.text(
            """
            INSERT INTO sites (slug, business_name, phone, email, city, category, status,
                               status_reason, owner_id, created_at, updated_at)
            SELECT 'bench-' || i, 'Bench ' || i, '', '', '', '', 'active', '', 1, now(), now()
            FROM generate_series(1, :total) AS i
            """
        ),
        {"total": total},
    )
    conn.execute(
        sa.text(
            """
            INSERT INTO subscriptions (site_id, customer_id, provider, provider_subscription_id,
                status, amount_cents, currency, current_period_start, current_period_end,
                grace_until, cancel_at_period_end, cancel_reason, activated_at, past_due_at,
                created_at, updated_at)
            SELECT i, 1, 'sandbox', 'su_bench_' || i,
                CASE WHEN i % 50 = 0 THEN 'past_due'
                     WHEN i <= :total * 0.6 THEN 'active'
                     WHEN i % 2 = 0 THEN 'cancelled' ELSE 'expired' END,
                9500, 'USD', now() - interval '40 days', now() - interval '10 days',
                CASE WHEN i % 50 = 0 THEN now() + interval '3 days' END,
                false, '', now() - interval '70 days',
                CASE WHEN i % 50 = 0 THEN now() - interval '5 days' END,
                now(), now()
            FROM generate_series(1, :total) AS i
            """
        ),
        {"total": total, "due": due},
    )
    conn.execute(sa.text("ANALYZE"))


def reset_due(conn, *, due: int, total: int) -> None:
    """Exactly `due` rows, scattered over the table, past_due beyond their grace; the other
    past_due rows still in grace (the previous run expired some)."""
    conn.execute(sa.text("DELETE FROM emails"))
    conn.execute(
        sa.text(
            "UPDATE subscriptions SET status = 'past_due', ended_at = NULL, "
            "grace_until = CASE WHEN id % (50 * (:every)) = 0 THEN now() - interval '1 hour' "
            "ELSE now() + interval '3 days' END "
            "WHERE id % 50 = 0 AND (status <> 'past_due' OR grace_until IS NOT NULL)"
        ),
        {"every": max(1, (total // 50) // due)},
    )
    conn.execute(sa.text("UPDATE sites SET status = 'active' WHERE status = 'suspended'"))
    conn.execute(sa.text("VACUUM ANALYZE subscriptions"))
    conn.execute(sa.text("VACUUM ANALYZE sites"))


def bench_sweep(app, engine, due: int, total: int, *, disk: bool = True) -> float:
    """One expiry sweep. With `disk=False` the hosting feature's after-commit switch of each
    suspended site's files is left out (to show the sweep's own, database part)."""
    from unittest import mock

    from lavish.billing import sweeps
    from lavish.hosting import services as hosting

    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        reset_due(conn, due=due, total=total)
    no_disk = mock.patch.object(hosting, "_apply", lambda *a, **k: {}) if not disk else None
    with app.app_context():
        if no_disk:
            no_disk.start()
        try:
            started = time.perf_counter()
            count = sweeps.expire_grace()
            elapsed = time.perf_counter() - started
            again = sweeps.expire_grace()
        finally:
            if no_disk:
                no_disk.stop()
    assert count == due and again == 0, (count, again)
    return elapsed


def signed(payload: dict, msg_id: str) -> tuple[str, dict]:
    from lavish.clock import utcnow

    body = json.dumps(payload)
    now = utcnow()
    return body, {
        "svix-id": msg_id,
        "svix-timestamp": str(int(now.timestamp())),
        "svix-signature": Webhook(SECRET).sign(msg_id, now, body),
        "Content-Type": "application/json",
    }


def renewal(su: str) -> dict:
    pa = f"pa_{secrets.token_hex(8)}"
    return {
        "event_type": "payment_intent.succeeded",
        "api_version": "2024-04-24",
        "id": pa,
        "amount_in_cents": 9500,
        "currency": "USD",
        "checkout": None,
        "customer": {"id": "us_bench", "email": "bench@example.com", "full_name": "Bench"},
        "payment": {"id": pa, "paymentable": {"id": su, "type": "Subscription"}},
    }


def bench_webhooks(app, *, renewals: int, threads: int, first: int) -> tuple[float, dict[str, int]]:
    """Renewals of active subscriptions (ids 30001…), a duplicate of every fourth delivery,
    and one unknown event type per ten."""
    deliveries = []
    for n in range(renewals):
        # Active subscriptions (not every 50th), fresh ones for each run.
        su = f"su_bench_{first + n + n // 49 + 1}"
        body, headers = signed(renewal(su), f"msg_{uuid.uuid4().hex}")
        deliveries.append((body, headers))
        if n % 4 == 0:
            deliveries.append((body, headers))  # Svix retry of the same delivery
        if n % 10 == 0:
            deliveries.append(
                signed(
                    {"event_type": "dispute.created", "id": f"dp_{n}"}, f"msg_{uuid.uuid4().hex}"
                )
            )
    statuses: dict[str, int] = {}
    lock = threading.Lock()
    chunks = [deliveries[i::threads] for i in range(threads)]

    def work(chunk):
        client = app.test_client()
        for body, headers in chunk:
            response = client.post("/webhooks/recurrente", data=body, headers=headers)
            key = f"{response.status_code} {response.json['result'].split(':')[0]}"
            with lock:
                statuses[key] = statuses.get(key, 0) + 1

    started = time.perf_counter()
    workers = [threading.Thread(target=work, args=(chunk,)) for chunk in chunks]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    elapsed = time.perf_counter() - started
    return len(deliveries) / elapsed, statuses


def bench_gunicorn(url: str, *, renewals: int, first: int, workers: int, clients: int):
    """The real endpoint under gunicorn (separate processes), driven over keep-alive HTTP."""
    import http.client
    import socket
    import subprocess
    import sys

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "REDIS_URL": REDIS_URL,
        "RECURRENTE_WEBHOOK_SECRET": SECRET,
        "SECRET_KEY": "bench",
    }
    env.pop("RECURRENTE_SECRET_KEY", None)
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "-w",
            str(workers),
            "-b",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
            "wsgi:app",
        ],
        env=env,
    )
    try:
        for _ in range(100):
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    break
            except OSError:
                time.sleep(0.1)
        deliveries = []
        for n in range(renewals):
            su = f"su_bench_{first + n + n // 49 + 1}"
            body, headers = signed(renewal(su), f"msg_{uuid.uuid4().hex}")
            deliveries.append((body, headers))
            if n % 4 == 0:
                deliveries.append((body, headers))
        statuses: dict[int, int] = {}
        lock = threading.Lock()

        def work(chunk):
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            for body, headers in chunk:
                conn.request("POST", "/webhooks/recurrente", body=body, headers=headers)
                response = conn.getresponse()
                response.read()
                with lock:
                    statuses[response.status] = statuses.get(response.status, 0) + 1
            conn.close()

        # Warm up: every worker has booted the app and opened its connections.
        warmup = [
            signed({"event_type": "bench.warmup", "id": f"w_{n}"}, f"msg_{uuid.uuid4().hex}")
            for n in range(clients * 10)
        ]
        warm_threads = [
            threading.Thread(target=work, args=(warmup[i::clients],)) for i in range(clients)
        ]
        for thread in warm_threads:
            thread.start()
        for thread in warm_threads:
            thread.join()
        statuses.clear()
        chunks = [deliveries[i::clients] for i in range(clients)]
        started = time.perf_counter()
        threads = [threading.Thread(target=work, args=(chunk,)) for chunk in chunks]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return len(deliveries) / (time.perf_counter() - started), statuses
    finally:
        server.terminate()
        server.wait(10)


def main() -> None:
    import logging
    import tempfile

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--total", type=int, default=1_000_000)
    parser.add_argument("--renewals", type=int, default=1500)
    parser.add_argument("--keep", action="store_true", help="keep the bench database")
    parser.add_argument("--skip-sweep", action="store_true")
    parser.add_argument("--gunicorn-workers", type=int, default=os.cpu_count() or 2)
    args = parser.parse_args()
    logging.disable(logging.WARNING)

    from redis import Redis

    Redis.from_url(REDIS_URL).flushdb()
    url, admin = make_database()
    name = sa.make_url(url).database
    tmp = tempfile.mkdtemp(prefix="lavish-bench-")
    print(f"database {name} (PostgreSQL), Redis {REDIS_URL}, {os.cpu_count()} cores")
    try:
        app = build_app(url, tmp)
        engine = sa.create_engine(url)
        started = time.perf_counter()
        with engine.begin() as conn:
            seed(conn, total=args.total, due=10_000)
        print(
            f"seeded {args.total:,} sites + subscriptions in {time.perf_counter() - started:.1f} s"
        )

        print("\n== webhook ingestion (WSGI app in process: verify, store, dedupe, dispatch) ==")
        for run, threads in enumerate((1, 4)):
            rate, statuses = bench_webhooks(
                app, renewals=args.renewals, threads=threads, first=run * 2 * args.renewals
            )
            print(
                f"{threads} thread(s): {rate:7.1f} events/s  "
                f"(target {TARGET_EVENTS_PER_S}, ratio {rate / TARGET_EVENTS_PER_S:.2f})  "
                f"{dict(sorted(statuses.items()))}"
            )

        workers = args.gunicorn_workers
        rate, statuses = bench_gunicorn(
            url,
            renewals=args.renewals,
            first=4 * args.renewals,
            workers=workers,
            clients=2 * workers,
        )
        print(
            f"gunicorn -w {workers}, {2 * workers} HTTP clients: {rate:7.1f} events/s  "
            f"(target {TARGET_EVENTS_PER_S}, ratio {rate / TARGET_EVENTS_PER_S:.2f})  {statuses}"
        )

        if args.skip_sweep:
            return
        print(f"\n== expiry sweep over {args.total:,} subscriptions ==")
        figures = {}
        small, large = args.total // 1000, args.total // 100  # 1,000 and 10,000 of 1,000,000
        for disk, label in ((False, "database part"), (True, "with hosting's file switch")):
            figures = {}
            for due in (small, large):
                runs = [bench_sweep(app, engine, due, args.total, disk=disk) for _ in range(2)]
                figures[due] = statistics.median(runs)
                print(
                    f"{label:>27}: {due:>6,} due {figures[due]:6.2f} s "
                    f"({due / figures[due]:,.0f} rows/s; target ≤ {TARGET_SWEEP_S:.0f} s for "
                    f"10,000 of 1,000,000, ratio {figures[due] / TARGET_SWEEP_S:.2f})"
                )
            print(
                f"{label:>27}: time ratio {large:,} / {small:,} due "
                f"{figures[large] / figures[small]:.1f}x (≈10x: follows the number due)"
            )
        with engine.connect() as conn:
            plan = (
                conn.execute(
                    sa.text(
                        "EXPLAIN SELECT id FROM subscriptions WHERE status = 'past_due' "
                        "AND grace_until <= now() ORDER BY grace_until LIMIT 500 "
                        "FOR UPDATE SKIP LOCKED"
                    )
                )
                .scalars()
                .all()
            )
        print(
            "plan:", " / ".join(line.strip() for line in plan if "Index" in line or "Scan" in line)
        )
        engine.dispose()
        with app.app_context():
            from lavish.extensions import db

            db.engine.dispose()
    finally:
        if args.keep:
            print(f"kept database {name}")
        else:
            with admin.connect() as conn:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        Redis.from_url(REDIS_URL).flushdb()


if __name__ == "__main__":
    main()

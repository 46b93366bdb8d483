"""How fast the staff console answers on a big database.

    .venv/bin/python -m bench.seed_admin     # once: 100k sites, 50k orders, 30k subs, 1M webhooks
    .venv/bin/python -m bench.admin [--runs 15] [--url …]

Each URL goes through the whole app (routing, access check, SQL, templates) with Flask's test
client, signed in as staff, against the seeded PostgreSQL. It prints the median and the slowest
of `--runs` requests (after two warm-up requests), the target, and the ratio median / target.
The baseline row is a page that does next to no SQL: the app's own floor on this machine.
Targets (issue 5): dashboard and statistics.json ≤ 200 ms, list searches ≤ 100 ms.
"""

from __future__ import annotations

import argparse
import statistics
import time

from bench.seed_admin import DEFAULT_URL

PAGE_TARGET_MS = 200
SEARCH_TARGET_MS = 100
P, S = PAGE_TARGET_MS, SEARCH_TARGET_MS
HTMX = {"HX-Request": "true", "HX-Target": "rows"}

# (label, url, target in ms, htmx fragment?)
CASES: list[tuple[str, str, int, bool]] = [
    ("baseline: audit entry page", "/admin/audit/1", 0, False),
    ("dashboard", "/admin/", P, False),
    ("statistics.json", "/admin/statistics.json", P, False),
    ("sites, first page", "/admin/sites", S, False),
    ("sites ?q=plumbing (many)", "/admin/sites?q=plumbing", S, True),
    ("sites ?q=site-99999 (one)", "/admin/sites?q=site-99999", S, True),
    ("sites ?q=zzzz (none)", "/admin/sites?q=zzzz", S, True),
    ("sites ?q=customer4242@ (owner)", "/admin/sites?q=customer4242@", S, True),
    ("sites ?status=suspended", "/admin/sites?status=suspended", S, True),
    ("sites ?q=austin&status=active", "/admin/sites?q=austin&status=active", S, True),
    ("sites page 40", "/admin/sites?q=dental&page=40", S, True),
    ("customers ?q=customer59999", "/admin/customers?q=customer59999", S, True),
    ("customers ?q=olivia", "/admin/customers?q=olivia", S, True),
    ("orders ?q=buyer email", "/admin/orders?q=customer777@example.com", S, True),
    ("orders ?q=#44444", "/admin/orders?q=%2344444", S, True),
    ("orders ?status=refunded", "/admin/orders?status=refunded", S, True),
    ("subscriptions ?q=su_29999", "/admin/subscriptions?q=su_29999", S, True),
    ("subscriptions ?q=site-12345", "/admin/subscriptions?q=site-12345", S, True),
    ("subscriptions ?status=past_due", "/admin/subscriptions?status=past_due", S, True),
    ("webhooks, first page", "/admin/webhooks", S, False),
    ("webhooks ?q=msg_ (delivery id)", "/admin/webhooks?q=msg_c4ca4238a0b923820dcc509a6f75849b",
     S, True),
    ("webhooks ?q=su_123 (object)", "/admin/webhooks?q=su_123", S, True),
    ("webhooks ?q=subscription. (type)", "/admin/webhooks?q=subscription.", S, True),
    ("webhooks ?outcome=failed", "/admin/webhooks?outcome=failed", S, True),
    ("webhooks ?outcome=unprocessed", "/admin/webhooks?outcome=unprocessed", S, True),
    ("webhooks ?type=subscription.cancel", "/admin/webhooks?type=subscription.cancel",
     S, True),
    ("emails ?q=customer42@", "/admin/emails?q=customer42@", S, True),
    ("emails ?status=failed", "/admin/emails?status=failed", S, True),
    ("audit ?q=refund", "/admin/audit?q=refund", S, True),
    ("site page", "/admin/sites/20", P, False),
    ("customer page", "/admin/customers/22", P, False),
    ("webhook page", "/admin/webhooks/500000", P, False),
]  # fmt: skip


def build_client(url: str):
    from lavish import create_app

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "WTF_CSRF_ENABLED": False, "REDIS_URL": None})
    client = app.test_client()
    with client.session_transaction() as session:
        # The seeded staff account (id 1, session token "bench"): signed in without a password.
        session["_user_id"] = "1:bench"
        session["_fresh"] = True
    return client


def measure(client, url: str, fragment: bool, runs: int) -> list[float]:
    headers = HTMX if fragment else {}
    timings = []
    for attempt in range(runs + 2):
        started = time.perf_counter()
        response = client.get(url, headers=headers)
        elapsed = (time.perf_counter() - started) * 1000
        if response.status_code != 200:
            raise SystemExit(f"{url}: HTTP {response.status_code}")
        if attempt >= 2:
            timings.append(elapsed)
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description="Time the staff console on the seeded database.")
    parser.add_argument("--url", default=DEFAULT_URL)
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    client = build_client(args.url)
    print(f"{'request':<38} {'median':>8} {'slowest':>8} {'target':>7} {'ratio':>6}")
    failures = 0
    for label, url, target, fragment in CASES:
        timings = measure(client, url, fragment, args.runs)
        median = statistics.median(timings)
        ratio = f"{median / target:.2f}" if target else ""
        mark = "" if not target or median <= target else "  over"
        failures += bool(mark)
        print(
            f"{label:<38} {median:7.1f}ms {max(timings):7.1f}ms "
            f"{(str(target) + 'ms') if target else '':>7} {ratio:>6}{mark}"
        )
    print(f"\n{len(CASES) - 1 - failures} of {len(CASES) - 1} within target (median).")


if __name__ == "__main__":
    main()

"""Benchmark: the logged-in owner's dashboard under load, and what a login costs.

    .venv/bin/python -m bench.portal [--seconds 15] [--connections 32] [--workers N] [--tcp]

Self-contained: creates its own PostgreSQL database (admin URL from BENCH_POSTGRES_URL or
TEST_POSTGRES_URL, default postgresql+psycopg://postgres@127.0.0.1:5432/test), builds the schema
with the migrations, seeds an owner with 3 sites (and 300 other customers' sites so the queries
meet real indexes), starts gunicorn on a free loopback port, signs in through the real login
form (CSRF on) to get the session cookie, then drives wrk with that cookie.

gunicorn runs as deploy/ sets it up: one sync worker per CPU (WEB_CONCURRENCY in
deploy/systemd/lavish-web.service), connected to PostgreSQL through its Unix socket when the
server has one here (DATABASE_URL in deploy/README.md); --tcp connects over 127.0.0.1 instead.

Prints, for 32 concurrent clients:
- baseline: GET /healthz (no session, no database) — what gunicorn + Flask cost alone;
- GET /customer/my-site signed in — p50/p95/p99 latency and requests/second, and the ratios to
  the baseline (target: p95 <= 50 ms); then the same with one client, i.e. the service time
  of one request without queueing;
- the same requests in-process (Flask test client, one at a time): the app's own cost per
  request, much less sensitive to other load on the machine than the HTTP figures;
- the login POST (median of sequential requests) against one Argon2 verify alone, to show the
  login is dominated by the password hash;
- forgot-password for an address with an account and one without (in-process, jobs queued
  in a real Redis as in production): the two answers should take the same time.
Everything it started is stopped and the database dropped at the end.
"""

from __future__ import annotations

import argparse
import http.cookiejar
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

PROJECT_ROOT = Path(__file__).resolve().parent.parent
ADMIN_URL = os.environ.get(
    "BENCH_POSTGRES_URL",
    os.environ.get("TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"),
)
EMAIL = "bench-owner@example.com"
PASSWORD = "bench-password-orchard-7"
SECRET_KEY = "bench-secret-key-not-for-production"
# One User-Agent for the login and for wrk, as one browser sends: Flask-Login's session
# protection marks a session non-fresh (and the cookie is re-signed on every answer) when the
# address or the agent differs from the one that signed in.
USER_AGENT = "lavish-bench/1.0"
LOGIN_ACCOUNTS = 40  # the most login samples (--logins) the bench can time
PG_SOCKET_DIRECTORY = os.environ.get("BENCH_POSTGRES_SOCKET_DIR", "/var/run/postgresql")
# A Redis database of the bench's own (emptied at the end) for the jobs forgot-password queues.
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
UNKNOWN_EMAIL = "nobody-here@example.com"

WRK_SCRIPT = """
done = function(summary, latency, requests)
  local errors = summary.errors.connect + summary.errors.read + summary.errors.write
    + summary.errors.timeout
  io.write(string.format(
    "RESULT p50=%d p95=%d p99=%d requests=%d duration=%d errors=%d non2xx=%d\\n",
    latency:percentile(50), latency:percentile(95), latency:percentile(99),
    summary.requests, summary.duration, errors, summary.errors.status))
end
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def socket_url(database_url: str) -> str | None:
    """The same database through the server's Unix socket, if this machine has it."""
    directory = Path(PG_SOCKET_DIRECTORY)
    url = sa.make_url(database_url)
    if not (directory / f".s.PGSQL.{url.port or 5432}").exists():
        return None
    return url.set(host=None, query={**url.query, "host": str(directory)}).render_as_string(
        hide_password=False
    )


def login_account(n: int) -> str:
    return f"bench-login-{n}@example.com"


def create_database() -> tuple[str, str]:
    name = f"lavish_bench_portal_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    url = sa.make_url(ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    return name, url


def drop_database(name: str) -> None:
    admin = sa.create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def seed(database_url: str) -> None:
    from flask_migrate import upgrade

    from lavish import create_app
    from lavish.accounts.passwords import hash_password
    from lavish.extensions import db
    from lavish.models import Site, SiteStatus, SiteVersion, User

    app = create_app({"SQLALCHEMY_DATABASE_URI": database_url, "SECRET_KEY": SECRET_KEY})
    with app.app_context():
        upgrade()
        owner = User(
            email=EMAIL,
            name="Bench Owner",
            password_hash=hash_password(PASSWORD),
            email_verified_at=datetime.now(UTC),
        )
        others = [User(email=f"customer{n}@example.com", name=f"Customer {n}") for n in range(300)]
        logins = [
            User(
                email=login_account(n),
                name=f"Login {n}",
                password_hash=owner.password_hash,
                email_verified_at=owner.email_verified_at,
            )
            for n in range(LOGIN_ACCOUNTS)
        ]
        db.session.add_all([owner, *others, *logins])
        db.session.flush()
        statuses = [SiteStatus.ACTIVE, SiteStatus.OWNED, SiteStatus.SUSPENDED]
        for n, user in enumerate([owner, owner, owner, *others]):
            site = Site(
                slug=f"bench-site-{n}",
                business_name=f"Bench Business {n}",
                status=statuses[n % 3],
                owner_id=user.id,
                purchased_at=datetime.now(UTC),
            )
            db.session.add(site)
            db.session.flush()
            for number in range(1, 6):
                version = SiteVersion(
                    site_id=site.id, number=number, file_count=12, total_bytes=80_000
                )
                db.session.add(version)
                db.session.flush()
                site.live_version_id = version.id
            db.session.add_all(subscription_history(site, user))
        db.session.commit()
        # Planner statistics, as a database in service has them (autovacuum would take a while).
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(sa.text("ANALYZE"))
        db.engine.dispose()


def subscription_history(site, owner) -> list:
    """What an owner's dashboard shows for each site: an active site pays monthly (and has an
    older cancelled subscription in its history), a suspended one let its subscription expire."""
    from lavish.models import SiteStatus, Subscription, SubscriptionStatus

    now = datetime.now(UTC)

    def subscription(status: str, **days_from_now: int) -> Subscription:
        dates = {field: now + timedelta(days=days) for field, days in days_from_now.items()}
        return Subscription(
            site_id=site.id,
            customer_id=owner.id,
            provider="sandbox",
            amount_cents=9500,
            currency="USD",
            status=status,
            cancel_reason="card replaced" if status == SubscriptionStatus.CANCELLED else "",
            **dates,
        )

    if site.status == SiteStatus.ACTIVE:
        return [
            subscription(
                SubscriptionStatus.CANCELLED, activated_at=-200, ended_at=-90, cancelled_at=-90
            ),
            subscription(
                SubscriptionStatus.ACTIVE,
                activated_at=-80,
                current_period_start=-20,
                current_period_end=10,
            ),
        ]
    if site.status == SiteStatus.SUSPENDED:
        return [
            subscription(
                SubscriptionStatus.EXPIRED, activated_at=-120, ended_at=-30, past_due_at=-37
            )
        ]
    return []


def start_gunicorn(database_url: str, port: int, workers: int, threads: int) -> subprocess.Popen:
    env = {
        **{k: v for k, v in os.environ.items() if k not in {"REDIS_URL", "MAIL_SERVER"}},
        "DATABASE_URL": database_url,
        "SECRET_KEY": SECRET_KEY,
        "PUBLIC_URL": f"http://127.0.0.1:{port}",
    }
    gunicorn = Path(sys.executable).with_name("gunicorn")
    process = subprocess.Popen(
        [
            str(gunicorn),
            "-w",
            str(workers),
            # More than one thread makes gunicorn use gthread workers (with keep-alive).
            "--threads",
            str(threads),
            "-b",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
            "wsgi:app",
        ],
        cwd=PROJECT_ROOT,
        env=env,
        start_new_session=True,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1)
            return process
        except OSError:
            time.sleep(0.2)
    stop(process)
    raise SystemExit("gunicorn did not start")


def stop(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=15)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        os.killpg(process.pid, signal.SIGKILL)


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def login(base: str, email: str = EMAIL) -> tuple[str, float]:
    """Sign in through the form; returns (Cookie header, seconds the POST took)."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), NoRedirect)
    opener.addheaders = [("User-Agent", USER_AGENT)]
    page = opener.open(f"{base}/customer/login").read().decode()
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    body = urllib.parse.urlencode({"email": email, "password": PASSWORD, "csrf_token": token})
    started = time.perf_counter()
    try:
        opener.open(f"{base}/customer/login", data=body.encode())
        raise SystemExit("login did not redirect")
    except urllib.error.HTTPError as answer:  # the 303 (redirects are not followed)
        elapsed = time.perf_counter() - started
        if answer.code != 303:
            raise SystemExit(f"login failed: {answer.code}") from answer
    cookie = "; ".join(f"{c.name}={c.value}" for c in jar)
    return cookie, elapsed


def signed_in_cookie(base: str) -> str:
    """The session cookie of a browser that signed in and then opened its dashboard once: the
    first page shows (and so removes) the welcome flash, which rewrites the cookie; wrk then
    sends the same cookie on every request, which must not change it any more."""
    cookie, _ = login(base)
    for attempt in range(2):
        request = urllib.request.Request(
            f"{base}/customer/my-site", headers={"Cookie": cookie, "User-Agent": USER_AGENT}
        )
        with urllib.request.urlopen(request) as response:
            page = response.read().decode()
            assert response.status == 200 and "bench-site-0" in page, "not the dashboard"
            renewed = response.headers.get("Set-Cookie")
        if renewed is None:
            return cookie
        assert attempt == 0, "the session cookie changes on every request"
        cookie = renewed.split(";", 1)[0]
    raise AssertionError("unreachable")


def wrk(url: str, *, seconds: int, connections: int, cookie: str | None = None) -> dict[str, float]:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(WRK_SCRIPT)
    command = [
        "wrk",
        "-t",
        str(min(2, connections)),
        "-c",
        str(connections),
        "-d",
        f"{seconds}s",
        "-s",
        script.name,
    ]
    command += ["-H", f"User-Agent: {USER_AGENT}"]
    if cookie:
        command += ["-H", f"Cookie: {cookie}"]
    output = subprocess.run(command + [url], capture_output=True, text=True, check=True).stdout
    os.unlink(script.name)
    fields = dict(re.findall(r"(\w+)=(\d+)", output.split("RESULT", 1)[1]))
    numbers = {k: int(v) for k, v in fields.items()}
    return {
        "p50_ms": numbers["p50"] / 1000,
        "p95_ms": numbers["p95"] / 1000,
        "p99_ms": numbers["p99"] / 1000,
        "rps": numbers["requests"] / (numbers["duration"] / 1_000_000),
        "requests": numbers["requests"],
        "errors": numbers["errors"],
        "non2xx": numbers["non2xx"],
    }


def login_versus_hash(base: str, samples: int) -> tuple[float, float]:
    """Median seconds of a whole login POST and of one Argon2 verify alone (same parameters),
    measured alternately so that noise from other processes hits both alike."""
    from lavish.accounts.passwords import hash_password, verify_password

    stored = hash_password(PASSWORD)
    logins, hashes = [], []
    for n in range(samples):
        # One account each: the login limit (10 an address per 15 minutes) stays on, as deployed.
        logins.append(login(base, login_account(n))[1])
        started = time.perf_counter()
        verify_password(stored, PASSWORD)
        hashes.append(time.perf_counter() - started)
    return statistics.median(logins), statistics.median(hashes)


def in_process(database_url: str, samples: int) -> dict[str, float]:
    """Median milliseconds of requests through the app itself (Flask test client, same
    database, one at a time): the work of one request without HTTP or queueing. Jobs go to a
    real Redis, as in production, so forgot-password answers as it does there."""
    from redis import Redis

    from lavish import create_app
    from lavish.accounts.passwords import hash_password, verify_password

    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": database_url,
            "SECRET_KEY": SECRET_KEY,
            "WTF_CSRF_ENABLED": False,
            "RATELIMIT_ENABLED": False,
            "REDIS_URL": REDIS_URL,
        }
    )
    client = app.test_client()

    def timed(call) -> float:
        started = time.perf_counter()
        call()
        return (time.perf_counter() - started) * 1000

    def sign_in():
        answer = client.post("/customer/login", data={"email": EMAIL, "password": PASSWORD})
        assert answer.status_code == 303

    def forgot(email: str):
        def post():
            answer = client.post("/customer/forgot-password", data={"email": email})
            assert answer.status_code == 303

        return post

    stored = hash_password(PASSWORD)
    figures: dict[str, list[float]] = {
        name: [] for name in ("healthz", "dashboard", "login", "argon2", "known", "unknown")
    }
    sign_in()
    for _ in range(20):  # warm up
        client.get("/customer/my-site")
        forgot(EMAIL)(), forgot(UNKNOWN_EMAIL)()
    for n in range(samples * 10):
        figures["healthz"].append(timed(lambda: client.get("/healthz")))
        figures["dashboard"].append(timed(lambda: client.get("/customer/my-site")))
        # Alternate which goes first, so neither always meets a warmer cache.
        pair = [("known", EMAIL), ("unknown", UNKNOWN_EMAIL)][:: 1 if n % 2 else -1]
        for name, email in pair:
            figures[name].append(timed(forgot(email)))
        if n < samples:
            figures["login"].append(timed(sign_in))
            figures["argon2"].append(timed(lambda: verify_password(stored, PASSWORD)))
    with app.app_context():
        from lavish.extensions import db

        db.engine.dispose()
    Redis.from_url(REDIS_URL).flushdb()
    return {name: statistics.median(values) for name, values in figures.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--threads", type=int, default=1, help=">1: gthread workers")
    parser.add_argument("--logins", type=int, default=15)
    parser.add_argument("--tcp", action="store_true", help="PostgreSQL over 127.0.0.1")
    args = parser.parse_args()
    if args.logins > LOGIN_ACCOUNTS:
        parser.error(f"--logins is at most {LOGIN_ACCOUNTS}")
    if not shutil.which("wrk"):
        raise SystemExit("wrk is not installed (make system-deps)")

    name, database_url = create_database()
    process = None
    try:
        seed(database_url)
        port = free_port()
        served_url = None if args.tcp else socket_url(database_url)
        transport = "Unix socket" if served_url else "TCP 127.0.0.1"
        process = start_gunicorn(served_url or database_url, port, args.workers, args.threads)
        base = f"http://127.0.0.1:{port}"

        cookie = signed_in_cookie(base)

        kind = f"gthread x{args.threads}" if args.threads > 1 else "sync"
        print(
            f"portal bench: gunicorn {args.workers} {kind} workers, {args.connections} "
            f"connections, {args.seconds}s each, PostgreSQL over {transport}, "
            f"{os.cpu_count()} CPUs (shared)"
        )
        baseline = wrk(f"{base}/healthz", seconds=args.seconds, connections=args.connections)
        dashboard = wrk(
            f"{base}/customer/my-site",
            seconds=args.seconds,
            connections=args.connections,
            cookie=cookie,
        )
        single = wrk(f"{base}/customer/my-site", seconds=5, connections=1, cookie=cookie)
        for label, result in [
            ("baseline GET /healthz", baseline),
            ("GET /customer/my-site (signed in, 3 sites)", dashboard),
            ("  the same, 1 client (service time)", single),
        ]:
            print(
                f"  {label:45s} p50 {result['p50_ms']:7.2f} ms  p95 {result['p95_ms']:7.2f} ms"
                f"  p99 {result['p99_ms']:7.2f} ms  {result['rps']:8.1f} req/s"
                f"  ({result['requests']} requests, {result['errors']} socket errors,"
                f" {result['non2xx']} non-2xx)"
            )
        print(
            f"  ratio dashboard/baseline: p95 x{dashboard['p95_ms'] / baseline['p95_ms']:.2f},"
            f" throughput x{dashboard['rps'] / baseline['rps']:.2f}"
        )
        verdict = "meets" if dashboard["p95_ms"] <= 50 else "MISSES"
        print(f"  target p95 <= 50 ms: {verdict} ({dashboard['p95_ms']:.1f} ms)")

        inside = in_process(database_url, args.logins)
        print(
            f"  in-process, one at a time (medians): /healthz {inside['healthz']:.2f} ms,"
            f" /customer/my-site {inside['dashboard']:.2f} ms"
            f" (x{inside['dashboard'] / inside['healthz']:.1f});"
            f" login {inside['login']:.1f} ms vs Argon2 verify {inside['argon2']:.1f} ms"
            f" ({inside['argon2'] / inside['login']:.0%})"
        )
        print(
            f"  forgot-password (in-process, medians): known address {inside['known']:.2f} ms,"
            f" unknown {inside['unknown']:.2f} ms (ratio {inside['unknown'] / inside['known']:.2f};"
            " the same answer should take the same time)"
        )
        login_median, hash_alone = login_versus_hash(base, args.logins)
        print(
            f"  login POST (one at a time, median of {args.logins}): {login_median * 1000:.1f} ms;"
            f" one Argon2 verify alone: {hash_alone * 1000:.1f} ms"
            f" -> the hash is {hash_alone / login_median:.0%} of the login request"
        )
    finally:
        if process is not None:
            stop(process)
        drop_database(name)


if __name__ == "__main__":
    main()

"""Two nodes on one PostgreSQL, one Redis and one SITES_ROOT (docs/scale-out.md).

Started for real: two gunicorn nodes, two `flask worker`s and two `flask cron` schedulers, with
a real SMTP server. Signed webhooks go to both nodes (every delivery twice, one event under two
message ids) while sweeps are due and both schedulers enqueue them; a site published through
one node is served by the other; one node is killed (SIGKILL, its whole process group, and its
scheduler) halfway through the deliveries, which then go to the other, as the provider's
retries would. Then: every effect once, every mail once, nothing lost.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import random
import re
import signal
import subprocess
import sys
import time
import zipfile
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from integration_support import free_port

from lavish.accounts.passwords import hash_password
from lavish.clock import utcnow
from lavish.extensions import db
from lavish.models import (
    EmailStatus,
    Order,
    OutboxEmail,
    Payment,
    Role,
    Site,
    SiteStatus,
    User,
    WebhookEvent,
)
from tests.billing.payloads import TEST_SECRET, payment_payload, signed_headers

pytestmark = pytest.mark.integration
PROJECT_ROOT = Path(__file__).resolve().parents[2]
ADMIN_EMAIL, ADMIN_PASSWORD = "staff@example.com", "staff-console-passphrase-1"
BUYERS = 8
SETUP_DUE = 3  # owned sites whose setup window has passed: the sweep suspends them and mails


@pytest.fixture
def redis_db_url():
    """A Redis database of this test's own (never db 0, which other tests share): an empty one
    among 1–15, claimed with a key, emptied afterwards."""
    from redis import Redis

    for number in random.sample(range(1, 16), 15):
        url = f"redis://127.0.0.1:6379/{number}"
        connection = Redis.from_url(url)
        if connection.dbsize() == 0 and connection.set("lavish-two-nodes", "1", nx=True):
            try:
                yield url
            finally:
                connection.flushdb()
            return
    pytest.skip("no empty Redis database among 1-15")


class Processes:
    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self.env, self.logs, self.started = env, logs, {}

    def start(self, name: str, *args: str, **env: str) -> subprocess.Popen:
        log = open(self.logs / f"{name}.log", "wb")  # noqa: SIM115 (closed with the process)
        process = subprocess.Popen(
            args,
            cwd=PROJECT_ROOT,
            env={**self.env, **env},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: killed with its children
        )
        self.started[name] = (process, log)
        return process

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        process, _ = self.started[name]
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        process.wait(timeout=30)

    def log(self, name: str) -> str:
        return (self.logs / f"{name}.log").read_text(errors="replace")

    def stop_all(self) -> None:
        for process, log in self.started.values():
            if process.poll() is None:
                try:
                    os.killpg(process.pid, signal.SIGTERM)
                    process.wait(timeout=15)
                except (ProcessLookupError, subprocess.TimeoutExpired):
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(process.pid, signal.SIGKILL)
                    process.wait(timeout=15)
            log.close()


def _wait_for(check, timeout: float, what: str, interval: float = 0.25):
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(interval)


def _up(url: str) -> bool:
    try:
        return httpx.get(f"{url}/healthz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _csrf(html: str) -> str:
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html) or re.search(
        r'value="([^"]+)"[^>]*name="csrf_token"', html
    )
    assert match, html[:2000]
    return match.group(1)


def _site_zip(marker: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(
            "index.html", f"<!doctype html><html><head></head><body>{marker}</body></html>"
        )
        archive.writestr("style.css", "body { color: #123; }")
    return buffer.getvalue()


def _seed(app, tmp_path: Path) -> list[Order]:
    """Sites for sale with a pending order each, and owned sites due for the setup sweep."""
    runner = app.test_cli_runner()
    folder = tmp_path / "site"
    folder.mkdir()
    (folder / "index.html").write_text("<html><head></head><body>for sale</body></html>")
    db.session.add(
        User(
            email=ADMIN_EMAIL,
            name="Sam Staff",
            role=Role.ADMIN,
            password_hash=hash_password(ADMIN_PASSWORD),
            email_verified_at=utcnow(),
        )
    )
    for i in range(BUYERS + SETUP_DUE):
        result = runner.invoke(
            args=["sites", "import", f"site-{i}", str(folder), "--name", f"S{i}"]
        )
        assert result.exit_code == 0, result.output
    orders = []
    for i in range(BUYERS):
        site = db.session.scalar(sa.select(Site).where(Site.slug == f"site-{i}"))
        order = Order(
            site_id=site.id,
            buyer_email=f"buyer{i}@example.com",
            buyer_name=f"Buyer {i}",
            amount_cents=49500,
            currency="USD",
            provider="sandbox",
            checkout_id=f"ch_two_nodes_{i}",
        )
        db.session.add(order)
        orders.append(order)
    long_ago = utcnow() - timedelta(days=30)
    for i in range(BUYERS, BUYERS + SETUP_DUE):
        owner = User(email=f"owner{i}@example.com", name=f"Owner {i}", email_verified_at=long_ago)
        db.session.add(owner)
        db.session.flush()
        site = db.session.scalar(sa.select(Site).where(Site.slug == f"site-{i}"))
        site.status, site.owner_id, site.purchased_at = SiteStatus.OWNED, owner.id, long_ago
    db.session.commit()
    return orders


def test_two_nodes_one_database_every_effect_once(
    app, app_config, tmp_path, redis_db_url, smtp_sink
):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("several processes share the database: PostgreSQL")
    orders = _seed(app, tmp_path)
    order_ids = {order.checkout_id: order.id for order in orders}
    ports = {"a": free_port(), "b": free_port()}
    urls = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("MAIL_", "RECURRENTE_", "SITES_")) and key != "DATABASE_URL"
    }
    env.update(
        DATABASE_URL=app_config["SQLALCHEMY_DATABASE_URI"],
        REDIS_URL=redis_db_url,
        SECRET_KEY=app_config["SECRET_KEY"],
        PUBLIC_URL=urls["a"],  # one public address for the deployment (its load balancer)
        SITES_ROOT=app_config["SITES_ROOT"],
        RECURRENTE_WEBHOOK_SECRET=TEST_SECRET,
        PYTHONUNBUFFERED="1",
        **smtp_sink.env,
    )
    logs = tmp_path / "logs"
    logs.mkdir()
    processes = Processes(env, logs)
    flask = [sys.executable, "-m", "flask", "--app", "wsgi"]
    try:
        for node in ("a", "b"):
            processes.start(f"worker-{node}", *flask, "worker")
            processes.start(f"cron-{node}", *flask, "cron")
            processes.start(
                f"web-{node}",
                sys.executable, "-m", "gunicorn", "--workers", "2", "--threads", "4",
                "--bind", f"127.0.0.1:{ports[node]}", "wsgi:app",
            )  # fmt: skip
        for node in ("a", "b"):
            _wait_for(lambda n=node: _up(urls[n]), 90, f"node {node}", interval=0.5)

        # Staff publish a site through node A; node B serves it.
        with httpx.Client(base_url=urls["a"], timeout=30) as staff:
            login_page = staff.get("/customer/login").text
            signed_in = staff.post(
                "/customer/login",
                data={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD,
                      "csrf_token": _csrf(login_page)},
            )  # fmt: skip
            assert signed_in.status_code == 303, signed_in.text[:500]
            form = staff.get("/admin/sites/new")
            assert form.status_code == 200
            published = staff.post(
                "/admin/sites/new",
                data={"csrf_token": _csrf(form.text), "slug": "published-on-a",
                      "business_name": "Published On A"},
                files={"archive": ("site.zip", _site_zip("made on node A"), "application/zip")},
            )  # fmt: skip
            assert published.status_code == 303, published.text[:2000]
        served = httpx.get(f"{urls['b']}/published-on-a/", timeout=10)
        assert served.status_code == 200 and "made on node A" in served.text

        # Signed webhooks: each payment delivered to both nodes at once, and the same event
        # again under another message id; node A dies halfway.
        deliveries = []
        for i, order in enumerate(orders):
            body = json.dumps(
                payment_payload(
                    payment_id=f"pa_two_nodes_{i}",
                    checkout_id=order.checkout_id,
                    metadata={"order_id": str(order.id)},
                    email=order.buyer_email,
                )
            )
            deliveries.append((f"msg_{i}", body))
            deliveries.append((f"msg_{i}_again", body))

        answers: list[tuple[str, str, int]] = []
        refused: list[tuple[str, str]] = []  # connections the dead node refused

        def deliver(msg_id: str, body: str, node: str) -> None:
            for target in (node, "b", "a", "b"):  # the provider retries elsewhere
                try:
                    response = httpx.post(
                        f"{urls[target]}/webhooks/recurrente",
                        content=body,
                        headers=signed_headers(body, msg_id=msg_id),
                        timeout=30,
                    )
                except httpx.TransportError:
                    refused.append((msg_id, target))
                    continue
                answers.append((msg_id, target, response.status_code))
                if response.status_code < 300:
                    return
                time.sleep(0.5)
            raise AssertionError(f"{msg_id} was never acknowledged")

        with ThreadPoolExecutor(max_workers=8) as pool:
            futures = [
                pool.submit(deliver, msg_id, body, node)
                for msg_id, body in deliveries
                for node in ("a", "b")
            ]
            # Node A dies with deliveries in flight, once it has answered a quarter of its own.
            _wait_for(
                lambda: sum(target == "a" for _, target, _ in answers) >= len(deliveries) // 4,
                60,
                "node A's first answers",
                interval=0.01,
            )
            processes.kill("web-a")  # SIGKILL, gunicorn's master and workers
            processes.kill("cron-a")
            for future in futures:
                future.result()
        assert processes.started["web-a"][0].poll() is not None  # node A is dead
        assert {target for _, target, _ in answers} == {"a", "b"}  # both served deliveries
        assert refused and {target for _, target in refused} == {"a"}  # then A's were retried
        print("answers", Counter((t, code) for _, t, code in answers), "refused", len(refused))
        assert not _up(urls["a"]) and _up(urls["b"])

        # Everything settles: every order paid, every mail out.
        def settled() -> bool:
            db.session.expire_all()
            paid = db.session.scalar(
                sa.select(sa.func.count(Order.id)).where(Order.status == "paid")
            )
            suspended = db.session.scalar(
                sa.select(sa.func.count(Site.id)).where(Site.status == SiteStatus.SUSPENDED)
            )
            unsent = db.session.scalar(
                sa.select(sa.func.count(OutboxEmail.id)).where(
                    OutboxEmail.status != EmailStatus.SENT
                )
            )
            db.session.rollback()
            return paid == BUYERS and suspended == SETUP_DUE and unsent == 0

        _wait_for(settled, 180, "orders paid, sites suspended, mails sent", interval=1)
        time.sleep(5)  # time for a duplicate to show up, if there were one

        # Every effect once.
        db.session.expire_all()
        payments = db.session.scalars(sa.select(Payment.provider_payment_id)).all()
        assert sorted(payments) == sorted(f"pa_two_nodes_{i}" for i in range(BUYERS))
        for order in db.session.scalars(sa.select(Order)):
            site = db.session.get(Site, order.site_id)
            buyer = db.session.get(User, site.owner_id)
            assert order.id == order_ids[order.checkout_id]
            assert (order.status, site.status, buyer.email) == ("paid", "owned", order.buyer_email)
        events = db.session.scalars(sa.select(WebhookEvent.delivery_id)).all()
        assert Counter(events) == Counter(msg_id for msg_id, _ in deliveries)

        # Every mail once: one outbox row per mail, and the SMTP server got each row once.
        rows = db.session.scalars(sa.select(OutboxEmail)).all()
        sent = [(m["To"], m["Subject"]) for m in smtp_sink.messages]
        assert len(sent) == len(rows), Counter(sent)
        assert Counter(sent) == Counter((row.to, row.subject) for row in rows)
        assert max(Counter(sent).values()) == 1, Counter(sent)
        for i in range(BUYERS):
            assert any(to == f"buyer{i}@example.com" for to, _ in sent)
        for i in range(BUYERS, BUYERS + SETUP_DUE):
            assert any(to == f"owner{i}@example.com" for to, _ in sent)
        assert all(row.attempts == 1 for row in rows), [(r.to, r.attempts) for r in rows]
        db.session.rollback()

        # Both schedulers enqueued the sweeps and the workers ran them: each sweep at least
        # twice, concurrently with the webhooks (idempotent).
        worker_logs = processes.log("worker-a") + processes.log("worker-b")
        for sweep in ("suspend_unsubscribed", "requeue_unsent_mail"):
            assert worker_logs.count(f"jobs.sweeps.{sweep}(") >= 2 * 2, worker_logs[-3000:]
    except BaseException:
        for name in processes.started:
            print(f"---- {name}\n{processes.log(name)[-3000:]}")
        raise
    finally:
        processes.stop_all()
        db.session.remove()

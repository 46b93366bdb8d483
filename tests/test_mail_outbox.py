"""The outbox: mail queued in the caller's transaction, delivered once, retried with backoff,
never lost when Redis is down (the sweep sends it when Redis is back)."""

from __future__ import annotations

import email
import logging
import socket
import threading
from datetime import timedelta

import pytest
import sqlalchemy as sa
import time_machine
from account_helpers import register_data

from jobs.mail import BACKOFF, MAX_ATTEMPTS, deliver_mail
from lavish import create_app
from lavish.accounts import services
from lavish.clock import utcnow
from lavish.extensions import db
from lavish.mail.outbox import queue_mail
from lavish.models import EmailStatus, OutboxEmail, User

START = "2030-05-01 08:00:00+00:00"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def rows() -> list[OutboxEmail]:
    db.session.expire_all()
    return list(db.session.scalars(sa.select(OutboxEmail).order_by(OutboxEmail.id)))


def run_rq_jobs(redis_url: str) -> None:
    """Run what is on the queue, in this process (SimpleWorker), like a worker would."""
    from redis import Redis
    from rq import Queue, SimpleWorker

    connection = Redis.from_url(redis_url)
    SimpleWorker([Queue("default", connection=connection)], connection=connection).work(burst=True)


def test_a_rolled_back_change_sends_nothing(app, client, outbox, make_user):
    services.register_customer(name="A", email="a@example.com", password="plum-orchard-sunrise")
    db.session.rollback()
    make_user("b@example.com")  # a later commit must not deliver the rolled-back mail
    assert rows() == []
    assert outbox == []


def test_the_mail_is_sent_only_after_the_commit(app, outbox):
    queue_mail(
        "x@example.com",
        "password_changed",
        {"user_id": 1, "name": "X", "changed_at": utcnow().isoformat()},
    )
    assert outbox == []  # still inside the transaction
    db.session.commit()
    assert [m.recipients for m in outbox] == [["x@example.com"]]
    assert rows()[0].status == EmailStatus.SENT


def test_one_mail_per_event_with_a_dedupe_key(app, outbox):
    context = {"user_id": 1, "name": "X", "changed_at": utcnow().isoformat()}
    first = queue_mail("x@example.com", "password_changed", context, dedupe_key="event:1")
    second = queue_mail("x@example.com", "password_changed", context, dedupe_key="event:1")
    assert first is not None and second is None
    db.session.commit()
    assert queue_mail("x@example.com", "password_changed", context, dedupe_key="event:1") is None
    db.session.commit()
    assert len(rows()) == 1
    assert len(outbox) == 1


def test_delivering_twice_sends_once(app, outbox, make_user):
    user = make_user(verified=False)
    email_row = queue_mail(user.email, "verify_email", {"user_id": user.id, "name": user.name})
    db.session.commit()  # delivered in-process after the commit
    assert deliver_mail(email_row.id) == "skipped"
    assert deliver_mail(email_row.id) == "skipped"
    assert len(outbox) == 1
    assert rows()[0].attempts == 1


def test_concurrent_deliveries_claim_the_mail_once(app, app_config, make_user):
    if not app_config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        pytest.skip("row claims between concurrent connections: PostgreSQL")
    app.config["MAIL_SERVER"] = None  # to files
    user = make_user(verified=False)
    app.config["REDIS_URL"] = "redis://127.0.0.1:1/0"  # keep the after-commit job from running
    email_row = queue_mail(user.email, "verify_email", {"user_id": user.id, "name": user.name})
    db.session.commit()
    email_id = email_row.id  # read here: the threads must not touch this session's objects
    results: list[str] = []
    barrier = threading.Barrier(4)

    def worker() -> None:
        with app.app_context():
            barrier.wait()
            try:
                results.append(deliver_mail(email_id))
            except Exception as exc:  # shown by the assertion below
                results.append(repr(exc))
            finally:
                db.session.remove()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == ["sent", "skipped", "skipped", "skipped"], results


def test_smtp_failures_are_retried_with_backoff_and_recorded(app, make_user):
    app.config.update(
        MAIL_SERVER="127.0.0.1", MAIL_PORT=free_port(), REDIS_URL="redis://127.0.0.1:1/0"
    )
    app.extensions["mail"].suppress = False  # really talk SMTP (to a closed port)
    user = make_user(verified=False)
    with time_machine.travel(START, tick=False) as traveller:
        email_row = queue_mail(user.email, "verify_email", {"user_id": user.id, "name": user.name})
        db.session.commit()
        for attempt in range(1, MAX_ATTEMPTS + 1):
            result = deliver_mail(email_row.id)
            [row] = rows()
            assert row.attempts == attempt
            assert "ConnectionRefusedError" in row.last_error
            if attempt < MAX_ATTEMPTS:
                assert result == "retry"
                assert row.status == EmailStatus.QUEUED
                wait = BACKOFF[min(attempt, len(BACKOFF)) - 1]
                assert row.next_attempt_at == utcnow() + wait
                # Not before the backoff: an early duplicate job does nothing.
                assert deliver_mail(email_row.id) == "skipped"
                traveller.shift(wait)
            else:
                assert result == "failed"
                assert row.status == EmailStatus.FAILED
                assert row.next_attempt_at is None
    assert rows()[0].sent_at is None


def test_a_retry_is_scheduled_on_rq(app, make_user, redis_url):
    from redis import Redis
    from rq import Queue
    from rq.registry import ScheduledJobRegistry

    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=free_port(), REDIS_URL=redis_url)
    app.extensions["mail"].suppress = False
    user = make_user(verified=False)
    email_row = queue_mail(user.email, "verify_email", {"user_id": user.id, "name": user.name})
    db.session.commit()
    run_rq_jobs(redis_url)  # the first attempt fails
    assert rows()[0].attempts == 1
    registry = ScheduledJobRegistry(queue=Queue("default", connection=Redis.from_url(redis_url)))
    [job_id] = registry.get_job_ids()
    job = Queue("default", connection=Redis.from_url(redis_url)).fetch_job(job_id)
    assert job.func_name == "jobs.mail.deliver_mail" and job.args == (email_row.id,)


def test_with_redis_down_the_account_is_created_and_the_sweep_sends_the_mail_later(
    app_config, redis_url, outbox, caplog
):
    down = create_app({**app_config, "REDIS_URL": "redis://127.0.0.1:1/0"})
    with down.app_context(), caplog.at_level(logging.WARNING):
        response = down.test_client().post("/customer/register", data=register_data())
        assert response.status_code == 303
        assert db.session.scalar(sa.select(User.email)) == "rosa@example.com"
        [row] = rows()
        assert row.status == EmailStatus.QUEUED
        db.session.remove()
    assert "could not enqueue jobs.mail.deliver_mail" in caplog.text
    assert outbox == []

    back = create_app({**app_config, "REDIS_URL": redis_url})
    with back.app_context():
        result = back.test_cli_runner().invoke(args=["sweep"])
        assert "requeue_unsent_mail: 1" in result.output
        run_rq_jobs(redis_url)
        [row] = rows()
        assert row.status == EmailStatus.SENT
        db.session.remove()
    [mail] = outbox
    assert mail.subject == "Welcome to Lavish: please confirm your email"


def test_the_sweep_takes_back_a_mail_whose_worker_died(app, make_user, outbox):
    user = make_user(verified=False)
    app.config["REDIS_URL"] = "redis://127.0.0.1:1/0"
    email_row = queue_mail(user.email, "verify_email", {"user_id": user.id, "name": user.name})
    db.session.commit()
    app.config["REDIS_URL"] = None
    # A worker claimed it and died.
    email_row.status = EmailStatus.SENDING
    email_row.claimed_at = utcnow() - timedelta(minutes=11)
    db.session.commit()
    from jobs.sweeps import requeue_unsent_mail

    assert requeue_unsent_mail() == 1
    assert rows()[0].status == EmailStatus.SENT
    assert rows()[0].resent_after_crash  # its first copy may have gone out: staff see it
    assert len(outbox) == 1
    assert requeue_unsent_mail() == 0  # nothing left: rerunning is harmless


def test_every_copy_of_a_mail_carries_the_message_id_made_for_it_first(app, make_user, outbox):
    user = make_user(verified=False)
    app.config["MAIL_DEFAULT_SENDER"] = "Lavish <hello@lavish.example>"
    app.config["REDIS_URL"] = "redis://127.0.0.1:1/0"  # queued, not sent at the commit
    email_row = queue_mail(user.email, "verify_email", {"user_id": user.id, "name": user.name})
    db.session.commit()
    app.config.update(MAIL_PORT=free_port())
    app.extensions["mail"].suppress = False  # the first attempt fails (nothing listens)
    assert deliver_mail(email_row.id) == "retry"
    [row] = rows()
    message_id = row.message_id
    assert message_id.startswith("<") and message_id.endswith("@lavish.example>")
    assert f"mail{row.id}@" in message_id

    app.extensions["mail"].suppress = True
    row.next_attempt_at = utcnow()
    db.session.commit()
    assert deliver_mail(email_row.id) == "sent"
    [mail] = outbox
    assert mail.msgId == message_id and rows()[0].message_id == message_id


def test_a_mail_is_sent_again_after_one_crash_only(app, make_user, outbox):
    """Its worker died while sending; it is sent again once (marked); when the worker sending
    it again dies too, it is `failed` with the reason, not sent a third time."""
    user = make_user(verified=False)
    app.config["REDIS_URL"] = "redis://127.0.0.1:1/0"
    email_row = queue_mail(user.email, "verify_email", {"user_id": user.id, "name": user.name})
    db.session.commit()
    app.config["REDIS_URL"] = None

    def crash() -> None:
        # As a worker killed mid-send leaves it: claimed (with its Message-ID), never recorded.
        from jobs.mail import _claim

        assert _claim(email_row.id)
        row = db.session.get(OutboxEmail, email_row.id)
        row.claimed_at = utcnow() - timedelta(minutes=11)
        db.session.commit()

    crash()
    first_id = rows()[0].message_id
    assert deliver_mail(email_row.id) == "sent"
    assert rows()[0].resent_after_crash and rows()[0].message_id == first_id
    assert len(outbox) == 1 and outbox[0].msgId == first_id

    row = rows()[0]
    row.status, row.next_attempt_at = EmailStatus.QUEUED, utcnow()  # say staff queued it again
    db.session.commit()
    crash()
    assert deliver_mail(email_row.id) == "failed"
    [row] = rows()
    assert row.status == EmailStatus.FAILED
    assert "died twice" in row.last_error and row.claimed_at is None
    assert len(outbox) == 1
    from jobs.sweeps import requeue_unsent_mail

    assert requeue_unsent_mail() == 0  # failed: left for staff


def test_staff_see_a_mail_resent_after_a_crash(app, client, admin, login):
    email_row = OutboxEmail(
        to="rosa@example.com", template="verify_email", subject="Confirm your email address",
        status=EmailStatus.SENT, attempts=2, message_id="<1.2.3.mail1@lavish.local>",
        resent_after_crash=True,
    )  # fmt: skip
    plain = OutboxEmail(to="ana@example.com", template="verify_email", status=EmailStatus.SENT)
    db.session.add_all([email_row, plain])
    db.session.commit()
    login(admin)
    listing = client.get("/admin/emails").get_data(as_text=True)
    assert listing.count("resent after a crash") == 1
    detail = client.get(f"/admin/emails/{email_row.id}").get_data(as_text=True)
    assert "resent after a crash" in detail and "1.2.3.mail1@lavish.local" in detail
    assert "resent after a crash" not in client.get(f"/admin/emails/{plain.id}").get_data(
        as_text=True
    )


def test_without_smtp_mail_goes_to_the_log_and_to_instance_outbox(app, make_user, caplog):
    app.config["MAIL_SERVER"] = None
    user = make_user(verified=False)
    with caplog.at_level(logging.INFO, logger="jobs.mail"):
        queue_mail(user.email, "verify_email", {"user_id": user.id, "name": user.name})
        db.session.commit()
    from pathlib import Path

    [path] = Path(app.config["MAIL_OUTBOX_DIR"]).glob("*.eml")
    assert path.name == f"{rows()[0].id:06d}-verify_email.eml"
    message = email.message_from_bytes(path.read_bytes())
    assert message["Subject"] == "Confirm your email address"
    assert message["To"] == user.email
    text = next(p for p in message.walk() if p.get_content_type() == "text/plain")
    assert "http://localhost/customer/verify-email/" in text.get_payload(decode=True).decode()
    assert "http://localhost/customer/verify-email/" in caplog.text
    assert rows()[0].status == EmailStatus.SENT


def test_links_are_made_when_the_mail_is_rendered_not_stored(app, make_user, outbox):
    user = make_user()
    services.request_password_reset(user.email)
    db.session.commit()
    [row] = rows()
    assert row.context == {"user_id": user.id, "name": user.name}  # no token in the database
    assert "/customer/reset-password/" in outbox[0].body


def test_a_dedupe_race_keeps_one_mail_and_the_losers_transaction(app, app_config, make_user):
    if not app_config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        pytest.skip("two writers at once: PostgreSQL (SQLite serialises them)")
    user = make_user()
    app.config["REDIS_URL"] = "redis://127.0.0.1:1/0"  # no delivery needed here
    other = db.engine.connect()
    other_tx = other.begin()
    other.execute(
        sa.insert(OutboxEmail).values(
            to=user.email,
            template="password_changed",
            context={},
            dedupe_key="race:1",
            status=EmailStatus.QUEUED,
            attempts=0,
            last_error="",
            subject="",
            created_at=utcnow(),
        )
    )
    # The other transaction commits while ours waits on the unique index.
    threading.Timer(0.5, other_tx.commit).start()
    user.name = "Changed in the same transaction"
    assert queue_mail(user.email, "password_changed", {}, dedupe_key="race:1") is None
    db.session.commit()  # our transaction survived the lost race
    other.close()
    assert db.session.scalar(sa.select(User.name)) == "Changed in the same transaction"
    assert len(rows()) == 1

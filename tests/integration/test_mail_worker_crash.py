"""A worker killed with SIGKILL (with its work-horse) while it sends a mail: the mail goes out at
most once more, with the same Message-ID, and staff see it (issue 10, defect 10). A real
`flask worker`, a real SMTP server, PostgreSQL."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
import sqlalchemy as sa
from integration_support import kill_process_tree

from jobs.sweeps import requeue_unsent_mail
from lavish import create_app
from lavish.clock import utcnow
from lavish.extensions import db
from lavish.mail.outbox import queue_mail
from lavish.models import EmailStatus, OutboxEmail

pytestmark = pytest.mark.integration


@pytest.fixture
def web(app, app_config, redis_url, smtp_sink):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("row locks and several processes: PostgreSQL")
    return create_app({**app_config, **smtp_sink.config, "REDIS_URL": redis_url})


def queue_one(web, make_user) -> int:
    user = make_user("rosa@example.com", name="Rosa", verified=False)
    with web.app_context():
        email = queue_mail(user.email, "verify_email", {"user_id": user.id, "name": user.name})
        db.session.commit()
        email_id = email.id
        db.session.remove()
    return email_id


def row(web, email_id: int) -> OutboxEmail:
    with web.app_context():
        email = db.session.get(OutboxEmail, email_id)
        db.session.expunge(email)
        db.session.remove()
        return email


def wait_until(condition, timeout: float = 60, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def ten_minutes_pass(web, email_id: int) -> None:
    """The claim of the dead worker grows stale (as ten real minutes would make it)."""
    with web.app_context():
        db.session.execute(
            sa.update(OutboxEmail)
            .where(OutboxEmail.id == email_id)
            .values(claimed_at=utcnow() - timedelta(minutes=11))
        )
        db.session.commit()
        db.session.remove()


def sweep_and_deliver(web, run_rq_worker, smtp_sink) -> None:
    with web.app_context():
        requeue_unsent_mail()
        db.session.remove()
    run_rq_worker(**smtp_sink.env)


def test_a_worker_killed_after_the_server_accepted_the_mail_does_not_send_it_again(
    web, make_user, smtp_sink, start_rq_worker, run_rq_worker
):
    """The reported case: the server has the mail (250 after DATA); the worker is killed before
    the conversation ends. The acceptance is recorded at once, so the sweep sends nothing."""
    quit_reached, release = threading.Event(), threading.Event()

    def hold_quit() -> None:
        quit_reached.set()
        release.wait(120)

    smtp_sink.before_quit_reply = hold_quit
    email_id = queue_one(web, make_user)
    worker = start_rq_worker("--burst", **smtp_sink.env)
    try:
        wait_until(quit_reached.is_set, what="the worker to say QUIT")
        kill_process_tree(worker.pid)
        worker.wait(30)
    finally:
        release.set()
    assert len(smtp_sink.messages) == 1
    assert row(web, email_id).status == EmailStatus.SENT

    smtp_sink.before_quit_reply = None
    ten_minutes_pass(web, email_id)
    sweep_and_deliver(web, run_rq_worker, smtp_sink)
    assert len(smtp_sink.messages) == 1  # not sent again


def test_a_worker_killed_before_it_recorded_the_acceptance_sends_it_again_once(
    app, web, admin, login, client, make_user, smtp_sink, start_rq_worker, run_rq_worker
):
    """The window that remains: the server accepted the mail, and the worker dies before its
    commit (held here by a row lock until it is killed). Ten minutes later the mail is sent
    again, once, with the same Message-ID, marked for staff."""
    email_id = queue_one(web, make_user)
    locker = sa.create_engine(web.config["SQLALCHEMY_DATABASE_URI"])
    lock = locker.connect()
    locked = threading.Event()

    def lock_the_row_then_accept() -> None:
        # Runs before the server answers 250: the worker's "sent" UPDATE will wait on this.
        lock.execute(sa.text("SELECT id FROM emails WHERE id = :id FOR UPDATE"), {"id": email_id})
        locked.set()

    smtp_sink.before_data_reply = lock_the_row_then_accept
    worker = start_rq_worker("--burst", **smtp_sink.env)
    try:
        wait_until(locked.is_set, what="the mail to reach the server")

        def worker_waits_on_the_lock() -> bool:
            # Its own connection, in autocommit: a transaction sees one snapshot of the view.
            with locker.connect().execution_options(isolation_level="AUTOCOMMIT") as watcher:
                waiting = watcher.execute(
                    sa.text(
                        "SELECT count(*) FROM pg_stat_activity"
                        " WHERE datname = current_database() AND wait_event_type = 'Lock'"
                        " AND query LIKE 'UPDATE emails%'"
                    )
                ).scalar()
            return waiting == 1

        wait_until(worker_waits_on_the_lock, what="the worker to record the acceptance")
        kill_process_tree(worker.pid)
        worker.wait(30)
    finally:
        lock.rollback()
        lock.close()
        locker.dispose()
    [first] = smtp_sink.messages
    crashed = row(web, email_id)
    assert crashed.status == EmailStatus.SENDING and not crashed.resent_after_crash
    assert first["Message-ID"] == crashed.message_id

    smtp_sink.before_data_reply = None
    sweep_and_deliver(web, run_rq_worker, smtp_sink)
    assert len(smtp_sink.messages) == 1  # not before the claim is stale

    ten_minutes_pass(web, email_id)
    sweep_and_deliver(web, run_rq_worker, smtp_sink)
    first, second = smtp_sink.wait_for(2)
    assert second["Message-ID"] == first["Message-ID"]  # the same message, to the receiver
    resent = row(web, email_id)
    assert resent.status == EmailStatus.SENT and resent.resent_after_crash
    assert resent.attempts == 2

    ten_minutes_pass(web, email_id)
    sweep_and_deliver(web, run_rq_worker, smtp_sink)
    assert len(smtp_sink.messages) == 2  # sent: nothing more

    login(admin)
    listing = client.get("/admin/emails").get_data(as_text=True)
    assert "resent after a crash" in listing
    detail = client.get(f"/admin/emails/{email_id}").get_data(as_text=True)
    assert "resent after a crash" in detail
    assert resent.message_id.strip("<>") in detail

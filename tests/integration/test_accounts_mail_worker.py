"""A real `rq worker` process and a real SMTP server: the verification mail arrives with a
working link; with Redis down at sign-up the mail still arrives once Redis is back."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa

from lavish import create_app
from lavish.extensions import db
from lavish.models import EmailStatus, OutboxEmail, User

pytestmark = pytest.mark.integration
PROJECT_ROOT = Path(__file__).resolve().parents[2]

REGISTRATION = {
    "name": "Rosa <b>Plumber</b>",
    "email": "Rosa@Example.com",
    "password": "plum-orchard-sunrise-42",
    "password_confirm": "plum-orchard-sunrise-42",
}


def verify_link(sink, message) -> str:
    match = re.search(r"http://localhost/customer/verify-email/\S+", sink.text(message))
    assert match, sink.text(message)
    return urlsplit(match.group(0)).path


def test_register_then_a_real_worker_delivers_the_verification_mail_over_smtp(
    app, app_config, redis_url, smtp_sink, run_rq_worker
):
    web = create_app({**app_config, "REDIS_URL": redis_url})
    with web.app_context():
        client = web.test_client()
        assert client.post("/customer/register", data=REGISTRATION).status_code == 303
        db.session.remove()
    assert smtp_sink.messages == []  # queued on RQ, not sent by the web process

    output = run_rq_worker(**smtp_sink.env).stdout
    assert "Job OK" in output or "Successfully completed" in output, output

    [message] = smtp_sink.wait_for(1)
    assert smtp_sink.envelopes[0][1] == ["rosa@example.com"]
    assert message["Subject"] == "Welcome to Lavish: please confirm your email"
    assert message.get_body(preferencelist=("html",)) is not None
    html = message.get_body(preferencelist=("html",)).get_content()
    assert "Rosa &lt;b&gt;Plumber&lt;/b&gt;" in html

    # Requests outside an app context of ours: each gets its own `g` and session, as in
    # production (an outer context would carry the signed-in user, detached, between requests).
    client = web.test_client()
    client.post(
        "/customer/login",
        data={"email": "rosa@example.com", "password": REGISTRATION["password"]},
    )
    response = client.get(verify_link(smtp_sink, message))
    assert response.status_code == 303
    with web.app_context():
        assert db.session.scalar(sa.select(User)).is_verified
        row = db.session.scalar(sa.select(OutboxEmail))
        assert (row.status, row.attempts) == (EmailStatus.SENT, 1)
        db.session.remove()

    run_rq_worker(**smtp_sink.env)  # nothing left: sent once
    assert len(smtp_sink.messages) == 1


def test_with_redis_down_at_sign_up_the_mail_goes_out_when_it_is_back(
    app, app_config, redis_url, smtp_sink, run_rq_worker, app_env
):
    down = create_app({**app_config, "REDIS_URL": "redis://127.0.0.1:1/0"})  # nothing listens
    with down.app_context():
        assert down.test_client().post("/customer/register", data=REGISTRATION).status_code == 303
        assert db.session.scalar(sa.select(User.email)) == "rosa@example.com"
        assert db.session.scalar(sa.select(OutboxEmail.status)) == EmailStatus.QUEUED
        db.session.remove()

    run_rq_worker(**smtp_sink.env)
    assert smtp_sink.messages == []  # nothing reached Redis

    # Redis is back: the sweep (run by `flask cron` every 5 minutes) re-enqueues.
    sweep = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", "sweep"],
        cwd=PROJECT_ROOT,
        env=app_env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "requeue_unsent_mail: 1" in sweep.stdout, sweep.stdout + sweep.stderr
    run_rq_worker(**smtp_sink.env)
    [message] = smtp_sink.wait_for(1)
    assert message["To"] == "rosa@example.com"

    with app.app_context():
        client = app.test_client()
        client.post(
            "/customer/login",
            data={"email": "rosa@example.com", "password": REGISTRATION["password"]},
        )
        assert client.get(verify_link(smtp_sink, message)).status_code == 303
        assert db.session.scalar(sa.select(User)).is_verified

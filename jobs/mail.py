"""Mail delivery: claim the outbox row, render, send, record.

- One sender per mail: a worker first claims the row (an UPDATE … WHERE status = 'queued' that
  only one transaction can win), so a job enqueued twice (after-commit + sweep, an RQ retry)
  sends once.
- Each mail has one Message-ID, made when it is first claimed and stored (committed) before
  anything is sent; every copy of the mail carries it.
- The SMTP server's acceptance (its 250 after DATA) is recorded at once, before QUIT: a worker
  killed after that leaves the row `sent`. Only a worker killed between the acceptance and that
  commit (or before it knew) leaves it `sending`; when that claim is older than STALE_CLAIM the
  mail is sent again, once, with the same Message-ID (receiving servers can tell it is the
  same message), and the row says `resent_after_crash` (shown in the console). A second crash
  gives up: the row is `failed` with the reason, for staff to decide.
- Failures (SMTP down, a refused login) are recorded on the row (attempts, last_error) and
  retried with backoff: the job schedules itself again on RQ, and the sweep
  (jobs.sweeps.requeue_unsent_mail) picks up anything due that was not scheduled (Redis down,
  no Redis at all). After MAX_ATTEMPTS the row is `failed`; staff can resend it.
- The job does not raise for a failed send: RQ's own retry would ignore the backoff.
"""

from __future__ import annotations

import contextlib
import logging
import socket
from collections.abc import Iterator
from datetime import timedelta
from email.utils import make_msgid, parseaddr
from pathlib import Path
from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import current_app
from flask_mail import Message

from jobs import with_app_context
from lavish.background import enqueue_later
from lavish.clock import utcnow
from lavish.extensions import db, mail
from lavish.mail.render import render_mail
from lavish.models import EmailStatus, OutboxEmail

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
BACKOFF = [timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=30), timedelta(hours=2)]
STALE_CLAIM = timedelta(minutes=10)
DELIVER_JOB = "jobs.mail.deliver_mail"


def backoff_after(attempts: int) -> timedelta:
    """Wait before the next try, after `attempts` failed ones (1 → 1 min, 2 → 5 min, …)."""
    return BACKOFF[min(max(attempts, 1), len(BACKOFF)) - 1]


def _claim(email_id: int) -> bool:
    """Atomically move a due, queued mail to `sending`; only one worker wins. A claim left by
    a dead worker is taken over once (the mail is then marked `resent_after_crash`)."""
    now = utcnow()
    result = db.session.execute(
        sa.update(OutboxEmail)
        .where(OutboxEmail.id == email_id)
        .where(
            sa.or_(
                sa.and_(
                    OutboxEmail.status == EmailStatus.QUEUED,
                    # Not before its backoff: a duplicate job must not skip the wait.
                    sa.or_(
                        OutboxEmail.next_attempt_at.is_(None),
                        OutboxEmail.next_attempt_at <= now + timedelta(seconds=5),
                    ),
                ),
                sa.and_(_crashed(now), OutboxEmail.resent_after_crash.is_(False)),
            )
        )
        .values(
            status=EmailStatus.SENDING,
            claimed_at=now,
            attempts=OutboxEmail.attempts + 1,
            # (SET expressions read the row as it was before this UPDATE.)
            resent_after_crash=sa.case(
                (OutboxEmail.status == EmailStatus.SENDING, sa.true()),
                else_=OutboxEmail.resent_after_crash,
            ),
            message_id=sa.func.coalesce(OutboxEmail.message_id, _new_message_id(email_id)),
        )
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    return result.rowcount == 1


def _crashed(now):
    """A claim whose worker died: `sending` for longer than any job may run."""
    return sa.and_(
        OutboxEmail.status == EmailStatus.SENDING, OutboxEmail.claimed_at < now - STALE_CLAIM
    )


def _give_up_after_second_crash(email_id: int) -> bool:
    """A mail already sent again after one crash whose worker died again is not sent a third
    time: it is `failed`, saying why, for staff to resend or not."""
    result = db.session.execute(
        sa.update(OutboxEmail)
        .where(OutboxEmail.id == email_id)
        .where(_crashed(utcnow()), OutboxEmail.resent_after_crash.is_(True))
        .values(
            status=EmailStatus.FAILED,
            claimed_at=None,
            next_attempt_at=None,
            last_error=(
                "The worker sending it died twice; it was sent again once after the first "
                "crash and may have been delivered. Not sent again automatically."
            ),
        )
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    return result.rowcount == 1


def _new_message_id(email_id: int) -> str:
    sender = current_app.config.get("MAIL_DEFAULT_SENDER") or ""
    address = parseaddr(sender if isinstance(sender, str) else sender[-1])[1]
    domain = address.rpartition("@")[2] or urlsplit(current_app.config["PUBLIC_URL"]).hostname
    return make_msgid(idstring=f"mail{email_id}", domain=domain or "lavish.local")


@contextlib.contextmanager
def _socket_timeout(seconds: float) -> Iterator[None]:
    # Flask-Mail opens smtplib connections without a timeout; a stalled server would hold the
    # worker until the job timeout. smtplib takes the default timeout when it connects.
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(seconds)
    try:
        yield
    finally:
        socket.setdefaulttimeout(previous)


def _write_to_outbox_dir(email: OutboxEmail, message: Message) -> Path:
    """No SMTP configured (`make run`): the mail goes to the log and to instance/outbox/."""
    folder = Path(current_app.config["MAIL_OUTBOX_DIR"])
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{email.id:06d}-{email.template}.eml"
    path.write_bytes(message.as_bytes())
    log.info(
        "mail %s to %s: %s\n%s\n(saved to %s)",
        email.id,
        email.to,
        message.subject,
        message.body,
        path,
    )
    return path


def _record_failure(email_id: int, error: Exception) -> OutboxEmail:
    db.session.rollback()
    email = db.session.get(OutboxEmail, email_id)
    email.last_error = f"{type(error).__name__}: {error}"[:2000]
    email.claimed_at = None
    if email.attempts >= MAX_ATTEMPTS:
        email.status = EmailStatus.FAILED
        email.next_attempt_at = None
    else:
        email.status = EmailStatus.QUEUED
        email.next_attempt_at = utcnow() + backoff_after(email.attempts)
    db.session.commit()
    return email


def _record_sent(email: OutboxEmail, subject: str) -> None:
    email.subject = subject
    email.status = EmailStatus.SENT
    email.sent_at = utcnow()
    email.last_error = ""
    db.session.commit()


@with_app_context
def deliver_mail(email_id: int) -> str:
    """Send one outbox mail. Returns "sent", "skipped" (not due / someone else has it),
    "retry" (failed, scheduled again) or "failed" (gave up: MAX_ATTEMPTS, or a second crash)."""
    if not _claim(email_id):
        return "failed" if _give_up_after_second_crash(email_id) else "skipped"
    email = db.session.get(OutboxEmail, email_id)
    accepted = recorded = False
    try:
        rendered = render_mail(email.template, email.context)
        message = Message(
            subject=rendered.subject,
            recipients=[email.to],
            body=rendered.text,
            html=rendered.html,
            extra_headers={"X-Lavish-Mail": str(email.id)},
        )
        message.msgId = email.message_id  # the same for every copy of this mail
        if current_app.config.get("MAIL_SERVER"):
            with (
                _socket_timeout(current_app.config["MAIL_TIMEOUT"]),
                mail.connect() as connection,
            ):
                connection.send(message)
                # The server has accepted it (250 after DATA): record that now, before QUIT.
                accepted = True
                _record_sent(email, rendered.subject)
                recorded = True
        else:
            _write_to_outbox_dir(email, message)
            accepted = True
            _record_sent(email, rendered.subject)
            recorded = True
    except Exception as exc:
        if recorded:  # only saying goodbye to the server failed
            log.warning("mail %s: sent; closing the SMTP connection failed: %s", email_id, exc)
            return "sent"
        if accepted:
            # Accepted but not recorded (the database failed us): the row stays `sending`, and
            # the crash path sends it again once, marked. Never a silent second copy.
            log.error("mail %s: accepted by the server but not recorded: %s", email_id, exc)
            raise
        email = _record_failure(email_id, exc)
        log.warning(
            "mail %s to %s failed (attempt %s of %s): %s",
            email_id,
            email.to,
            email.attempts,
            MAX_ATTEMPTS,
            email.last_error,
        )
        if email.status == EmailStatus.FAILED:
            return "failed"
        enqueue_later(DELIVER_JOB, email.next_attempt_at - utcnow(), email_id)
        return "retry"
    return "sent"

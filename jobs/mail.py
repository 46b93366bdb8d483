"""Mail delivery: claim the outbox row, render, send, record. A mail is sent at most once."""

from __future__ import annotations

import logging
from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa
from flask import current_app
from flask_mail import Message

from jobs import with_app_context
from lavish.clock import utcnow
from lavish.extensions import db, mail
from lavish.mail.render import render_mail
from lavish.models import EmailStatus, OutboxEmail

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
BACKOFF = [timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=30), timedelta(hours=2)]


def _claim(email_id: int) -> bool:
    """Atomically move a queued mail to `sending`; only one worker wins."""
    now = utcnow()
    result = db.session.execute(
        sa.update(OutboxEmail)
        .where(OutboxEmail.id == email_id)
        .where(
            sa.or_(
                OutboxEmail.status == EmailStatus.QUEUED,
                sa.and_(
                    OutboxEmail.status == EmailStatus.SENDING,
                    OutboxEmail.claimed_at < now - timedelta(minutes=10),
                ),
            )
        )
        .values(status=EmailStatus.SENDING, claimed_at=now, attempts=OutboxEmail.attempts + 1)
    )
    db.session.commit()
    return result.rowcount == 1


def _write_to_outbox_dir(email: OutboxEmail, message: Message) -> None:
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


@with_app_context
def deliver_mail(email_id: int) -> str:
    if not _claim(email_id):
        return "skipped"  # already sent, being sent, or gone
    email = db.session.get(OutboxEmail, email_id)
    try:
        rendered = render_mail(email.template, email.context)
        message = Message(
            subject=rendered.subject, recipients=[email.to], body=rendered.text, html=rendered.html
        )
        if current_app.config.get("MAIL_SERVER"):
            mail.send(message)
        else:
            _write_to_outbox_dir(email, message)
    except Exception as exc:
        db.session.rollback()
        email = db.session.get(OutboxEmail, email_id)
        email.last_error = f"{type(exc).__name__}: {exc}"[:2000]
        if email.attempts >= MAX_ATTEMPTS:
            email.status = EmailStatus.FAILED
            email.next_attempt_at = None
        else:
            email.status = EmailStatus.QUEUED
            email.next_attempt_at = utcnow() + BACKOFF[min(email.attempts, len(BACKOFF)) - 1]
        db.session.commit()
        log.warning("mail %s failed (attempt %s): %s", email_id, email.attempts, email.last_error)
        raise
    email.subject = rendered.subject
    email.status = EmailStatus.SENT
    email.sent_at = utcnow()
    email.last_error = ""
    db.session.commit()
    return "sent"

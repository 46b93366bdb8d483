"""Queue a mail inside the caller's transaction; it is delivered after the commit."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from lavish.background import enqueue_after_commit, enqueue_now
from lavish.clock import utcnow
from lavish.extensions import db
from lavish.models import EmailStatus, OutboxEmail

DELIVER_JOB = "jobs.mail.deliver_mail"


def queue_mail(
    to: str, template: str, context: dict[str, Any] | None = None, *, dedupe_key: str | None = None
) -> OutboxEmail | None:
    """Add a mail to the outbox in the current transaction.

    ``context`` must be JSON-serialisable (ids, strings, ISO dates): the job renders the mail later.
    With a ``dedupe_key`` a second mail for the same event is not queued (returns None).
    """
    email = OutboxEmail(to=to, template=template, context=context or {}, dedupe_key=dedupe_key)
    if dedupe_key is None:
        db.session.add(email)
        db.session.flush()
    else:
        exists = db.session.scalar(
            sa.select(OutboxEmail.id).where(OutboxEmail.dedupe_key == dedupe_key)
        )
        if exists:
            return None
        if db.session.get_bind().dialect.name != "postgresql":
            # SQLite serialises writers; and its driver turns a SAVEPOINT opened before the
            # first write into a commit on release, so no savepoint there.
            db.session.add(email)
            db.session.flush()
        else:
            try:
                # Two transactions reporting the same event at once: the unique key keeps one,
                # and the savepoint keeps the losing caller's transaction usable.
                with db.session.begin_nested():
                    db.session.add(email)
                    db.session.flush()
            except IntegrityError:
                return None
    enqueue_after_commit(DELIVER_JOB, email.id)
    return email


def queue_mails(mails: list[tuple[str, str, dict[str, Any], str | None]]) -> int:
    """`queue_mail` for many mails at once (sweeps): one INSERT … ON CONFLICT (dedupe_key)
    DO NOTHING for the batch; each (to, template, context, dedupe_key). Returns how many
    were new."""
    if not mails:
        return 0
    from sqlalchemy.dialects import postgresql, sqlite

    now = utcnow()
    rows = [
        {
            "to": to,
            "template": template,
            "context": context or {},
            "dedupe_key": dedupe_key,
            "subject": "",
            "status": EmailStatus.QUEUED,
            "attempts": 0,
            "last_error": "",
            "created_at": now,
            "next_attempt_at": now,
        }
        for to, template, context, dedupe_key in mails
    ]
    dialect = db.session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    # One cached statement run over all rows ("insertmanyvalues"), not a fresh VALUES list.
    ids = db.session.scalars(
        insert(OutboxEmail.__table__)
        .on_conflict_do_nothing(index_elements=["dedupe_key"])
        .returning(OutboxEmail.__table__.c.id),
        rows,
    ).all()
    for email_id in ids:
        enqueue_after_commit(DELIVER_JOB, email_id)
    return len(ids)


def requeue_unsent(*, stale_after: timedelta = timedelta(minutes=10), limit: int = 500) -> int:
    """Enqueue mails left queued (Redis was down, a worker died). Safe to run any time:
    delivery claims each row, so a mail enqueued twice is still sent once."""
    now = utcnow()
    due = sa.or_(OutboxEmail.next_attempt_at.is_(None), OutboxEmail.next_attempt_at <= now)
    stale_claim = sa.and_(
        OutboxEmail.status == EmailStatus.SENDING, OutboxEmail.claimed_at < now - stale_after
    )
    ids = db.session.scalars(
        sa.select(OutboxEmail.id)
        .where(sa.or_(sa.and_(OutboxEmail.status == EmailStatus.QUEUED, due), stale_claim))
        .order_by(OutboxEmail.id)
        .limit(limit)
    ).all()
    for email_id in ids:
        enqueue_now(DELIVER_JOB, email_id)
    return len(ids)

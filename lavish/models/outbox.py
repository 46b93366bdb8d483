from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from lavish.clock import utcnow
from lavish.extensions import db
from lavish.models.base import JSONType, one_of
from lavish.models.types import UTCDateTime


class EmailStatus(StrEnum):
    QUEUED = "queued"
    SENT = "sent"
    SENDING = "sending"  # claimed by a worker
    FAILED = "failed"  # gave up after retries; staff can resend


class OutboxEmail(db.Model):
    """A mail queued in the same transaction as the change it reports."""

    __tablename__ = "emails"
    __table_args__ = (
        sa.Index("ix_emails_status_next_attempt_at", "status", "next_attempt_at"),
        sa.CheckConstraint(one_of("status", EmailStatus), name="status"),
        sa.CheckConstraint("attempts >= 0", name="attempts"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    to: Mapped[str] = mapped_column(sa.String(254), nullable=False, index=True)
    template: Mapped[str] = mapped_column(sa.String(100), nullable=False)
    context: Mapped[dict] = mapped_column(JSONType, nullable=False, default=dict)
    # One mail per event: e.g. "payment_received:pa_123". Null when every call is its own event.
    dedupe_key: Mapped[str | None] = mapped_column(sa.String(200), unique=True)
    subject: Mapped[str] = mapped_column(sa.String(300), nullable=False, default="")
    status: Mapped[str] = mapped_column(sa.String(20), nullable=False, default=EmailStatus.QUEUED)
    attempts: Mapped[int] = mapped_column(nullable=False, default=0)
    last_error: Mapped[str] = mapped_column(sa.Text, nullable=False, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, nullable=False)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=utcnow)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The Message-ID of every copy of this mail, made once and stored before the first send:
    # a copy sent again after a crash is the same message to the receiving servers.
    message_id: Mapped[str | None] = mapped_column(sa.String(255))
    # A worker died while sending (its copy may or may not have been accepted) and the mail
    # was sent again, once; staff see it in the console.
    resent_after_crash: Mapped[bool] = mapped_column(
        nullable=False, default=False, server_default=sa.false()
    )

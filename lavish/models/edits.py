"""Edit requests: an owner asks for a change in plain words; an agent or staff drafts it as a
site version that is not live; the owner approves and it goes live (and can be undone)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lavish.clock import utcnow
from lavish.extensions import db
from lavish.models.base import JSONType, TimestampMixin
from lavish.models.types import UTCDateTime


class EditStatus(StrEnum):
    SUBMITTED = "submitted"
    DRAFTING = "drafting"
    NEEDS_STAFF = "needs_staff"
    READY_FOR_REVIEW = "ready_for_review"
    CHANGES_REQUESTED = "changes_requested"
    APPROVED = "approved"
    PUBLISHED = "published"
    UNDONE = "undone"
    CANCELLED = "cancelled"

    @property
    def label(self) -> str:
        return STATUS_LABELS[self]


STATUS_LABELS = {
    EditStatus.SUBMITTED: "Submitted",
    EditStatus.DRAFTING: "Drafting",
    EditStatus.NEEDS_STAFF: "Needs staff",
    EditStatus.READY_FOR_REVIEW: "Ready for review",
    EditStatus.CHANGES_REQUESTED: "Changes requested",
    EditStatus.APPROVED: "Approved",
    EditStatus.PUBLISHED: "Published",
    EditStatus.UNDONE: "Undone",
    EditStatus.CANCELLED: "Cancelled",
}

# Open: counts against EDIT_REQUESTS_OPEN_MAX and may be cancelled.
OPEN_STATUSES = (
    EditStatus.SUBMITTED,
    EditStatus.DRAFTING,
    EditStatus.NEEDS_STAFF,
    EditStatus.READY_FOR_REVIEW,
    EditStatus.CHANGES_REQUESTED,
    EditStatus.APPROVED,
)


class EditRequest(TimestampMixin, db.Model):
    __tablename__ = "edit_requests"
    __table_args__ = (
        sa.Index("ix_edit_requests_site_created", "site_id", "created_at"),
        sa.Index("ix_edit_requests_owner_created", "owner_id", "id"),
        sa.Index("ix_edit_requests_status_created", "status", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(sa.ForeignKey("sites.id"), nullable=False)
    owner_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), nullable=False)
    title: Mapped[str] = mapped_column(sa.String(120), nullable=False)
    description: Mapped[str] = mapped_column(sa.Text, nullable=False)
    page: Mapped[str] = mapped_column(sa.String(300), nullable=False, default="")
    status: Mapped[str] = mapped_column(sa.String(20), nullable=False, default=EditStatus.SUBMITTED)
    status_reason: Mapped[str] = mapped_column(sa.Text, nullable=False, default="")
    # The draft shown to the owner (a site version that is not live) and the live version it
    # was made from; `revision` counts drafts (approve names the one it approves).
    draft_version_id: Mapped[int | None] = mapped_column(sa.ForeignKey("site_versions.id"))
    base_version_id: Mapped[int | None] = mapped_column(sa.ForeignKey("site_versions.id"))
    revision: Mapped[int] = mapped_column(nullable=False, default=0)
    # The edits of the draft, re-applied when another change went live meanwhile:
    # [{"path", "search", "replace", "all"}] and [{"path", "attachment_id"} | {"path", "delete"}].
    edits: Mapped[list | None] = mapped_column(JSONType)
    changed_files: Mapped[list | None] = mapped_column(JSONType)
    summary: Mapped[str] = mapped_column(sa.Text, nullable=False, default="")
    preview_token: Mapped[str | None] = mapped_column(sa.String(64), unique=True)
    preview_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Publishing: the live version before it (undo restores from it) and the one it made.
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    published_version_id: Mapped[int | None] = mapped_column(sa.ForeignKey("site_versions.id"))
    previous_version_id: Mapped[int | None] = mapped_column(sa.ForeignKey("site_versions.id"))
    undone_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    site = relationship("Site")
    owner = relationship("User")
    draft_version = relationship("SiteVersion", foreign_keys=[draft_version_id])
    base_version = relationship("SiteVersion", foreign_keys=[base_version_id])
    published_version = relationship("SiteVersion", foreign_keys=[published_version_id])
    previous_version = relationship("SiteVersion", foreign_keys=[previous_version_id])
    attachments: Mapped[list[EditAttachment]] = relationship(
        back_populates="request", order_by="EditAttachment.id"
    )
    events: Mapped[list[EditEvent]] = relationship(
        back_populates="request", order_by="EditEvent.id"
    )
    runs: Mapped[list[AgentRun]] = relationship(
        back_populates="request", order_by="AgentRun.id.desc()"
    )

    @property
    def status_label(self) -> str:
        return STATUS_LABELS.get(EditStatus(self.status), self.status)

    @hybrid_property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @is_open.inplace.expression
    @classmethod
    def _is_open_expression(cls) -> sa.ColumnElement[bool]:
        # The same test in SQL: `.where(EditRequest.is_open)` (queue, limits, dashboard).
        return cls.status.in_([str(s) for s in OPEN_STATUSES])

    def __repr__(self) -> str:
        return f"<EditRequest {self.id} {self.status}>"


class EditAttachment(db.Model):
    """An image the owner attached: decoded, re-encoded and stored outside the site folders."""

    __tablename__ = "edit_attachments"

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(
        sa.ForeignKey("edit_requests.id"), nullable=False, index=True
    )
    filename: Mapped[str] = mapped_column(sa.String(200), nullable=False)
    stored_name: Mapped[str] = mapped_column(sa.String(100), nullable=False)
    image_format: Mapped[str] = mapped_column(sa.String(10), nullable=False)
    width: Mapped[int] = mapped_column(nullable=False)
    height: Mapped[int] = mapped_column(nullable=False)
    size: Mapped[int] = mapped_column(nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, nullable=False)

    request: Mapped[EditRequest] = relationship(back_populates="attachments")


class EditEvent(db.Model):
    """The request's history as the owner and staff see it: transitions and comments."""

    __tablename__ = "edit_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(
        sa.ForeignKey("edit_requests.id"), nullable=False, index=True
    )
    actor_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    kind: Mapped[str] = mapped_column(sa.String(20), nullable=False)  # transition | comment
    from_status: Mapped[str] = mapped_column(sa.String(20), nullable=False, default="")
    to_status: Mapped[str] = mapped_column(sa.String(20), nullable=False, default="")
    body: Mapped[str] = mapped_column(sa.Text, nullable=False, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, nullable=False)

    request: Mapped[EditRequest] = relationship(back_populates="events")
    actor = relationship("User")


class AgentRun(db.Model):
    """One run of the drafting agent over a request, with what it cost and why it failed."""

    __tablename__ = "edit_agent_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(
        sa.ForeignKey("edit_requests.id"), nullable=False, index=True
    )
    agent: Mapped[str] = mapped_column(sa.String(20), nullable=False)
    model: Mapped[str] = mapped_column(sa.String(100), nullable=False, default="")
    outcome: Mapped[str] = mapped_column(sa.String(20), nullable=False)  # drafted|needs_staff
    note: Mapped[str] = mapped_column(sa.Text, nullable=False, default="")
    prompt_bytes: Mapped[int] = mapped_column(nullable=False, default=0)
    answer_bytes: Mapped[int] = mapped_column(nullable=False, default=0)
    input_tokens: Mapped[int | None] = mapped_column()
    output_tokens: Mapped[int | None] = mapped_column()
    retries: Mapped[int] = mapped_column(nullable=False, default=0)
    duration_ms: Mapped[int] = mapped_column(nullable=False, default=0)
    errors: Mapped[list | None] = mapped_column(JSONType)
    log: Mapped[str] = mapped_column(sa.Text, nullable=False, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, nullable=False)

    request: Mapped[EditRequest] = relationship(back_populates="runs")

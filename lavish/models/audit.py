from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lavish.clock import utcnow
from lavish.extensions import db
from lavish.models.base import JSONType
from lavish.models.types import UTCDateTime


class AuditEntry(db.Model):
    """Who did what to which object, with the values before and after."""

    __tablename__ = "audit_log"
    __table_args__ = (
        sa.Index("ix_audit_log_object", "object_type", "object_id"),
        # Every entry says what was done to what kind of object.
        sa.CheckConstraint("action <> '' AND object_type <> ''", name="named"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    actor_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"), index=True)
    action: Mapped[str] = mapped_column(sa.String(100), nullable=False)
    object_type: Mapped[str] = mapped_column(sa.String(50), nullable=False)
    object_id: Mapped[int | None] = mapped_column()
    before: Mapped[dict | None] = mapped_column(JSONType)
    after: Mapped[dict | None] = mapped_column(JSONType)
    created_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), default=utcnow, nullable=False, index=True
    )

    actor = relationship("User")

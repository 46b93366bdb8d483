from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, column_property, mapped_column, relationship

from lavish.clock import utcnow
from lavish.extensions import db
from lavish.models.base import TimestampMixin, one_of
from lavish.models.types import UTCDateTime


class SiteStatus(StrEnum):
    PREVIEW = "preview"
    OWNED = "owned"
    ACTIVE = "active"
    SUSPENDED = "suspended"


class Site(TimestampMixin, db.Model):
    __tablename__ = "sites"
    __table_args__ = (sa.CheckConstraint(one_of("status", SiteStatus), name="status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(sa.String(63), unique=True, nullable=False)
    business_name: Mapped[str] = mapped_column(sa.String(200), nullable=False)
    phone: Mapped[str] = mapped_column(sa.String(40), nullable=False, default="")
    email: Mapped[str] = mapped_column(sa.String(254), nullable=False, default="")
    city: Mapped[str] = mapped_column(sa.String(120), nullable=False, default="")
    category: Mapped[str] = mapped_column(sa.String(120), nullable=False, default="")
    status: Mapped[str] = mapped_column(
        sa.String(20), nullable=False, default=SiteStatus.PREVIEW, index=True
    )
    status_reason: Mapped[str] = mapped_column(sa.String(500), nullable=False, default="")
    # Staff's words to the owner about a suspension (status_reason is their internal note).
    owner_message: Mapped[str] = mapped_column(
        sa.String(500), nullable=False, default="", server_default=""
    )
    owner_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"), index=True)
    live_version_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("site_versions.id", use_alter=True)
    )
    purchased_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    suspended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    owner = relationship("User", foreign_keys=[owner_id])
    live_version: Mapped[SiteVersion | None] = relationship(
        foreign_keys=[live_version_id], post_update=True
    )
    versions: Mapped[list[SiteVersion]] = relationship(
        back_populates="site",
        foreign_keys="SiteVersion.site_id",
        order_by="SiteVersion.number.desc()",
    )
    # Read-only view, newest first, for pages that show a site with its hosting history in one
    # query (eager-loaded there); subscriptions are created and changed through billing.
    # By name ("Subscription"): lavish.models.billing imports this module, not the reverse.
    subscriptions: Mapped[list[Subscription]] = relationship(  # noqa: F821
        "Subscription", order_by="Subscription.id.desc()", viewonly=True
    )

    def __repr__(self) -> str:
        return f"<Site {self.slug} {self.status}>"


class SiteVersion(db.Model):
    """An immutable published snapshot of a site, stored on disk under SITES_ROOT."""

    __tablename__ = "site_versions"
    __table_args__ = (
        sa.UniqueConstraint("site_id", "number"),
        sa.CheckConstraint("number >= 1", name="number"),
        sa.CheckConstraint("file_count >= 0 AND total_bytes >= 0", name="sizes"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(sa.ForeignKey("sites.id"), nullable=False)
    number: Mapped[int] = mapped_column(nullable=False)
    note: Mapped[str] = mapped_column(sa.String(500), nullable=False, default="")
    file_count: Mapped[int] = mapped_column(nullable=False, default=0)
    total_bytes: Mapped[int] = mapped_column(sa.BigInteger, nullable=False, default=0)
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, nullable=False)
    # An edit request's draft (lavish.edits): never live until approved, not in the history.
    draft: Mapped[bool] = mapped_column(nullable=False, default=False, server_default=sa.false())

    site: Mapped[Site] = relationship(back_populates="versions", foreign_keys=[site_id])

    def __repr__(self) -> str:
        return f"<SiteVersion {self.site_id}#{self.number}>"


# How many versions a site has: a correlated count, loaded only where asked for (undefer), e.g.
# with the owner's sites on the dashboard.
Site.version_count = column_property(
    sa.select(sa.func.count(SiteVersion.id))
    .where(SiteVersion.site_id == Site.id, SiteVersion.draft.is_(False))
    .correlate_except(SiteVersion)
    .scalar_subquery(),
    deferred=True,
)

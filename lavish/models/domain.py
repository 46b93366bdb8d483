"""Custom domains of hosted sites and the history of their DNS checks (lavish/domains/)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lavish.clock import utcnow
from lavish.extensions import db
from lavish.models.base import JSONType, TimestampMixin, one_of
from lavish.models.types import UTCDateTime


class DomainStatus(StrEnum):
    PENDING = "pending"  # added; ownership not proven yet
    VERIFIED = "verified"  # the TXT record proved ownership; routing not pointing to us yet
    ACTIVE = "active"  # verified and routed to us: served, and `ask` approves it
    FAILING = "failing"  # was active; routing wrong for DOMAIN_FAILING_DAYS checks in a row
    REMOVED = "removed"  # by the owner or staff
    ABANDONED = "abandoned"  # never verified within DOMAIN_PENDING_DAYS


class HttpsStatus(StrEnum):
    WAITING = "waiting"
    READY = "ready"
    EXPIRING = "expiring"
    ERROR = "error"


# Statuses that hold the name: only one site at a time (a unique partial index on `claim_key`).
CLAIMING = (DomainStatus.VERIFIED, DomainStatus.ACTIVE, DomainStatus.FAILING)
# Statuses a site still shows on its list (and counts against DOMAINS_PER_SITE).
CURRENT = (DomainStatus.PENDING, *CLAIMING)
_CLAIMING_SQL = "status IN ('verified', 'active', 'failing')"


class Domain(TimestampMixin, db.Model):
    __tablename__ = "domains"
    __table_args__ = (
        sa.CheckConstraint(one_of("status", DomainStatus), name="status"),
        sa.CheckConstraint(one_of("https_status", HttpsStatus), name="https_status"),
        sa.CheckConstraint("routing_failures >= 0", name="routing_failures"),
        # First to verify wins: one claiming row per name pair (example.com and its www).
        sa.Index(
            "uq_domains_claim_key_claiming",
            "claim_key",
            unique=True,
            postgresql_where=sa.text(_CLAIMING_SQL),
            sqlite_where=sa.text(_CLAIMING_SQL),
        ),
        # `ask` and Host lookups: by name or partner among served/approved rows.
        sa.Index("ix_domains_name", "name"),
        sa.Index("ix_domains_partner", "partner"),
        # Sweeps select what is due: (status, next_check_at).
        sa.Index("ix_domains_due", "status", "next_check_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(sa.ForeignKey("sites.id"), nullable=False, index=True)
    name: Mapped[str] = mapped_column(sa.String(253), nullable=False)  # ASCII (punycode)
    unicode_name: Mapped[str] = mapped_column(sa.String(253), nullable=False)
    partner: Mapped[str | None] = mapped_column(sa.String(253))  # www.<apex> or the apex
    apex: Mapped[bool] = mapped_column(nullable=False, default=False)
    claim_key: Mapped[str] = mapped_column(sa.String(253), nullable=False)
    token: Mapped[str] = mapped_column(sa.String(64), nullable=False)
    status: Mapped[str] = mapped_column(sa.String(20), nullable=False, default=DomainStatus.PENDING)
    https_status: Mapped[str] = mapped_column(
        sa.String(20), nullable=False, default=HttpsStatus.WAITING
    )
    name_warning: Mapped[str] = mapped_column(sa.String(500), nullable=False, default="")
    verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    activated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    routing_failures: Mapped[int] = mapped_column(nullable=False, default=0)
    failing_since: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Set when it stopped being served (failing too long, or the site suspended too long).
    released_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    released_reason: Mapped[str] = mapped_column(sa.String(40), nullable=False, default="")
    removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    next_check_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_manual_check_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    cert_issuer: Mapped[str] = mapped_column(sa.String(300), nullable=False, default="")
    cert_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    https_error: Mapped[str] = mapped_column(sa.String(500), nullable=False, default="")

    site = relationship("Site")
    checks: Mapped[list[DomainCheck]] = relationship(
        back_populates="domain", order_by="DomainCheck.id.desc()", viewonly=True
    )

    @property
    def served(self) -> bool:
        return self.status in (DomainStatus.ACTIVE, DomainStatus.FAILING) and (
            self.released_at is None
        )

    @property
    def approved(self) -> bool:
        """What /tls/ask says yes to."""
        return self.status in CLAIMING and self.released_at is None

    def __repr__(self) -> str:
        return f"<Domain {self.name} {self.status}>"


class DomainCheck(db.Model):
    """What one DNS check saw: kept so the owner and staff can read the history."""

    __tablename__ = "domain_checks"

    id: Mapped[int] = mapped_column(primary_key=True)
    domain_id: Mapped[int] = mapped_column(
        sa.ForeignKey("domains.id", ondelete="CASCADE"), nullable=False, index=True
    )
    checked_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, nullable=False)
    trigger: Mapped[str] = mapped_column(sa.String(20), nullable=False, default="sweep")
    ownership_ok: Mapped[bool] = mapped_column(nullable=False, default=False)
    routing_ok: Mapped[bool] = mapped_column(nullable=False, default=False)
    status_after: Mapped[str] = mapped_column(sa.String(20), nullable=False, default="")
    # [{"code", "title", "fix", "record"}], and the records DNS answered per name and type.
    problems: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, nullable=False, default=list)
    answers: Mapped[dict[str, Any]] = mapped_column(JSONType, nullable=False, default=dict)

    domain: Mapped[Domain] = relationship(back_populates="checks")

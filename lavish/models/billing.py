from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from lavish.clock import utcnow
from lavish.extensions import db
from lavish.models.base import TimestampMixin
from lavish.models.site import Site
from lavish.models.types import UTCDateTime


class OrderStatus(StrEnum):
    PENDING = "pending"
    PAID = "paid"
    FAILED = "failed"
    REFUNDED = "refunded"
    CANCELLED = "cancelled"


class Order(TimestampMixin, db.Model):
    """A one-time purchase of a site."""

    __tablename__ = "orders"
    __table_args__ = (
        # Pressing "buy" twice reuses the one live checkout of a buyer for a site.
        sa.Index(
            "ux_orders_one_pending_per_buyer_site",
            "site_id",
            "buyer_email",
            unique=True,
            postgresql_where=sa.text("status = 'pending'"),
            sqlite_where=sa.text("status = 'pending'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(sa.ForeignKey("sites.id"), nullable=False, index=True)
    customer_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"), index=True)
    buyer_email: Mapped[str] = mapped_column(sa.String(254), nullable=False)
    buyer_name: Mapped[str] = mapped_column(sa.String(120), nullable=False, default="")
    amount_cents: Mapped[int] = mapped_column(nullable=False)
    currency: Mapped[str] = mapped_column(sa.String(3), nullable=False)
    status: Mapped[str] = mapped_column(
        sa.String(20), nullable=False, default=OrderStatus.PENDING, index=True
    )
    provider: Mapped[str] = mapped_column(sa.String(20), nullable=False)
    checkout_id: Mapped[str | None] = mapped_column(sa.String(64), unique=True)
    checkout_url: Mapped[str | None] = mapped_column(sa.String(500))
    payment_id: Mapped[str | None] = mapped_column(sa.String(64), unique=True)
    failure_reason: Mapped[str] = mapped_column(sa.String(500), nullable=False, default="")
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    refunded_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    site = relationship("Site")
    customer = relationship("User")


class SubscriptionStatus(StrEnum):
    PENDING = "pending"
    ACTIVE = "active"
    PAST_DUE = "past_due"
    CANCELLED = "cancelled"
    EXPIRED = "expired"


class Subscription(TimestampMixin, db.Model):
    """One hosting subscription of a site; a site keeps the history of all of them."""

    __tablename__ = "subscriptions"
    __table_args__ = (
        # Sweeps select what is due through these.
        sa.Index("ix_subscriptions_status_grace_until", "status", "grace_until"),
        sa.Index("ix_subscriptions_status_current_period_end", "status", "current_period_end"),
        # At most one unpaid checkout and one running subscription per site.
        sa.Index(
            "ux_subscriptions_one_pending_per_site",
            "site_id",
            unique=True,
            postgresql_where=sa.text("status = 'pending'"),
            sqlite_where=sa.text("status = 'pending'"),
        ),
        sa.Index(
            "ux_subscriptions_one_running_per_site",
            "site_id",
            unique=True,
            postgresql_where=sa.text("status IN ('active', 'past_due')"),
            sqlite_where=sa.text("status IN ('active', 'past_due')"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(sa.ForeignKey("sites.id"), nullable=False, index=True)
    customer_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), nullable=False, index=True)
    provider: Mapped[str] = mapped_column(sa.String(20), nullable=False)
    provider_subscription_id: Mapped[str | None] = mapped_column(sa.String(64), unique=True)
    checkout_id: Mapped[str | None] = mapped_column(sa.String(64), unique=True)
    checkout_url: Mapped[str | None] = mapped_column(sa.String(500))
    status: Mapped[str] = mapped_column(
        sa.String(20), nullable=False, default=SubscriptionStatus.PENDING
    )
    amount_cents: Mapped[int] = mapped_column(nullable=False)
    currency: Mapped[str] = mapped_column(sa.String(3), nullable=False)
    current_period_start: Mapped[datetime | None] = mapped_column(UTCDateTime())
    current_period_end: Mapped[datetime | None] = mapped_column(UTCDateTime())
    grace_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    cancel_at_period_end: Mapped[bool] = mapped_column(nullable=False, default=False)
    cancel_reason: Mapped[str] = mapped_column(sa.String(500), nullable=False, default="")
    activated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    past_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # When the site of an ended subscription is to be suspended (ended_at + CANCEL_GRACE_DAYS).
    site_online_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    renewal_reminded_for: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Dunning history, kept by the model itself whatever code changes the status (past_due_at
    # and grace_until are cleared on recovery; the dashboard's recovery rate needs the facts):
    # when the latest run of failed payments began, and when it last came back to active.
    dunning_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    recovered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    site = relationship("Site")
    customer = relationship("User")

    @validates("status")
    def _track_dunning(self, key: str, status: str) -> str:
        if status == SubscriptionStatus.PAST_DUE and self.status != SubscriptionStatus.PAST_DUE:
            self.dunning_started_at = utcnow()
        elif status == SubscriptionStatus.ACTIVE and self.status == SubscriptionStatus.PAST_DUE:
            self.recovered_at = utcnow()
        return status


class Payment(db.Model):
    """Every payment received, once per provider payment id (`pa_…`)."""

    __tablename__ = "payments"

    id: Mapped[int] = mapped_column(primary_key=True)
    provider_payment_id: Mapped[str] = mapped_column(sa.String(64), unique=True, nullable=False)
    kind: Mapped[str] = mapped_column(sa.String(20), nullable=False)  # one_time | recurring
    order_id: Mapped[int | None] = mapped_column(sa.ForeignKey("orders.id"), index=True)
    subscription_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("subscriptions.id"), index=True
    )
    amount_cents: Mapped[int] = mapped_column(nullable=False)
    currency: Mapped[str] = mapped_column(sa.String(3), nullable=False)
    paid_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, index=True)
    refunded_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class WebhookEvent(db.Model):
    """Every webhook delivery, stored before it is processed."""

    __tablename__ = "webhook_events"
    __table_args__ = (
        # The console lists the few failed / never processed deliveries among millions.
        sa.Index(
            "ix_webhook_events_failed",
            "id",
            postgresql_where=sa.text("error <> ''"),
            sqlite_where=sa.text("error <> ''"),
        ),
        sa.Index(
            "ix_webhook_events_unprocessed",
            "id",
            postgresql_where=sa.text("processed_at IS NULL"),
            sqlite_where=sa.text("processed_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    delivery_id: Mapped[str] = mapped_column(sa.String(100), unique=True, nullable=False)
    event_type: Mapped[str] = mapped_column(sa.String(100), nullable=False, index=True)
    # The object the event is about: the subscription (su_…) for subscription payments and
    # subscription.* events (so deferred events can be re-applied once su_ is known), else the id.
    object_id: Mapped[str] = mapped_column(sa.String(100), nullable=False, default="", index=True)
    payload: Mapped[str] = mapped_column(sa.Text, nullable=False)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, index=True)
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    result: Mapped[str] = mapped_column(sa.String(200), nullable=False, default="")
    error: Mapped[str] = mapped_column(sa.Text, nullable=False, default="")


# The setup-window sweep finds bought sites whose hosting was never subscribed through this.
# (Declared here, next to the sweep's other indexes, so the sites model stays hosting's.)
sa.Index("ix_sites_status_purchased_at", Site.status, Site.purchased_at)

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from lavish.clock import utcnow
from lavish.extensions import db
from lavish.models.base import TimestampMixin, one_of, partial_index
from lavish.models.site import Site
from lavish.models.types import UTCDateTime

# What we charge in (recurrente-api.md §1: GTQ and USD only).
CURRENCIES = ("USD", "GTQ")


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
        sa.CheckConstraint(one_of("status", OrderStatus), name="status"),
        sa.CheckConstraint("amount_cents >= 0", name="amount_cents"),
        sa.CheckConstraint(one_of("currency", CURRENCIES), name="currency"),
        # Pressing "buy" twice reuses the one live checkout of a buyer for a site.
        partial_index(
            "ux_orders_one_pending_per_buyer_site",
            "site_id",
            "buyer_email",
            where="status = 'pending'",
            unique=True,
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


# A running subscription is what keeps a site hosted (at most one per site, by the index below).
RUNNING_SUBSCRIPTION = (SubscriptionStatus.ACTIVE, SubscriptionStatus.PAST_DUE)
ENDED_SUBSCRIPTION = (SubscriptionStatus.CANCELLED, SubscriptionStatus.EXPIRED)


class Subscription(TimestampMixin, db.Model):
    """One hosting subscription of a site; a site keeps the history of all of them."""

    __tablename__ = "subscriptions"
    __table_args__ = (
        sa.CheckConstraint(one_of("status", SubscriptionStatus), name="status"),
        sa.CheckConstraint("amount_cents >= 0", name="amount_cents"),
        sa.CheckConstraint(one_of("currency", CURRENCIES), name="currency"),
        # Sweeps select what is due through these.
        sa.Index("ix_subscriptions_status_grace_until", "status", "grace_until"),
        sa.Index("ix_subscriptions_status_current_period_end", "status", "current_period_end"),
        # At most one unpaid checkout and one running subscription per site.
        partial_index(
            "ux_subscriptions_one_pending_per_site",
            "site_id",
            where="status = 'pending'",
            unique=True,
        ),
        partial_index(
            "ux_subscriptions_one_running_per_site",
            "site_id",
            where=one_of("status", RUNNING_SUBSCRIPTION),
            unique=True,
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

    @property
    def is_running(self) -> bool:
        return self.status in RUNNING_SUBSCRIPTION

    @validates("status")
    def _track_dunning(self, key: str, status: str) -> str:
        if status == SubscriptionStatus.PAST_DUE and self.status != SubscriptionStatus.PAST_DUE:
            self.dunning_started_at = utcnow()
        elif status == SubscriptionStatus.ACTIVE and self.status == SubscriptionStatus.PAST_DUE:
            self.recovered_at = utcnow()
        return status


class Payment(db.Model):
    """Every payment received, once per provider payment id (`pa_…`).

    `flag` says why a payment was not applied (it did not match what we charged, or its
    checkout and metadata disagree): such a payment changes nothing and waits for staff.
    `refund_due_at` is the promise of a refund: set in the transaction that decides it, cleared
    when the provider has refunded (`refunded_at`); the sweep re-queues refunds still due.
    """

    __tablename__ = "payments"
    __table_args__ = (
        sa.CheckConstraint(one_of("kind", ("one_time", "recurring")), name="kind"),
        sa.CheckConstraint("amount_cents >= 0", name="amount_cents"),
        # What was received, which may be a currency we do not charge in (then it is flagged).
        sa.CheckConstraint("length(currency) = 3", name="currency"),
        sa.CheckConstraint(
            "(order_id IS NULL) <> (subscription_id IS NULL)", name="order_or_subscription"
        ),
        # The refund sweep and the dashboard find the few refunds still due among all payments.
        partial_index(
            "ix_payments_refund_due",
            "refund_due_at",
            where="refund_due_at IS NOT NULL",
        ),
        partial_index("ix_payments_flagged", "id", where="flag <> ''"),
    )

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
    refund_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    flag: Mapped[str] = mapped_column(sa.String(300), nullable=False, default="")


class WebhookState(StrEnum):
    """What processing a delivery came to (a column, so staff and the replay query filter on
    it instead of parsing the result text)."""

    RECEIVED = "received"  # stored, not processed (yet)
    PROCESSED = "processed"
    DEFERRED = "deferred"  # about a subscription we do not know yet: replayed when we do
    IGNORED = "ignored"  # nothing of ours (unknown type, unknown or nonsense ids)
    FLAGGED = "flagged"  # a payment that does not match what we charged: staff to review
    ERROR = "error"  # processing failed; Recurrente retries, staff can re-process


class WebhookEvent(db.Model):
    """Every webhook delivery, stored before it is processed."""

    __tablename__ = "webhook_events"
    __table_args__ = (
        sa.CheckConstraint(one_of("state", WebhookState), name="state"),
        # The console lists the few failed / never processed deliveries among millions.
        partial_index("ix_webhook_events_failed", "id", where="error <> ''"),
        # Deferred events are replayed by object id; flagged ones are listed for staff.
        partial_index("ix_webhook_events_deferred", "object_id", where="state = 'deferred'"),
        partial_index("ix_webhook_events_flagged", "id", where="state = 'flagged'"),
        partial_index("ix_webhook_events_unprocessed", "id", where="processed_at IS NULL"),
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
    state: Mapped[str] = mapped_column(sa.String(20), nullable=False, default=WebhookState.RECEIVED)
    result: Mapped[str] = mapped_column(sa.String(200), nullable=False, default="")
    error: Mapped[str] = mapped_column(sa.Text, nullable=False, default="")


# The setup-window sweep finds bought sites whose hosting was never subscribed through this.
# (Declared here, next to the sweep's other indexes, so the sites model stays hosting's.)
sa.Index("ix_sites_status_purchased_at", Site.status, Site.purchased_at)

"""Read-only queries behind the staff console: the dashboard's aggregates and the list searches.

Every number is computed by SQL (a handful of aggregate queries, one scan per table); Python only
builds the month boundaries and divides two integers for a percentage. Money is integer cents.
Months are calendar months in UTC: ``[first day 00:00, first day of the next month 00:00)``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from lavish.clock import utcnow
from lavish.extensions import db
from lavish.models import (
    RUNNING_SUBSCRIPTION,
    Order,
    Payment,
    Site,
    SiteStatus,
    Subscription,
    SubscriptionStatus,
)

CHART_MONTHS = 12
DUNNING_WINDOW_DAYS = 90
RUNNING = RUNNING_SUBSCRIPTION
# A refund still due this long after it was decided is stuck (the job was lost or keeps
# failing); the refund sweep keeps trying, staff are told.
REFUND_STUCK_AFTER = timedelta(hours=1)


# --- months -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Month:
    start: datetime  # inclusive, UTC
    end: datetime  # exclusive: the first instant of the next month

    @property
    def key(self) -> str:
        return self.start.strftime("%Y-%m")

    @property
    def label(self) -> str:
        return self.start.strftime("%b %Y")

    @property
    def short_label(self) -> str:
        return self.start.strftime("%b")


def month_of(moment: datetime) -> Month:
    start = moment.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    return Month(start, _add_months(start, 1))


def _add_months(first_of_month: datetime, count: int) -> datetime:
    index = first_of_month.year * 12 + first_of_month.month - 1 + count
    return first_of_month.replace(year=index // 12, month=index % 12 + 1)


def last_months(now: datetime, count: int = CHART_MONTHS) -> list[Month]:
    """The `count` calendar months ending with the one containing `now`, oldest first."""
    current = month_of(now).start
    return [
        Month(_add_months(current, offset), _add_months(current, offset + 1))
        for offset in range(-count + 1, 1)
    ]


def percent(part: int, whole: int) -> float | None:
    """`part` of `whole` in percent, one decimal; None when there is nothing to divide by."""
    return round(100 * part / whole, 1) if whole else None


# --- the dashboard ------------------------------------------------------------------------------


@dataclass
class MonthFigures:
    month: str  # "2026-11"
    label: str  # "Nov 2026"
    mrr_cents: int
    new_subscriptions: int
    churned_voluntary: int
    churned_involuntary: int

    @property
    def churned_subscriptions(self) -> int:
        return self.churned_voluntary + self.churned_involuntary


@dataclass
class DashboardStats:
    generated_at: datetime
    currency: str
    sites_by_status: dict[str, int]
    conversion: dict[str, Any]
    purchases: dict[str, dict[str, int]]
    mrr: dict[str, Any]
    subscriptions_by_status: dict[str, int]
    churn: dict[str, dict[str, int]]
    dunning: dict[str, Any]
    revenue: dict[str, dict[str, int]]
    attention: dict[str, int] = field(default_factory=dict)
    months: list[MonthFigures] = field(default_factory=list)

    @property
    def sites_total(self) -> int:
        return sum(self.sites_by_status.values())

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["generated_at"] = self.generated_at.isoformat()
        data["sites_total"] = self.sites_total
        for month, figures in zip(data["months"], self.months, strict=True):
            month["churned_subscriptions"] = figures.churned_subscriptions
        return data


def dashboard_stats(*, currency: str, now: datetime | None = None) -> DashboardStats:
    """Every number of the dashboard (and of ``/admin/statistics.json``) at `now`.

    See the helpers below for how each figure is defined.
    """
    now = now or utcnow()
    months = last_months(now)
    this_month, last_month = months[-1], months[-2]
    subscriptions = _subscription_figures(now, months)
    payments = _payment_figures(now, this_month, last_month, months[0])
    orders = _order_figures(now, this_month, last_month)

    mrr_now = subscriptions["mrr_now"]
    mrr_last = subscriptions[f"mrr_end_{last_month.key}"]
    month_figures = [
        MonthFigures(
            month=month.key,
            label=month.label,
            # The running month shows the live figure; past months their value at their end.
            mrr_cents=mrr_now if month is this_month else subscriptions[f"mrr_end_{month.key}"],
            new_subscriptions=subscriptions[f"new_{month.key}"],
            churned_voluntary=subscriptions[f"voluntary_{month.key}"],
            churned_involuntary=subscriptions[f"involuntary_{month.key}"],
        )
        for month in months
    ]
    went_past_due, recovered, still_past_due = _dunning_figures(now)
    conversion = _conversion_figures()
    return DashboardStats(
        generated_at=now,
        currency=currency,
        sites_by_status=_site_counts(),
        conversion=conversion
        | {
            "purchase_rate_percent": percent(conversion["purchased"], conversion["sites"]),
            "subscribe_rate_percent": percent(conversion["subscribed"], conversion["purchased"]),
        },
        purchases={
            "this_month": {
                "count": orders["purchases_this"],
                "revenue_cents": payments["one_time_this"],
            },
            "last_month": {
                "count": orders["purchases_last"],
                "revenue_cents": payments["one_time_last"],
            },
        },
        mrr={
            "cents": mrr_now,
            "last_month_cents": mrr_last,
            "change_cents": mrr_now - mrr_last,
            "change_percent": percent(mrr_now - mrr_last, mrr_last),
        },
        subscriptions_by_status={
            status.value: subscriptions[f"status_{status.value}"] for status in SubscriptionStatus
        },
        churn={
            name: {
                "voluntary": figures.churned_voluntary,
                "involuntary": figures.churned_involuntary,
                "total": figures.churned_subscriptions,
            }
            for name, figures in (
                ("this_month", month_figures[-1]),
                ("last_month", month_figures[-2]),
            )
        },
        dunning={
            "window_days": DUNNING_WINDOW_DAYS,
            "went_past_due": went_past_due,
            "recovered": recovered,
            "still_past_due": still_past_due,
            "recovery_rate_percent": percent(recovered, went_past_due),
        },
        revenue={
            name: {
                "one_time_cents": payments[f"one_time_{suffix}"],
                "recurring_cents": payments[f"recurring_{suffix}"],
                "total_cents": payments[f"one_time_{suffix}"] + payments[f"recurring_{suffix}"],
            }
            for name, suffix in (
                ("this_month", "this"),
                ("last_month", "last"),
                ("last_12_months", "year"),
            )
        },
        attention=_attention_figures(),
        months=month_figures,
    )


def _site_counts() -> dict[str, int]:
    """Sites by their current status; every status is present (0 when none)."""
    rows = db.session.execute(sa.select(Site.status, sa.func.count()).group_by(Site.status))
    return {status.value: 0 for status in SiteStatus} | {status: count for status, count in rows}


def _conversion_figures() -> dict[str, int]:
    """The funnel preview → owned → active, over all time:

    - ``sites``: every site ever created (each starts as a preview);
    - ``purchased``: sites with at least one order that was paid (``orders.paid_at`` set, even if
      refunded later: the preview converted);
    - ``subscribed``: sites with at least one subscription that was activated
      (``subscriptions.activated_at`` set).
    """
    purchased = (
        sa.select(sa.func.count(sa.distinct(Order.site_id)))
        .where(Order.paid_at.is_not(None))
        .scalar_subquery()
    )
    subscribed = (
        sa.select(sa.func.count(sa.distinct(Subscription.site_id)))
        .where(Subscription.activated_at.is_not(None))
        .scalar_subquery()
    )
    sites = sa.select(sa.func.count(Site.id)).scalar_subquery()
    row = db.session.execute(
        sa.select(
            sites.label("sites"), purchased.label("purchased"), subscribed.label("subscribed")
        )
    ).one()
    return dict(row._mapping)


def _between(column: sa.ColumnElement, start: datetime, end: datetime) -> sa.ColumnElement[bool]:
    return sa.and_(column >= start, column < end)


def _count_if(condition: sa.ColumnElement[bool]) -> sa.ColumnElement[int]:
    return sa.func.count().filter(condition)


def _sum_if(value: sa.ColumnElement[int], condition: sa.ColumnElement[bool]):
    return sa.func.coalesce(sa.func.sum(value).filter(condition), 0)


def _subscription_figures(now: datetime, months: list[Month]) -> dict[str, int]:
    """One scan of ``subscriptions``:

    - ``status_<s>``: subscriptions whose current status is `s`;
    - ``mrr_now``: monthly recurring revenue now, the sum of ``amount_cents`` of every ``active``
      or ``past_due`` subscription (past-due ones are still in their grace period and usually
      recover; every plan is monthly, so no normalisation is needed);
    - ``mrr_end_<month>``: MRR at the end of that month, from the timestamps: subscriptions with
      ``activated_at`` before the month's end and no ``ended_at`` before it;
    - ``new_<month>``: subscriptions activated (first paid) in the month;
    - ``voluntary_<month>``: subscriptions now ``cancelled`` whose ``ended_at`` is in the month
      (the owner cancelled; a cancel at period end counts when the period ends);
    - ``involuntary_<month>``: subscriptions now ``expired`` (payment failed and the grace period
      ran out) whose ``ended_at`` is in the month.
    """
    s = Subscription
    columns: list[sa.ColumnElement] = [
        _count_if(s.status == status).label(f"status_{status.value}")
        for status in SubscriptionStatus
    ]
    columns.append(_sum_if(s.amount_cents, s.status.in_(RUNNING)).label("mrr_now"))
    for month in months:
        end = min(month.end, now)
        running_then = sa.and_(
            s.activated_at < end, sa.or_(s.ended_at.is_(None), s.ended_at >= end)
        )
        columns += [
            _sum_if(s.amount_cents, running_then).label(f"mrr_end_{month.key}"),
            _count_if(_between(s.activated_at, month.start, month.end)).label(f"new_{month.key}"),
            _count_if(
                sa.and_(
                    s.status == SubscriptionStatus.CANCELLED,
                    _between(s.ended_at, month.start, month.end),
                )
            ).label(f"voluntary_{month.key}"),
            _count_if(
                sa.and_(
                    s.status == SubscriptionStatus.EXPIRED,
                    _between(s.ended_at, month.start, month.end),
                )
            ).label(f"involuntary_{month.key}"),
        ]
    return {
        key: int(value)
        for key, value in db.session.execute(sa.select(*columns)).one()._mapping.items()
    }


def _payment_figures(
    now: datetime, this_month: Month, last_month: Month, first_month: Month
) -> dict[str, int]:
    """One scan of ``payments`` since the first chart month; revenue is what was received and
    kept, so refunded payments (``refunded_at`` set) are left out:

    - ``one_time_<this|last|year>``: payments of kind ``one_time`` (site purchases) in this month,
      last month, and the last 12 months (this month included);
    - ``recurring_<…>``: the same for kind ``recurring`` (hosting subscriptions).
    """
    p = Payment
    windows = {
        "this": (this_month.start, this_month.end),
        "last": (last_month.start, last_month.end),
        "year": (first_month.start, this_month.end),
    }
    columns = [
        _sum_if(p.amount_cents, sa.and_(p.kind == kind, _between(p.paid_at, start, end))).label(
            f"{kind}_{name}"
        )
        for kind in ("one_time", "recurring")
        for name, (start, end) in windows.items()
    ]
    row = db.session.execute(
        sa.select(*columns).where(p.paid_at >= first_month.start, p.refunded_at.is_(None))
    ).one()
    return {key: int(value) for key, value in row._mapping.items()}


def _order_figures(now: datetime, this_month: Month, last_month: Month) -> dict[str, int]:
    """``purchases_<this|last>``: orders paid (``paid_at``) in the month, whatever happened to
    them afterwards (a later refund shows in revenue, not here)."""
    o = Order
    row = db.session.execute(
        sa.select(
            _count_if(_between(o.paid_at, this_month.start, this_month.end)).label(
                "purchases_this"
            ),
            _count_if(_between(o.paid_at, last_month.start, last_month.end)).label(
                "purchases_last"
            ),
        ).where(o.paid_at >= last_month.start)
    ).one()
    return {key: int(value) for key, value in row._mapping.items()}


def _dunning_figures(now: datetime) -> tuple[int, int, int]:
    """Dunning recovery over the last ``DUNNING_WINDOW_DAYS`` days:

    - went past due: subscriptions whose latest run of failed payments began in the window
      (``dunning_started_at``, set by the model when the status becomes ``past_due``);
    - recovered: those of them that came back to ``active`` afterwards (``recovered_at`` at or
      after ``dunning_started_at``: paid in grace), whatever happened to them later;
    - still past due: those of them that are ``past_due`` now (neither recovered nor lost yet).

    The recovery rate is recovered / went past due.
    """
    s = Subscription
    row = db.session.execute(
        sa.select(
            sa.func.count(),
            _count_if(s.recovered_at >= s.dunning_started_at),
            _count_if(s.status == SubscriptionStatus.PAST_DUE),
        ).where(
            s.dunning_started_at >= now - timedelta(days=DUNNING_WINDOW_DAYS),
            s.dunning_started_at <= now,
        )
    ).one()
    return int(row[0]), int(row[1]), int(row[2])


def _attention_figures() -> dict[str, int]:
    """What staff should look at (all time): webhook deliveries whose processing failed (an
    error is recorded) or that were never processed, and mails that gave up after retries.
    Each count goes through a partial or status index."""
    from lavish.models import EmailStatus, OutboxEmail, WebhookEvent, WebhookState

    row = db.session.execute(
        sa.select(
            sa.select(sa.func.count(WebhookEvent.id))
            .where(WebhookEvent.error != "")
            .scalar_subquery()
            .label("failed_webhooks"),
            sa.select(sa.func.count(WebhookEvent.id))
            .where(WebhookEvent.processed_at.is_(None))
            .scalar_subquery()
            .label("unprocessed_webhooks"),
            sa.select(sa.func.count(OutboxEmail.id))
            .where(OutboxEmail.status == EmailStatus.FAILED)
            .scalar_subquery()
            .label("failed_emails"),
            # Payments that did not match what we charged (or their checkout): not applied.
            sa.select(sa.func.count(WebhookEvent.id))
            .where(WebhookEvent.state == WebhookState.FLAGGED)
            .scalar_subquery()
            .label("flagged_webhooks"),
            # Refunds we promised that are still not done an hour later (the sweep retries).
            sa.select(sa.func.count(Payment.id))
            .where(Payment.refund_due_at <= utcnow() - REFUND_STUCK_AFTER)
            .scalar_subquery()
            .label("stuck_refunds"),
        )
    ).one()
    return {key: int(value) for key, value in row._mapping.items()}


# --- lists --------------------------------------------------------------------------------------

PER_PAGE = 25
COUNT_CAP = 10_000  # beyond this a list says "10,000+" instead of counting every row
MAX_QUERY_LENGTH = 200


@dataclass
class Page:
    """One page of a list, plus a count that stops at COUNT_CAP (counting a million webhook rows
    to print one number is not worth the wait)."""

    items: list[Any]
    number: int
    per_page: int
    total: int
    total_is_capped: bool

    @property
    def first_index(self) -> int:
        return (self.number - 1) * self.per_page + 1 if self.items else 0

    @property
    def last_index(self) -> int:
        return (self.number - 1) * self.per_page + len(self.items)

    @property
    def has_previous(self) -> bool:
        return self.number > 1

    @property
    def has_next(self) -> bool:
        return self.last_index < self.total or (self.total_is_capped and bool(self.items))


def paginate(statement: sa.Select, number: int, *, per_page: int = PER_PAGE) -> Page:
    """Run `statement` (already ordered) for page `number` (1-based)."""
    number = max(1, min(number, COUNT_CAP // per_page + 1))
    counted = (
        statement.order_by(None)
        .with_only_columns(sa.literal(1), maintain_column_froms=True)
        .limit(COUNT_CAP + 1)
    )
    total = db.session.scalar(sa.select(sa.func.count()).select_from(counted.subquery())) or 0
    items = list(
        db.session.scalars(statement.limit(per_page).offset((number - 1) * per_page)).unique()
    )
    return Page(items, number, per_page, min(total, COUNT_CAP), total > COUNT_CAP)


def clean_query(raw: str | None) -> str:
    """The search box's text, trimmed; it is only ever a bound parameter, never SQL."""
    return (raw or "").strip()[:MAX_QUERY_LENGTH]


# Substring search goes through one lower-cased "search text" per table. On PostgreSQL each has
# a trigram GIN index on exactly this expression (migration "admin search indexes"), so
# `LIKE '%…%'` on 100,000 rows is an index lookup, not a scan. Keep the two in step.
_SPACE = sa.literal_column("' '")


def _search_text(*columns: sa.ColumnElement[str]) -> sa.ColumnElement[str]:
    joined = columns[0]
    for column in columns[1:]:
        joined = joined.op("||")(_SPACE).op("||")(column)
    return sa.func.lower(joined)


def site_search_text() -> sa.ColumnElement[str]:
    return _search_text(Site.slug, Site.business_name, Site.city, Site.email)


def user_search_text() -> sa.ColumnElement[str]:
    from lavish.models import User

    return _search_text(User.email, User.name, User.phone)


def order_search_text() -> sa.ColumnElement[str]:
    return _search_text(Order.buyer_email, Order.buyer_name)


def email_search_text() -> sa.ColumnElement[str]:
    from lavish.models import OutboxEmail as E

    return _search_text(E.to, E.template, E.subject)


def _contains(search_text: sa.ColumnElement[str], text: str) -> sa.ColumnElement[bool]:
    """Case-insensitive substring match. The pattern is one bound parameter, with "%", "_" and
    the escape character escaped: what staff type matches itself, never "anything"."""
    escaped = text.lower().replace("/", "//").replace("%", "/%").replace("_", "/_")
    return search_text.like(f"%{escaped}%", escape="/")


def _id_match(column: sa.ColumnElement[int], text: str) -> sa.ColumnElement[bool]:
    digits = text.lstrip("#")
    return column == int(digits) if digits.isdigit() and len(digits) < 10 else sa.false()


def _any_of(id_column: sa.ColumnElement[int], *branches: sa.Select) -> sa.ColumnElement[bool]:
    """`id IN (branch UNION branch …)`: each branch uses its own index, where a single WHERE
    with OR across columns and tables makes the database read every row."""
    return id_column.in_(sa.union(*branches))


def _matching_sites(text: str) -> sa.Select:
    return sa.select(Site.id).where(_contains(site_search_text(), text))


def _matching_users(text: str) -> sa.Select:
    from lavish.models import User

    return sa.select(User.id).where(_contains(user_search_text(), text))


def sites_query(text: str = "", status: str | None = None) -> sa.Select:
    """Sites, newest first; `text` matches slug, business name, city or contact email, or the
    owner's email, name or phone (substring, case-insensitive)."""
    statement = sa.select(Site).options(selectinload(Site.owner)).order_by(Site.id.desc())
    if status:
        statement = statement.where(Site.status == status)
    if text:
        statement = statement.where(
            _any_of(
                Site.id,
                _matching_sites(text),
                sa.select(Site.id).where(Site.owner_id.in_(_matching_users(text))),
            )
        )
    return statement


def customers_query(text: str = "") -> sa.Select:
    """Customer accounts (not staff), newest first; `text` matches email, name or phone, or is
    the customer number."""
    from lavish.models import Role, User

    statement = sa.select(User).where(User.role == Role.CUSTOMER).order_by(User.id.desc())
    if text:
        statement = statement.where(
            _any_of(
                User.id, _matching_users(text), sa.select(User.id).where(_id_match(User.id, text))
            )
        )
    return statement


def orders_query(text: str = "", status: str | None = None) -> sa.Select:
    """Orders, newest first; `text` is the order number, the provider's checkout or payment id,
    or matches the buyer's email or name or the site (slug, name, city)."""
    o = Order
    statement = sa.select(o).options(selectinload(o.site)).order_by(o.id.desc())
    if status:
        statement = statement.where(o.status == status)
    if text:
        statement = statement.where(
            _any_of(
                o.id,
                sa.select(o.id).where(_id_match(o.id, text)),
                sa.select(o.id).where(o.checkout_id == text),
                sa.select(o.id).where(o.payment_id == text),
                sa.select(o.id).where(_contains(order_search_text(), text)),
                sa.select(o.id).where(o.site_id.in_(_matching_sites(text))),
            )
        )
    return statement


def subscriptions_query(text: str = "", status: str | None = None) -> sa.Select:
    """Subscriptions, newest first; `text` is the number or the provider id (su_…), or matches
    the site (slug, name, city) or the customer (email, name, phone)."""
    s = Subscription
    statement = (
        sa.select(s).options(selectinload(s.site), selectinload(s.customer)).order_by(s.id.desc())
    )
    if status:
        statement = statement.where(s.status == status)
    if text:
        statement = statement.where(
            _any_of(
                s.id,
                sa.select(s.id).where(_id_match(s.id, text)),
                sa.select(s.id).where(s.provider_subscription_id == text),
                sa.select(s.id).where(s.site_id.in_(_matching_sites(text))),
                sa.select(s.id).where(s.customer_id.in_(_matching_users(text))),
            )
        )
    return statement


WEBHOOK_OUTCOMES = ("failed", "unprocessed", "flagged")
KNOWN_EVENT_TYPES = (
    "payment_intent.succeeded",
    "payment_intent.failed",
    "subscription.create",
    "subscription.past_due",
    "subscription.paused",
    "subscription.pause",
    "subscription.cancel",
    "bank_transfer_intent.pending",
    "bank_transfer_intent.succeeded",
    "bank_transfer_intent.failed",
)


def webhooks_query(
    text: str = "", event_type: str | None = None, outcome: str | None = None
) -> sa.Select:
    """Webhook deliveries, newest first. There can be millions, so `text` matches exactly,
    through indexes: the delivery id (``msg_…``), the object id (``pa_…``/``su_…``/``ch_…``),
    the row number, or an event type (a known type's prefix, e.g. "subscription.");
    `outcome` keeps failed ones (an error recorded) or never processed ones."""
    from lavish.models import WebhookEvent as W

    statement = sa.select(W).order_by(W.id.desc())
    if event_type:
        statement = statement.where(W.event_type == event_type)
    if outcome == "failed":
        statement = statement.where(W.error != "")
    elif outcome == "unprocessed":
        statement = statement.where(W.processed_at.is_(None))
    elif outcome == "flagged":
        statement = statement.where(W.state == "flagged")
    if text:
        types = [known for known in KNOWN_EVENT_TYPES if known.startswith(text)]
        if types:  # "subscription." or "payment_intent.succeeded": a filter on the type
            statement = statement.where(W.event_type.in_(types))
        else:  # an id: each through its own index
            statement = statement.where(
                _any_of(
                    W.id,
                    sa.select(W.id).where(W.delivery_id == text),
                    sa.select(W.id).where(W.object_id == text),
                    sa.select(W.id).where(W.event_type == text),
                    sa.select(W.id).where(_id_match(W.id, text)),
                )
            )
    return statement


def emails_query(text: str = "", status: str | None = None) -> sa.Select:
    """Outbox mails, newest first; `text` matches the recipient, the template or the subject,
    or is the mail's number."""
    from lavish.models import OutboxEmail as E

    statement = sa.select(E).order_by(E.id.desc())
    if status:
        statement = statement.where(E.status == status)
    if text:
        statement = statement.where(
            _any_of(
                E.id,
                sa.select(E.id).where(_contains(email_search_text(), text)),
                sa.select(E.id).where(_id_match(E.id, text)),
            )
        )
    return statement


def audit_query(
    text: str = "", object_type: str | None = None, object_id: int | None = None
) -> sa.Select:
    """Audit entries, newest first; `text` matches the action or the staff member (email,
    name)."""
    from lavish.models import AuditEntry as A

    statement = sa.select(A).options(selectinload(A.actor)).order_by(A.id.desc())
    if object_type:
        statement = statement.where(A.object_type == object_type)
    if object_id is not None:
        statement = statement.where(A.object_id == object_id)
    if text:
        statement = statement.where(
            sa.or_(
                _contains(sa.func.lower(A.action), text),
                A.actor_id.in_(_matching_users(text)),
            )
        )
    return statement


def audit_for(object_type: str, object_id: int, *, limit: int = 50) -> list[Any]:
    """The latest audit entries about one object, for its detail page."""
    return list(
        db.session.scalars(audit_query(object_type=object_type, object_id=object_id).limit(limit))
    )


def status_counts(column: sa.ColumnElement[str]) -> dict[str, int]:
    """Rows per value of a status column (for the filter's counts)."""
    table = column.table
    rows = db.session.execute(
        sa.select(column, sa.func.count()).select_from(table).group_by(column)
    )
    return {value: count for value, count in rows}

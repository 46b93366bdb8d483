"""The staff console: dashboard, searchable lists, detail pages (staff actions: actions.py)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import abort, current_app, jsonify, render_template, request
from flask_login import current_user
from jinja2_fragments.flask import render_block

from lavish.admin import bp, charts, forms, queries, services, uploads
from lavish.extensions import db, htmx, login_manager
from lavish.htmx import is_fragment_request
from lavish.models import (
    AuditEntry,
    EmailStatus,
    Order,
    OrderStatus,
    OutboxEmail,
    Site,
    SiteStatus,
    Subscription,
    SubscriptionStatus,
    User,
    WebhookEvent,
)


def _wants_json() -> bool:
    return request.path.endswith(".json") or (request.accept_mimetypes.best == "application/json")


@bp.before_request
def staff_only():
    """Every admin URL (page, fragment, JSON, POST) is for staff: guarded here, once, so no
    route can forget it. Anonymous: login (HX-Redirect for htmx, 401 for JSON); others: 403."""
    if not current_user.is_authenticated:
        if _wants_json():
            return jsonify(error="Sign in as staff to read this."), 401
        return login_manager.unauthorized()
    if not current_user.is_admin:
        if _wants_json():
            return jsonify(error="Staff only."), 403
        abort(403)
    return None


# --- dashboard ----------------------------------------------------------------------------------


@bp.get("/")
def dashboard():
    stats = queries.dashboard_stats(currency=current_app.config["CURRENCY"])
    return render_template(
        "admin/dashboard.html",
        stats=stats,
        mrr_chart=charts.mrr_chart(stats.months),
        subscriptions_chart=charts.subscriptions_chart(stats.months),
    )


@bp.get("/statistics.json")
def statistics():
    stats = queries.dashboard_stats(currency=current_app.config["CURRENCY"])
    response = jsonify(stats.as_json())
    response.headers["Cache-Control"] = "no-store"
    return response


# --- lists --------------------------------------------------------------------------------------


def _page_number() -> int:
    return request.args.get("page", default=1, type=int) or 1


def _choice(name: str, allowed: set[str]) -> str | None:
    value = request.args.get(name, "")
    return value if value in allowed else None


def _wants_rows() -> bool:
    return is_fragment_request() and htmx.target == "rows"


def _render_list(template: str, **context: Any):
    """The whole page, or only the table rows when the active search asks for them."""
    if _wants_rows():
        return render_block(template, "rows", **context)
    return render_template(template, **context)


def _status_counts(column: Any) -> dict[str, int]:
    """Counts for the status filter; the rows alone (typing in the search box) don't show
    them, so they are not counted then."""
    return {} if _wants_rows() else queries.status_counts(column)


def _values(enum: Any) -> set[str]:
    return {member.value for member in enum}


@bp.get("/sites")
def sites():
    q = queries.clean_query(request.args.get("q"))
    status = _choice("status", _values(SiteStatus))
    page = queries.paginate(queries.sites_query(q, status), _page_number())
    return _render_list(
        "admin/sites.html",
        page=page,
        q=q,
        status=status,
        counts=_status_counts(Site.status),
        statuses=list(SiteStatus),
    )


@bp.get("/customers")
def customers():
    q = queries.clean_query(request.args.get("q"))
    page = queries.paginate(queries.customers_query(q), _page_number())
    return _render_list("admin/customers.html", page=page, q=q)


@bp.get("/orders")
def orders():
    q = queries.clean_query(request.args.get("q"))
    status = _choice("status", _values(OrderStatus))
    page = queries.paginate(queries.orders_query(q, status), _page_number())
    return _render_list(
        "admin/orders.html",
        page=page,
        q=q,
        status=status,
        counts=_status_counts(Order.status),
        statuses=list(OrderStatus),
    )


@bp.get("/subscriptions")
def subscriptions():
    q = queries.clean_query(request.args.get("q"))
    status = _choice("status", _values(SubscriptionStatus))
    page = queries.paginate(queries.subscriptions_query(q, status), _page_number())
    return _render_list(
        "admin/subscriptions.html",
        page=page,
        q=q,
        status=status,
        counts=_status_counts(Subscription.status),
        statuses=list(SubscriptionStatus),
    )


@bp.get("/webhooks")
def webhooks():
    q = queries.clean_query(request.args.get("q"))
    event_type = request.args.get("type") or None
    if event_type and len(event_type) > 100:
        event_type = None
    outcome = _choice("outcome", set(queries.WEBHOOK_OUTCOMES))
    page = queries.paginate(queries.webhooks_query(q, event_type, outcome), _page_number())
    return _render_list(
        "admin/webhooks.html",
        page=page,
        q=q,
        event_type=event_type,
        outcome=outcome,
        event_types=queries.KNOWN_EVENT_TYPES,
    )


@bp.get("/emails")
def emails():
    q = queries.clean_query(request.args.get("q"))
    status = _choice("status", _values(EmailStatus))
    page = queries.paginate(queries.emails_query(q, status), _page_number())
    return _render_list(
        "admin/emails.html",
        page=page,
        q=q,
        status=status,
        counts=_status_counts(OutboxEmail.status),
        statuses=list(EmailStatus),
    )


AUDIT_OBJECT_TYPES = ("sites", "users", "orders", "subscriptions", "webhook_events", "emails")


@bp.get("/audit")
def audit():
    q = queries.clean_query(request.args.get("q"))
    object_type = _choice("object", set(AUDIT_OBJECT_TYPES))
    page = queries.paginate(queries.audit_query(q, object_type), _page_number())
    return _render_list(
        "admin/audit.html", page=page, q=q, object_type=object_type, object_types=AUDIT_OBJECT_TYPES
    )


# --- detail pages -------------------------------------------------------------------------------


def _newest_first(statement: sa.Select, column: Any, limit: int = 100) -> list[Any]:
    return list(db.session.scalars(statement.order_by(column.desc()).limit(limit)))


def site_context(site: Site) -> dict[str, Any]:
    from lavish.accounts.services import live_url

    return {
        "site": site,
        "live_url": live_url(site),
        "orders": _newest_first(sa.select(Order).where(Order.site_id == site.id), Order.id),
        "subscriptions": _newest_first(
            sa.select(Subscription).where(Subscription.site_id == site.id), Subscription.id
        ),
        "audit_entries": queries.audit_for("sites", site.id),
    }


@bp.get("/sites/<int:site_id>")
def site_detail(site_id: int):
    site = db.get_or_404(Site, site_id)
    return render_template(
        "admin/site.html",
        **site_context(site),
        forms=forms.site_forms(site),
        limits=uploads.upload_limits(),
    )


@bp.get("/customers/<int:user_id>")
def customer_detail(user_id: int):
    user = db.get_or_404(User, user_id)
    return render_template(
        "admin/customer.html",
        customer=user,
        sites=_newest_first(sa.select(Site).where(Site.owner_id == user.id), Site.id),
        orders=_newest_first(
            sa.select(Order).where(
                sa.or_(Order.customer_id == user.id, Order.buyer_email == user.email)
            ),
            Order.id,
        ),
        subscriptions=_newest_first(
            sa.select(Subscription).where(Subscription.customer_id == user.id), Subscription.id
        ),
        emails=_newest_first(
            sa.select(OutboxEmail).where(OutboxEmail.to == user.email), OutboxEmail.id, 50
        ),
        audit_entries=queries.audit_for("users", user.id),
    )


def order_context(order: Order) -> dict[str, Any]:
    return {
        "order": order,
        "payments": _payments(order_id=order.id),
        "audit_entries": queries.audit_for("orders", order.id),
    }


@bp.get("/orders/<int:order_id>")
def order_detail(order_id: int):
    order = db.get_or_404(Order, order_id)
    form = forms.RefundForm(formdata=None)
    return render_template("admin/order.html", **order_context(order), form=form)


def subscription_context(subscription: Subscription) -> dict[str, Any]:
    return {
        "subscription": subscription,
        "payments": _payments(subscription_id=subscription.id),
        "audit_entries": queries.audit_for("subscriptions", subscription.id),
    }


@bp.get("/subscriptions/<int:subscription_id>")
def subscription_detail(subscription_id: int):
    subscription = db.get_or_404(Subscription, subscription_id)
    form = forms.CancelSubscriptionForm(formdata=None)
    return render_template(
        "admin/subscription.html", **subscription_context(subscription), form=form
    )


def _payments(**where: int) -> list[Any]:
    from lavish.models import Payment

    statement = sa.select(Payment).filter_by(**where)
    return _newest_first(statement, Payment.paid_at)


@bp.get("/webhooks/<int:event_id>")
def webhook_detail(event_id: int):
    event = db.get_or_404(WebhookEvent, event_id)
    return render_template(
        "admin/webhook.html",
        event=event,
        payload=_pretty_json(event.payload),
        audit_entries=queries.audit_for("webhook_events", event.id),
    )


def _pretty_json(raw: str) -> str:
    import json

    try:
        return json.dumps(json.loads(raw), indent=2, ensure_ascii=False, sort_keys=True)
    except ValueError:
        return raw  # stored as received, even when it is not JSON


@bp.get("/emails/<int:email_id>")
def email_detail(email_id: int):
    email = db.get_or_404(OutboxEmail, email_id)
    services.record_email_view(current_user, email)
    return render_template(
        "admin/email.html",
        email=email,
        preview=_render_preview(email),
        audit_entries=queries.audit_for("emails", email.id),
    )


@bp.get("/emails/<int:email_id>/preview")
def email_preview(email_id: int):
    """The mail's HTML alone, for the detail page's sandboxed frame. Its own CSP: a srcdoc frame
    would inherit the console's, which refuses the inline styles every mail is made of."""
    from lavish.security import MAIL_PREVIEW_POLICY

    email = db.get_or_404(OutboxEmail, email_id)
    services.record_email_view(current_user, email)
    preview = _render_preview(email)
    if "html" not in preview:
        abort(404)
    response = current_app.response_class(preview["html"], mimetype="text/html")
    response.headers["Content-Security-Policy"] = MAIL_PREVIEW_POLICY
    response.headers["X-Frame-Options"] = "SAMEORIGIN"
    response.headers["Cache-Control"] = "no-store"
    return response


def _render_preview(email: OutboxEmail) -> dict[str, str]:
    """The mail as its recipient sees it (rendered now from its template and stored context),
    with placeholders for its account links: a working reset or set-password link in the
    console would let staff into the customer's account (the job makes them when it sends)."""
    from lavish.mail import render

    try:
        mail = render.render_mail(email.template, email.context or {}, preview=True)
    except Exception as error:  # a template renamed since, a context key missing: say so
        return {"error": f"{type(error).__name__}: {error}"}
    return {"subject": mail.subject, "text": mail.text, "html": mail.html}


@bp.get("/audit/<int:entry_id>")
def audit_detail(entry_id: int):
    entry = db.get_or_404(AuditEntry, entry_id)
    return render_template("admin/audit_entry.html", entry=entry)

"""Offer, purchase, return page, subscriptions, webhook endpoint and sandbox checkout pages."""

from __future__ import annotations

import logging
import time
from datetime import timedelta

import sqlalchemy as sa
from flask import abort, current_app, flash, render_template, request, session, url_for
from flask_login import current_user, login_required
from itsdangerous import BadSignature, URLSafeSerializer
from jinja2_fragments.flask import render_block
from sqlalchemy.orm import selectinload

from lavish import ratelimit, transaction
from lavish.auth import admin_required
from lavish.background import enqueue_now
from lavish.billing import bp, services, webhooks
from lavish.billing.forms import CancelForm, PurchaseForm, SiteForm
from lavish.billing.providers import ProviderError, get_provider
from lavish.billing.providers import sandbox as sandbox_provider
from lavish.clock import utcnow
from lavish.extensions import csrf, db
from lavish.htmx import is_fragment_request, see_other
from lavish.inputs import id_value
from lavish.models import (
    RUNNING_SUBSCRIPTION,
    Order,
    OrderStatus,
    Site,
    SiteStatus,
    Subscription,
    SubscriptionStatus,
)
from lavish.urls import public_url_for, site_url

log = logging.getLogger(__name__)

# Every checkout is a call to the provider (and an order row): a client, or a site, cannot
# make them by the dozen. Pressing buy again within the limits reuses the pending checkout.
CHECKOUTS_PER_CLIENT = ratelimit.Limit("checkout-client", 10, 10 * 60)
CHECKOUTS_PER_SITE = ratelimit.Limit("checkout-site", 30, 10 * 60)
RECEIPT_RESENDS_PER_ORDER = ratelimit.Limit("receipt-resend", 3, 60 * 60)
# The return page's link carries this (signed order id), for a buyer whose session is gone.
COMPLETE_TOKEN_SALT = "lavish.billing.purchase-complete"
RECONCILE_AFTER = timedelta(seconds=10)  # how long the return page trusts the webhook alone
RECONCILE_EVERY_SECONDS = 10
RECONCILE_ORDER_JOB = "jobs.billing.reconcile_order_job"
RECONCILE_SUBSCRIPTION_JOB = "jobs.billing.reconcile_subscription_job"


def _site_or_404(slug: str) -> Site:
    site = db.session.scalar(sa.select(Site).where(Site.slug == slug))
    if site is None:
        abort(404)
    return site


# ---------------------------------------------------------------------------------------------
# Offer and purchase


def _render_offer(site: Site, form: PurchaseForm, status: int = 200, error: str = ""):
    return render_template(
        "billing/offer.html",
        site=site,
        form=form,
        error=error,
        site_url=site_url(site.slug),
        price_cents=current_app.config["SITE_PRICE_CENTS"],
        monthly_cents=current_app.config["SUBSCRIPTION_PRICE_CENTS"],
        currency=current_app.config["CURRENCY"],
        setup_days=current_app.config["SETUP_DAYS"],
    ), status


@bp.get("/sites/<slug>")
def offer(slug: str):
    site = _site_or_404(slug)
    form = PurchaseForm()
    _prefill_from_last_order(form, site)
    return _render_offer(site, form)


def _prefill_from_last_order(form: PurchaseForm, site: Site) -> None:
    """ "Try again" after a declined card keeps the buyer's name and email: from their own
    last order for this site, found through their session (never through the URL)."""
    order_ids = [i for i in session.get("orders", []) if isinstance(i, int)]
    if not order_ids:
        return
    order = db.session.scalar(
        sa.select(Order)
        .where(Order.id.in_(order_ids), Order.site_id == site.id)
        .order_by(Order.id.desc())
        .limit(1)
    )
    if order is not None:
        form.name.data = order.buyer_name
        form.email.data = order.buyer_email


@bp.post("/sites/<slug>/purchase")
def purchase(slug: str):
    site = _site_or_404(slug)
    form = PurchaseForm()
    signed_in = current_user.is_authenticated
    if site.status != SiteStatus.PREVIEW:
        return _render_offer(site, form, 409)
    if signed_in:  # buy for the signed-in account, whatever the form says
        form.email.data = current_user.email
        form.name.data = current_user.name or current_user.email
    if not form.validate_on_submit():
        return _render_offer(site, form, 422)
    _limit_checkouts(site)
    try:
        order = services.start_purchase(
            site,
            email=form.email.data or "",
            name=form.name.data or "",
            customer=current_user if signed_in else None,
            provider=get_provider(),
            complete_url=lambda order: public_url_for(
                "billing.purchase_complete",
                slug=site.slug,
                order=order.id,
                token=_complete_token(order.id),
            ),
            cancel_url=public_url_for("billing.offer", slug=site.slug),
        )
    except services.BillingError as exc:
        transaction.keep_on_error()  # the failed order stays for staff to see
        status = 409 if site.status != SiteStatus.PREVIEW else 503
        return _render_offer(site, form, status, str(exc))
    session.setdefault("orders", [])
    session["orders"] = [*session["orders"][-9:], order.id]
    return see_other(order.checkout_url)


def _limit_checkouts(site: Site) -> None:
    """429 when this client, or anyone for this site, starts too many checkouts."""
    ratelimit.enforce(CHECKOUTS_PER_CLIENT, request.remote_addr)
    ratelimit.enforce(CHECKOUTS_PER_SITE, site.slug)


def _complete_token(order_id: int) -> str:
    return URLSafeSerializer(current_app.secret_key, salt=COMPLETE_TOKEN_SALT).dumps(order_id)


def _may_see(order: Order) -> bool:
    """The buyer: the browser that started the checkout, or the provider's return link."""
    if order.id in session.get("orders", []):
        return True
    try:
        signed = URLSafeSerializer(current_app.secret_key, salt=COMPLETE_TOKEN_SALT).loads(
            request.args.get("token", "")
        )
    except BadSignature:
        return False
    return signed == order.id


def _maybe_reconcile(order: Order) -> bool:
    """The webhook is the normal path; when it is late, ask the provider ourselves (throttled).

    In a job with its own transaction: this page is a GET and does not write. Without Redis
    the job runs now, so the page shows its outcome; with Redis, the page's polling does."""
    if order.status != OrderStatus.PENDING or not order.checkout_id:
        return False
    if utcnow() - order.created_at < RECONCILE_AFTER:
        return False
    key = f"reconciled:{order.id}"
    if time.time() - session.get(key, 0) < RECONCILE_EVERY_SECONDS:
        return False
    session[key] = time.time()
    return enqueue_now(RECONCILE_ORDER_JOB, order.id)


def _mask(email: str) -> str:
    local, _, domain = email.partition("@")
    return f"{local[:1]}***@{domain}"


@bp.get("/sites/<slug>/purchase/complete")
def purchase_complete(slug: str):
    site = _site_or_404(slug)
    order = db.session.get(Order, request.args.get("order", type=id_value) or 0)
    if order is None or order.site_id != site.id or not _may_see(order):
        abort(404)  # order ids are sequential: nobody else's outcome, no provider call
    # A payment that did not match what we charged is not applied: say so, and stop asking.
    flagged = services.flagged_payments(order_ids=[order.id])
    if not flagged and _maybe_reconcile(order):
        db.session.expire_all()  # read what the job committed
    won = (
        order.status == OrderStatus.PAID
        and site.owner_id == order.customer_id
        and not (order.failure_reason)
    )
    context = {
        "site": site,
        "order": order,
        "flagged": flagged,
        "won": won,
        "masked_email": _mask(order.buyer_email),
        "mine": order.id in session.get("orders", []),
        "poll_url": url_for(
            "billing.purchase_complete",
            slug=slug,
            order=order.id,
            token=request.args.get("token") or None,
        ),
    }
    if is_fragment_request():
        # 286 tells htmx to stop polling once there is an answer.
        status = 200 if order.status == OrderStatus.PENDING and not flagged else 286
        return render_block("billing/complete.html", "status", **context), status
    return render_template("billing/complete.html", **context)


@bp.post("/sites/<slug>/purchase/resend")
def resend_receipt(slug: str):
    """The return page's "Resend the email": the receipt again, to the address it went to."""
    site = _site_or_404(slug)
    order = db.session.get(Order, request.args.get("order", type=id_value) or 0)
    if order is None or order.site_id != site.id or not _may_see(order):
        abort(404)
    back = url_for(
        "billing.purchase_complete", slug=slug, order=order.id, token=request.args.get("token")
    )
    ratelimit.enforce(RECEIPT_RESENDS_PER_ORDER, str(order.id))
    if services.resend_purchase_receipt(order):
        flash(f"We sent your receipt again to {_mask(order.buyer_email)}.", "success")
    else:
        flash("There is no receipt for this order yet.", "error")
    return see_other(back)


# ---------------------------------------------------------------------------------------------
# Subscriptions (owners)


def _owned_site_or_error(slug: str | None) -> Site:
    site = db.session.scalar(sa.select(Site).where(Site.slug == (slug or "")))
    if site is None:
        abort(404)
    if site.owner_id != current_user.id:
        abort(403)
    return site


def _status_url(site: Site | None = None) -> str:
    return url_for("billing.status", site=site.slug if site else None)


@bp.post("/subscriptions/activate")
@login_required
def activate():
    form = SiteForm()
    if not form.validate_on_submit():
        flash("Please choose a site.", "error")
        return see_other(_status_url())
    site = _owned_site_or_error(form.site.data)
    _limit_checkouts(site)
    return _start_checkout(site)


def _start_checkout(site: Site):
    try:
        sub = services.start_subscription(
            site,
            customer=current_user,
            provider=get_provider(),
            return_url=public_url_for("billing.status", site=site.slug),
        )
    except services.BillingError as exc:
        db.session.rollback()
        flash(str(exc), "error")
        return see_other(_status_url(site))
    return see_other(sub.checkout_url)


@bp.get("/subscriptions/status")
@login_required
def status():
    focus = request.args.get("site")
    sites = owned_sites(current_user)
    # Back from a hosting checkout: if the webhook is late, ask the provider, in a job with its
    # own transaction (a GET does not write); without Redis it runs now and the page shows it.
    site = next((site for site in sites if focus and site.slug == focus), None)
    sub = services.current_subscription(site) if site is not None else None
    if sub is not None and sub.status == SubscriptionStatus.PENDING and sub.checkout_id:
        enqueue_now(RECONCILE_SUBSCRIPTION_JOB, sub.id)
        db.session.expire_all()  # read what the job committed
        sites = owned_sites(current_user)
    # Payments that did not match the price and were not applied: the owner is told here.
    unapplied: dict[int, list] = {}
    for payment in services.flagged_payments(
        subscription_ids=[sub.id for site in sites for sub in site.subscriptions]
    ):
        if payment.refunded_at is None:
            unapplied.setdefault(payment.subscription_id, []).append(payment)
    return render_template("billing/status.html", sites=sites, focus=focus, unapplied=unapplied)


@bp.get("/subscriptions/cancel")
@login_required
def cancel_confirm():
    site = _owned_site_or_error(request.args.get("site"))
    sub = services.current_subscription(site)
    form = CancelForm(site=site.slug)
    return _render_cancel(site, sub, form)


def _render_cancel(site: Site, sub: Subscription | None, form: CancelForm, status: int = 200):
    context = {"site": site, "sub": sub, "form": form}
    if is_fragment_request():
        return render_block("billing/cancel.html", "confirm", **context), status
    return render_template("billing/cancel.html", **context), status


@bp.post("/subscriptions/cancel")
@login_required
def cancel():
    form = CancelForm()
    site = _owned_site_or_error(form.site.data)
    sub = services.current_subscription(site)
    if not form.validate_on_submit():
        return _render_cancel(site, sub, form, 422)
    if sub is None or sub.status not in RUNNING_SUBSCRIPTION:
        flash("This site has no running subscription to cancel.", "error")
        return see_other(_status_url(site))
    try:
        result = services.cancel_subscription(
            sub,
            at_period_end=form.at_period_end.data == "1",
            reason=(form.reason.data or "").strip(),
            provider=get_provider(),
        )
    except ProviderError as exc:
        db.session.rollback()
        form.at_period_end.errors = [exc.user_message]
        return _render_cancel(site, sub, form, 503)
    except services.BillingError as exc:
        db.session.rollback()
        flash(str(exc), "error")
        return see_other(_status_url(site))
    if result == "cancels at period end":
        flash(
            f"Your subscription ends on {sub.current_period_end:%B %-d, %Y}. "
            "You can undo this until then.",
            "success",
        )
    else:
        flash("Your subscription is cancelled.", "success")
    return see_other(_status_url(site))


@bp.post("/subscriptions/reactivate")
@login_required
def reactivate():
    """Undo a scheduled cancellation, pay again in grace, or start over after an end."""
    form = SiteForm()
    if not form.validate_on_submit():
        flash("Please choose a site.", "error")
        return see_other(_status_url())
    site = _owned_site_or_error(form.site.data)
    sub = services.current_subscription(site)
    if sub is not None and sub.status == "active" and sub.cancel_at_period_end:
        try:
            services.undo_cancel(sub)
        except services.BillingError as exc:
            db.session.rollback()
            flash(str(exc), "error")
            return see_other(_status_url(site))
        flash("Your subscription continues; nothing was cancelled.", "success")
        return see_other(_status_url(site))
    if sub is not None and sub.status == "active":
        flash("Hosting for this site is already paid.", "info")
        return see_other(_status_url(site))
    _limit_checkouts(site)  # before anything changes at the provider
    if sub is not None and sub.status == "past_due":
        # Paying again replaces the failing subscription (stop its retries first).
        try:
            services.replace_past_due(sub, provider=get_provider())
        except ProviderError as exc:
            db.session.rollback()
            flash(exc.user_message, "error")
            return see_other(_status_url(site))
    return _start_checkout(site)


# ---------------------------------------------------------------------------------------------
# Webhooks (no CSRF, no session)


@bp.post("/webhooks/recurrente")
@csrf.exempt
def recurrente_webhook():
    if (request.content_length or 0) > webhooks.MAX_BODY_BYTES:
        log.warning("webhook rejected: body too large (%s)", request.content_length)
        return {"error": "body too large"}, 400
    raw = request.stream.read(webhooks.MAX_BODY_BYTES + 1)
    outcome = webhooks.handle_delivery(raw, dict(request.headers), request.content_type)
    # The stored delivery, with its effects or (500) with its error: one commit either way.
    transaction.keep_on_error()
    return {"result": outcome.message}, outcome.status


@bp.after_request
def _no_session_for_webhooks(response):
    if request.endpoint == "billing.recurrente_webhook":
        session.modified = False
        response.headers.pop("Set-Cookie", None)
    return response


# ---------------------------------------------------------------------------------------------
# Sandbox provider pages (only when no Recurrente keys are configured)


def _sandbox_only() -> None:
    if current_app.config.get("PAYMENT_PROVIDER") != "sandbox":
        abort(404)


@bp.get("/sandbox/checkout/<checkout_id>")
def sandbox_checkout(checkout_id: str):
    _sandbox_only()
    record = sandbox_provider.load_checkout(checkout_id)
    if record is None:
        abort(404)
    return render_template("billing/sandbox_checkout.html", checkout=record)


@bp.post("/sandbox/checkout/<checkout_id>/<any(pay, decline):action>")
def sandbox_checkout_action(checkout_id: str, action: str):
    _sandbox_only()
    record = sandbox_provider.load_checkout(checkout_id)
    if record is None:
        abort(404)
    if action == "pay":
        sandbox_provider.pay(checkout_id)
    else:
        sandbox_provider.decline(checkout_id)
    # The webhooks it delivered commit with this request, in one transaction.
    return see_other(record["success_url"])


@bp.get("/sandbox/subscriptions")
@admin_required
def sandbox_subscriptions():
    """Staff: every sandbox subscription with the simulation controls (walk the grace)."""
    _sandbox_only()
    subscriptions = db.session.scalars(
        sa.select(Subscription)
        .where(Subscription.provider == "sandbox")
        .order_by(Subscription.id.desc())
        .limit(200)
    ).all()
    return render_template("billing/sandbox_subscriptions.html", subscriptions=subscriptions)


@bp.post("/sandbox/subscriptions/<int:subscription_id>/simulate")
@admin_required
def sandbox_simulate(subscription_id: str):
    _sandbox_only()
    sub = db.get_or_404(Subscription, subscription_id)
    action = request.form.get("action", "")
    if action not in sandbox_provider.SIMULATIONS or not sub.provider_subscription_id:
        flash("That simulation is not possible for this subscription.", "error")
        return see_other(url_for("billing.sandbox_subscriptions"))
    results = sandbox_provider.simulate(
        sub.provider_subscription_id, action, amount_cents=sub.amount_cents, currency=sub.currency
    )
    from lavish import audit

    audit.record(current_user, f"sandbox.simulate.{action}", sub)
    flash(f"Simulated {action.replace('_', ' ')}: " + "; ".join(r.message for r in results), "info")
    return see_other(url_for("billing.sandbox_subscriptions"))


@bp.app_context_processor
def _billing_template_helpers():
    return {
        "billing_state": billing_state,
        "timedelta_days": lambda days: timedelta(days=days),
        "is_billing_suspension": services.is_billing_suspension,
    }


def owned_sites(user) -> list[Site]:
    """The user's sites with their subscription history (two queries however many sites)."""
    if not getattr(user, "is_authenticated", False):
        return []
    return list(
        db.session.scalars(
            sa.select(Site)
            .options(selectinload(Site.subscriptions))
            .where(Site.owner_id == user.id)
            .order_by(Site.business_name)
        )
    )


def billing_state(site: Site) -> dict:
    """What the subscription panel shows for one site (dashboard and status page)."""
    # Loaded with the sites by both pages that show panels: owned_sites() here, and the
    # owner's dashboard (accounts.services.USER_WITH_SITES).
    history = site.subscriptions
    current = services.current_of(history)
    setup_ends = (
        site.purchased_at + timedelta(days=current_app.config["SETUP_DAYS"])
        if site.purchased_at
        else None
    )
    return {
        "current": current,
        "history": history,
        "setup_ends": setup_ends,
        "monthly_cents": current_app.config["SUBSCRIPTION_PRICE_CENTS"],
        "currency": current_app.config["CURRENCY"],
        "sandbox": current_app.config.get("PAYMENT_PROVIDER") == "sandbox",
        "now": utcnow(),
    }

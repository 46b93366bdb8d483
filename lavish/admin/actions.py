"""Staff actions: POST forms (CSRF), 303 + flash (the request commits once when it has answered:
lavish/transaction.py); invalid input re-renders the page with the values and a message next
to the field (422, rolled back). Access is guarded for the whole
blueprint in routes.py."""

from __future__ import annotations

from contextlib import ExitStack
from typing import Any

from flask import flash, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from werkzeug.exceptions import RequestEntityTooLarge

from lavish.admin import bp, forms, routes, services, uploads
from lavish.admin.services import ActionRefused
from lavish.extensions import db
from lavish.hosting.publisher import PublishError
from lavish.htmx import see_other
from lavish.models import Order, OutboxEmail, Site, Subscription, User, WebhookEvent


def _allow_upload() -> None:
    # A little over the zip limit for the other fields; beyond it the body is not even read.
    request.max_content_length = uploads.max_upload_bytes() + 64 * 1024


def _too_large_message() -> str:
    return f"The upload is larger than {uploads.human_size(uploads.max_upload_bytes())}."


def _has_file(field: Any) -> bool:
    return bool(field.data) and bool(getattr(field.data, "filename", ""))


def _slug_problem(slug: str) -> str | None:
    from lavish.hosting.slugs import slug_problem

    return slug_problem(slug)


# --- sites --------------------------------------------------------------------------------------


@bp.route("/sites/new", methods=["GET", "POST"])
def new_site():
    _allow_upload()
    try:
        form = forms.NewSiteForm()
    except RequestEntityTooLarge:
        form = forms.NewSiteForm(formdata=None)
        form.archive.errors = [_too_large_message()]
        return _render_new_site(form, 413)
    if not form.validate_on_submit():
        return _render_new_site(form, 422 if form.errors else 200)

    if problem := _slug_problem(form.slug.data):
        form.slug.errors.append(problem)
        return _render_new_site(form, 422)
    has_zip, folder_name = _has_file(form.archive), form.folder.data
    if has_zip == bool(folder_name):
        form.archive.errors.append(
            "Upload a zip or name a folder, not both."
            if has_zip
            else "Upload a zip or name a folder on the server (one of them)."
        )
        return _render_new_site(form, 422)

    details = {
        name: getattr(form, name).data or ""
        for name in ("slug", "business_name", "phone", "email", "city", "category")
    }
    source_field = form.archive if has_zip else form.folder
    try:
        with ExitStack() as stack:
            if has_zip:
                source = stack.enter_context(uploads.uploaded_zip(form.archive.data.stream))
            else:
                source = services.resolve_import_folder(folder_name)
            site = services.create_preview_site(
                current_user, source=source, note=form.note.data or "", **details
            )
    except ActionRefused as error:
        db.session.rollback()
        (getattr(form, error.field) if error.field else source_field).errors.append(str(error))
        return _render_new_site(form, 422)
    except PublishError as error:  # nothing was committed: no site, no live files
        db.session.rollback()
        source_field.errors.append(str(error))
        return _render_new_site(form, 422)
    flash(f"The preview site /{site.slug}/ is published.", "success")
    return see_other(url_for("admin.site_detail", site_id=site.id))


def _render_new_site(form: forms.NewSiteForm, status: int):
    return render_template(
        "admin/new_site.html",
        form=form,
        folders=services.import_folders(),
        import_root=services.import_root(),
        limits=uploads.upload_limits(),
    ), status


def _render_site(site: Site, status: int, **overrides: FlaskForm):
    site_forms = forms.site_forms(site) | overrides
    return render_template(
        "admin/site.html",
        **routes.site_context(site),
        forms=site_forms,
        limits=uploads.upload_limits(),
    ), status


def _done(message: str, site: Site):
    flash(message, "success")
    return see_other(url_for("admin.site_detail", site_id=site.id))


@bp.post("/sites/<int:site_id>/publish")
def publish_site(site_id: int):
    site = db.get_or_404(Site, site_id)
    _allow_upload()
    try:
        form = forms.PublishForm()
    except RequestEntityTooLarge:
        form = forms.PublishForm(formdata=None)
        form.archive.errors = [_too_large_message()]
        return _render_site(site, 413, publish=form)
    if not form.validate_on_submit():
        return _render_site(site, 422, publish=form)
    if not _has_file(form.archive):
        form.archive.errors.append("Choose the zip of the new version.")
        return _render_site(site, 422, publish=form)
    try:
        with uploads.uploaded_zip(form.archive.data.stream) as archive:
            version = services.publish_version(
                current_user, site, archive=archive, note=form.note.data or ""
            )
    except PublishError as error:  # the live version stays what it was
        db.session.rollback()
        form.archive.errors.append(str(error))
        return _render_site(site, 422, publish=form)
    flash(f"Version {version.number} of /{site.slug}/ is live.", "success")
    return see_other(url_for("admin.site_detail", site_id=site.id))


@bp.post("/sites/<int:site_id>/rollback")
def rollback_site(site_id: int):
    site = db.get_or_404(Site, site_id)
    form = forms.RollbackForm()
    if not form.validate_on_submit():
        flash(" ".join(form.version.errors) or "Choose a version.", "error")
        return _render_site(site, 422)
    try:
        services.rollback_site(current_user, site, number=form.version.data)
    except ActionRefused as error:
        db.session.rollback()
        flash(str(error), "error")
        return _render_site(site, 422)
    return _done(f"Version {form.version.data} of /{site.slug}/ is live again.", site)


@bp.post("/sites/<int:site_id>/suspend")
def suspend_site(site_id: int):
    site = db.get_or_404(Site, site_id)
    form = forms.SuspendForm()
    if not form.validate_on_submit():
        return _render_site(site, 422, suspend=form)
    try:
        services.suspend_site(
            current_user, site, reason=form.reason.data, owner_message=form.owner_message.data or ""
        )
    except ActionRefused as error:
        # The page may now show the other form (the state changed meanwhile): say it on top.
        flash(str(error), "error")
        return _render_site(site, 422, suspend=form)
    return _done(f"/{site.slug}/ is suspended: visitors see “temporarily unavailable”.", site)


@bp.post("/sites/<int:site_id>/unsuspend")
def unsuspend_site(site_id: int):
    site = db.get_or_404(Site, site_id)
    form = forms.ReasonForm()
    if not form.validate_on_submit():
        return _render_site(site, 422, unsuspend=form)
    try:
        status = services.unsuspend_site(current_user, site, reason=form.reason.data)
    except ActionRefused as error:
        # The page may now show the other form (the state changed meanwhile): say it on top.
        flash(str(error), "error")
        return _render_site(site, 422, unsuspend=form)
    return _done(f"/{site.slug}/ is back online ({status}).", site)


@bp.post("/sites/<int:site_id>/transfer")
def transfer_site(site_id: int):
    site = db.get_or_404(Site, site_id)
    form = forms.TransferForm()
    if not form.validate_on_submit():
        return _render_site(site, 422, transfer=form)
    try:
        owner = services.transfer_site(current_user, site, email=form.email.data)
    except ActionRefused as error:
        db.session.rollback()
        form.email.errors.append(str(error))
        if site.owner_id is None:  # the page shows no transfer form for a preview
            flash(str(error), "error")
        return _render_site(site, 422, transfer=form)
    return _done(f"/{site.slug}/ now belongs to {owner.email}.", site)


# --- customers, subscriptions, orders, webhooks, emails -----------------------------------------


@bp.post("/customers/<int:user_id>/resend-verification")
def resend_verification(user_id: int):
    user = db.get_or_404(User, user_id)
    try:
        services.resend_verification(current_user, user)
    except ActionRefused as error:
        flash(str(error), "info")
        return see_other(url_for("admin.customer_detail", user_id=user.id))
    flash(f"A new verification link is on its way to {user.email}.", "success")
    return see_other(url_for("admin.customer_detail", user_id=user.id))


@bp.post("/subscriptions/<int:subscription_id>/cancel")
def cancel_subscription(subscription_id: int):
    subscription = db.get_or_404(Subscription, subscription_id)
    form = forms.CancelSubscriptionForm()
    if form.validate_on_submit():
        try:
            result = services.cancel_subscription(
                current_user,
                subscription,
                at_period_end=form.at_period_end.data == "1",
                reason=form.reason.data,
            )
        except ActionRefused as error:
            db.session.rollback()
            form.reason.errors.append(str(error))
        else:
            flash(f"Subscription #{subscription.id}: {result}.", "success")
            return see_other(url_for("admin.subscription_detail", subscription_id=subscription.id))
    return render_template(
        "admin/subscription.html",
        **routes.subscription_context(subscription),
        form=form,
    ), 422


@bp.post("/orders/<int:order_id>/refund")
def refund_order(order_id: int):
    order = db.get_or_404(Order, order_id)
    form = forms.RefundForm()
    if form.validate_on_submit():
        try:
            result = services.refund_order(current_user, order, reason=form.reason.data)
        except ActionRefused as error:
            db.session.rollback()
            form.reason.errors.append(str(error))
        else:
            flash(f"Order #{order.id}: {result}.", "success")
            return see_other(url_for("admin.order_detail", order_id=order.id))
    return render_template("admin/order.html", **routes.order_context(order), form=form), 422


@bp.post("/webhooks/<int:event_id>/reprocess")
def reprocess_webhook(event_id: int):
    event = db.get_or_404(WebhookEvent, event_id)
    message = services.reprocess_webhook(current_user, event)
    if event.error or message.startswith("not re-processed"):
        flash(f"Re-processing failed: {(event.error or message)[:300]}", "error")
    else:
        flash(f"Re-processed: {message}.", "success")
    return see_other(url_for("admin.webhook_detail", event_id=event.id))


@bp.post("/emails/<int:email_id>/resend")
def resend_email(email_id: int):
    email = db.get_or_404(OutboxEmail, email_id)
    copy = services.resend_email(current_user, email)
    flash(f"A copy is queued for {email.to}.", "success")
    return see_other(url_for("admin.email_detail", email_id=copy.id))

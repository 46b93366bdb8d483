"""Owner pages for edit requests (CONTRACT §4) and the preview of drafts (/preview/<token>/…).

Each view: load → authorize → form → service → 303 with a flash, or the page again with the
messages (422, 409 for a stale or repeated action); the request commits once, in
lavish/transaction.py."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import sqlalchemy as sa
from flask import abort, current_app, flash, render_template, request, url_for
from flask_login import current_user, login_required

from lavish.edits import bp, drafts, services
from lavish.edits.attachments import MAX_ATTACHMENTS, AttachmentError, CheckedImage, check_image
from lavish.edits.forms import ApproveForm, CommentForm, EmptyForm, NewRequestForm
from lavish.extensions import db
from lavish.hosting.serving import Hosting, serve_file
from lavish.htmx import see_other
from lavish.models import EditRequest, Site


def _owner_sites() -> list[Site]:
    return db.session.scalars(
        sa.select(Site).where(Site.owner_id == current_user.id).order_by(Site.business_name)
    ).all()


def _live_url(site: Site, page: str = "") -> str:
    from lavish.accounts.services import live_url

    return live_url(site) + page


def _new_form(sites: list[Site]) -> NewRequestForm:
    form = NewRequestForm()
    form.site.choices = [(s.slug, s.business_name) for s in sites]
    chosen = form.site.data or request.args.get("site")
    site = next((s for s in sites if s.slug == chosen), sites[0] if len(sites) == 1 else None)
    if site is not None:
        form.site.data = site.slug
        form.page.choices = [("", "Any page")] + [(p, p) for p in drafts.html_pages(site)]
    return form


def _list_page(form: NewRequestForm, sites: list[Site], status: int = 200, error: str = ""):
    return render_template(
        "edits/list.html",
        form=form,
        sites=sites,
        requests=services.owner_requests(current_user),
        editable={s.id: services.editable_problem(s) for s in sites},
        error=error,
        max_attachments=MAX_ATTACHMENTS,
    ), status


@bp.get("/customer/edit-requests")
@login_required
def index():
    sites = _owner_sites()
    return _list_page(_new_form(sites), sites)


def _checked_attachments(form: NewRequestForm) -> list[CheckedImage]:
    files = [f for f in request.files.getlist("attachments") if f and f.filename]
    if len(files) > MAX_ATTACHMENTS:
        raise AttachmentError(f"Attach at most {MAX_ATTACHMENTS} images.")
    limit = current_app.config["EDIT_ATTACHMENT_MAX_BYTES"]
    images = []
    for upload in files:
        raw = upload.stream.read(limit + 1)
        images.append(check_image(upload.filename, raw))
    return images


@bp.post("/customer/edit-requests")
@login_required
def create():
    sites = _owner_sites()
    form = _new_form(sites)
    site = next((s for s in sites if s.slug == form.site.data), None)
    if not form.validate_on_submit():
        return _list_page(form, sites, 422)
    if site is None:
        form.site.errors = ["Choose one of your sites."]
        return _list_page(form, sites, 422)
    page = form.page.data or ""
    if page and page not in drafts.html_pages(site):
        form.page.errors = ["Choose one of the site's pages."]
        return _list_page(form, sites, 422)
    try:
        images = _checked_attachments(form)
        req = services.create_request(
            current_user, site, description=form.description.data, page=page, images=images
        )
    except AttachmentError as exc:
        db.session.rollback()
        return _list_page(form, sites, 422, error=str(exc))
    except services.EditError as exc:
        db.session.rollback()
        return _list_page(form, sites, 422, error=str(exc))
    flash("Thank you: we have your request and will prepare a draft for you to approve.", "success")
    return see_other(url_for("edits.detail", request_id=req.id))


def _own_request_or_404(request_id: int) -> EditRequest:
    req = services.owner_request(current_user, request_id)
    if req is None:
        abort(404)
    return req


def _detail_page(req: EditRequest, status: int = 200, *, comment_form=None, error: str = ""):
    changes = services.review_changes(req) if req.status == "ready_for_review" else []
    page = req.page or next((c.path for c in changes if c.path.endswith(".html")), "index.html")
    if page == "index.html":
        page = ""
    return render_template(
        "edits/detail.html",
        req=req,
        changes=changes,
        page=page,
        live_url=_live_url(req.site, page),
        preview_url=(
            url_for("edits.preview", token=req.preview_token, path=page)
            if req.preview_token
            else None
        ),
        approve_form=ApproveForm(revision=req.revision),
        comment_form=comment_form or CommentForm(),
        empty_form=EmptyForm(),
        undo_problem=services.undo_problem(req, current_user)
        if req.status == "published"
        else None,
        error=error,
    ), status


@bp.get("/customer/edit-requests/<int:request_id>")
@login_required
def detail(request_id: int):
    return _detail_page(_own_request_or_404(request_id))


def _refused(req: EditRequest, exc: services.EditError):
    db.session.rollback()
    db.session.refresh(req)
    status = 409 if isinstance(exc, services.Conflict) else 422
    return _detail_page(req, status, error=str(exc))


def _back(req: EditRequest, message: str, category: str = "success"):
    flash(message, category)
    return see_other(url_for("edits.detail", request_id=req.id))


@bp.post("/customer/edit-requests/<int:request_id>/approve")
@login_required
def approve(request_id: int):
    req = _own_request_or_404(request_id)
    form = ApproveForm()
    if not form.validate_on_submit():
        return _detail_page(req, 409, error="Approve the draft shown on this page.")
    try:
        outcome = services.approve(req, current_user, revision=form.revision.data)
    except services.EditError as exc:
        return _refused(req, exc)
    if outcome == "needs_staff":
        return _back(
            req, "The site changed since this draft was made; our team will redo it.", "info"
        )
    if outcome == "already":
        return _back(req, "This change is approved already.", "info")
    return _back(req, "Your change is live.")


@bp.post("/customer/edit-requests/<int:request_id>/request-changes")
@login_required
def request_changes(request_id: int):
    req = _own_request_or_404(request_id)
    form = CommentForm()
    if not form.validate_on_submit():
        return _detail_page(req, 422, comment_form=form)
    try:
        services.request_changes(req, current_user, form.comment.data)
    except services.EditError as exc:
        return _refused(req, exc)
    return _back(req, "Thank you: we are preparing a new draft.")


def _confirmed_action(
    request_id: int, action: Callable[..., object], message: str, category: str = "success"
):
    """A button with nothing but the CSRF token (cancel, undo): the service, then back."""
    req = _own_request_or_404(request_id)
    if not EmptyForm().validate_on_submit():
        abort(400)
    try:
        action(req, current_user)
    except services.EditError as exc:
        return _refused(req, exc)
    return _back(req, message, category)


@bp.post("/customer/edit-requests/<int:request_id>/cancel")
@login_required
def cancel(request_id: int):
    return _confirmed_action(request_id, services.cancel, "The request is cancelled.", "info")


@bp.post("/customer/edit-requests/<int:request_id>/undo")
@login_required
def undo(request_id: int):
    return _confirmed_action(
        request_id, services.undo, "Undone: the site is back as it was before this change."
    )


# --- previews ---------------------------------------------------------------------------------


def _previews() -> Hosting:
    root = Path(current_app.config["SITES_ROOT"]).resolve()
    return Hosting(live=str(drafts.previews_dir(root)))


@bp.route("/preview/<token>/", defaults={"path": ""}, methods=["GET", "HEAD"])
@bp.route("/preview/<token>/<path:path>", methods=["GET", "HEAD"])
def preview(token: str, path: str):
    """A draft, served from disk like a live site (Nginx serves the same tree): the link
    exists only while the request is open and the preview not expired."""
    if len(token) != 43 or not token.replace("-", "").replace("_", "").isalnum():
        abort(404)
    response = serve_file(request, _previews(), token, path)
    if response is None or (response.status_code == 404 and not drafts.preview_exists(token)):
        abort(404)
    if response.status_code == 301:
        response.headers["Location"] = "/preview" + response.headers["Location"]
    response.headers["X-Robots-Tag"] = "noindex"
    response.headers["Cache-Control"] = "no-store"
    # A draft is the owner's site, not the portal: no access to the portal's origin.
    response.headers["Content-Security-Policy"] = "sandbox allow-popups allow-forms"
    return response


@bp.route("/preview/<token>", methods=["GET", "HEAD"])
def preview_root(token: str):
    return see_other(url_for("edits.preview", token=token, path=""))

"""Staff pages for edit requests: /admin/edit-requests (queue with filters and the SLA) and a
detail page with the agent's runs and the actions (rerun, edit the draft's files, send for
review, ask the owner, cancel with a message, undo). Every action is audited."""

from __future__ import annotations

import tempfile
from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa
from flask import abort, current_app, flash, jsonify, render_template, request, url_for
from flask_login import current_user
from sqlalchemy.orm import joinedload

from lavish import audit
from lavish.background import enqueue_after_commit
from lavish.clock import utcnow
from lavish.edits import admin_bp, drafts, policy, services
from lavish.edits.agents import AGENT_NAMES
from lavish.edits.blocks import FileEdit, edit_from_json
from lavish.edits.forms import EmptyForm, RerunForm, StaffMessageForm
from lavish.extensions import db, login_manager
from lavish.hosting import publisher
from lavish.hosting.layout import sites_root
from lavish.htmx import see_other
from lavish.models import EditRequest, EditStatus, Site
from lavish.models.edits import STATUS_LABELS

PAGE_SIZE = 50
MAX_EDITABLE_BYTES = 400_000


@admin_bp.before_request
def staff_only():
    if not current_user.is_authenticated:
        if request.path.endswith(".json"):
            return jsonify(error="Sign in as staff to read this."), 401
        return login_manager.unauthorized()
    if not current_user.is_admin:
        abort(403)
    return None


def sla_deadline():
    return utcnow() - timedelta(hours=current_app.config["EDIT_REQUEST_SLA_HOURS"])


def open_counts() -> dict[str, int]:
    """For the dashboard: open requests and how many are past the SLA."""
    row = db.session.execute(
        sa.select(
            sa.func.count(EditRequest.id),
            sa.func.count(EditRequest.id).filter(EditRequest.created_at < sla_deadline()),
        ).where(EditRequest.is_open)
    ).one()
    return {"open": row[0], "past_sla": row[1]}


@admin_bp.app_template_global("edit_request_counts")
def _edit_request_counts() -> dict[str, int]:
    return open_counts()


@admin_bp.get("/")
def queue():
    status = request.args.get("status", "open")
    site_slug = request.args.get("site", "").strip()
    age = request.args.get("age", "")
    before_id = request.args.get("before", type=int)
    query = (
        sa.select(EditRequest)
        # One query for the rows with their site and owner (many-to-one joins on primary keys).
        .options(joinedload(EditRequest.site), joinedload(EditRequest.owner))
        .order_by(EditRequest.id.desc())
        .limit(PAGE_SIZE + 1)
    )
    if status == "open":
        query = query.where(EditRequest.is_open)
    elif status in STATUS_LABELS:
        query = query.where(EditRequest.status == status)
    if site_slug:
        query = query.join(Site, Site.id == EditRequest.site_id).where(Site.slug == site_slug)
    if age == "past_sla":
        query = query.where(EditRequest.created_at < sla_deadline())
    if before_id:
        query = query.where(EditRequest.id < before_id)
    rows = db.session.scalars(query).all()
    more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    return render_template(
        "edits_admin/queue.html",
        rows=rows,
        more=more,
        status=status,
        site_slug=site_slug,
        age=age,
        statuses=STATUS_LABELS,
        deadline=sla_deadline(),
        sla_hours=current_app.config["EDIT_REQUEST_SLA_HOURS"],
        now=utcnow(),
        counts=open_counts(),
    )


def _request_or_404(request_id: int) -> EditRequest:
    req = db.session.get(EditRequest, request_id)
    if req is None:
        abort(404)
    return req


def _editable_files(req: EditRequest) -> dict[str, str]:
    """The text files a staff member may edit in the browser: the draft's (else the live
    version's) changed files, the page named, and the home page."""
    site = req.site
    version = req.draft_version or site.live_version
    if version is None:
        return {}
    folder = drafts.htdocs_of(site, version)
    wanted = list(req.changed_files or [])
    for page in (req.page, "index.html"):
        if page and page not in wanted:
            wanted.append(page)
    wanted += [p for p in request.args.getlist("file") if p not in wanted]
    paths = [p for p in wanted if policy.is_text_path(p) and not policy.name_problem(p)]
    texts = drafts.read_text_files(folder, paths)
    return {p: t for p, t in texts.items() if len(t) <= MAX_EDITABLE_BYTES}


@admin_bp.get("/<int:request_id>")
def detail(request_id: int, status: int = 200, error: str = ""):
    req = _request_or_404(request_id)
    changes = services.review_changes(req) if req.draft_version_id else []
    return render_template(
        "edits_admin/detail.html",
        req=req,
        changes=changes,
        files=_editable_files(req),
        all_files=drafts.list_files(drafts.htdocs_of(req.site, req.site.live_version))
        if req.site.live_version
        else [],
        form=EmptyForm(),
        rerun_form=RerunForm(),
        message_form=StaffMessageForm(),
        preview_url=url_for("edits.preview", token=req.preview_token, path=req.page)
        if req.preview_token
        else None,
        undo_problem=services.undo_problem(req, current_user)
        if req.status == "published"
        else None,
        deadline=sla_deadline(),
        error=error,
    ), status


def _back(req: EditRequest, message: str, category: str = "success"):
    flash(message, category)
    return see_other(url_for("edits_admin.detail", request_id=req.id))


def _refused(req: EditRequest, exc: Exception):
    db.session.rollback()
    status = 409 if isinstance(exc, services.Conflict) else 422
    return detail(req.id, status=status, error=str(exc))


@admin_bp.post("/<int:request_id>/rerun")
def rerun(request_id: int):
    req = _request_or_404(request_id)
    form = RerunForm()
    if not form.validate_on_submit():
        abort(400)
    if req.site.status != "active":
        return _refused(req, services.Conflict("The site is not active; drafting is paused."))
    if form.note.data:
        services.comment(req, current_user, form.note.data)
    agent = form.agent.data or None
    if agent and agent not in AGENT_NAMES:
        return _refused(req, services.EditError("Unknown agent."))
    if req.status == EditStatus.READY_FOR_REVIEW:
        services.transition(req, EditStatus.NEEDS_STAFF, actor=current_user, body="Rerun by staff")
    if not services.start_drafting(req, actor=current_user, body=form.note.data or "Rerun"):
        return _refused(req, services.Conflict("This request cannot be drafted again now."))
    enqueue_after_commit("jobs.edits.draft_request", req.id, agent)
    return _back(req, "The agent runs again.")


@admin_bp.post("/<int:request_id>/files")
def save_files(request_id: int):
    """Staff's in-browser edit: one text area per file, saved as a new draft revision."""
    req = _request_or_404(request_id)
    if not EmptyForm().validate_on_submit():
        abort(400)
    if not req.is_open or req.status == EditStatus.APPROVED:
        return _refused(req, services.Conflict("This request is closed."))
    base = req.site.live_version
    live_dir = drafts.htdocs_of(req.site, base)
    paths = drafts.list_files(live_dir)
    files = drafts.read_text_files(live_dir, [p for p in paths if policy.is_text_path(p)])
    edits: list = []
    for path in _editable_files(req):
        submitted = request.form.get(f"file:{path}")
        if submitted is None:
            continue
        submitted = submitted.replace("\r\n", "\n")
        if submitted != files.get(path):
            edits.append(FileEdit(path, text=submitted))
    # Images of an earlier draft stay in the revision.
    edits += _previous_image_edits(req)
    applied = services.apply_edits(req, edits, paths, files)
    if applied.problems:
        return _refused(req, services.EditError("; ".join(applied.problems[:5])))
    if req.status not in (EditStatus.DRAFTING, EditStatus.NEEDS_STAFF):
        if req.status == EditStatus.READY_FOR_REVIEW:
            services.transition(req, EditStatus.NEEDS_STAFF, actor=current_user, body="Staff edit")
        elif not services.hand_to_staff(req, "Staff edit", actor=current_user):
            return _refused(req, services.Conflict("This request changed meanwhile."))
    services.make_draft(req, applied.changes, edits, base=base, actor=current_user)
    audit.record(current_user, "edit_request.staff_edit", req,
                 after={"revision": req.revision, "files": sorted(applied.changes)})  # fmt: skip
    return _back(req, f"Saved as draft revision {req.revision}.")


@admin_bp.post("/<int:request_id>/zip")
def upload_zip(request_id: int):
    """A zip of the whole site, saved as the next draft revision (checked like every upload:
    names, symlinks, sizes; and the DOM policy on the pages it changes)."""
    req = _request_or_404(request_id)
    if not EmptyForm().validate_on_submit():
        abort(400)
    upload = request.files.get("archive")
    if upload is None or not upload.filename:
        return _refused(req, services.EditError("Choose a zip file."))
    if not req.is_open or req.status == EditStatus.APPROVED:
        return _refused(req, services.Conflict("This request is closed."))
    site = req.site
    base = site.live_version
    live_dir = drafts.htdocs_of(site, base)
    root = sites_root()
    publisher.ensure_root(root)
    with tempfile.TemporaryDirectory(dir=root / "tmp") as work:
        try:
            folder = publisher.extract_zip(upload.stream, Path(work))
        except publisher.PublishError as exc:
            return _refused(req, services.EditError(str(exc)))
        live_paths = set(drafts.list_files(live_dir))
        changes: dict[str, bytes | None] = {}
        problems: list[str] = []
        for path in drafts.list_files(folder):
            data = (folder / path).read_bytes()
            old = (live_dir / path).read_bytes() if path in live_paths else None
            if data == old:
                continue
            changes[path] = data
            if policy.is_text_path(path):
                problems += policy.content_problems(
                    path, (old or b"").decode("utf-8", "replace"), data.decode("utf-8", "replace")
                )
        for path in live_paths - set(drafts.list_files(folder)):
            changes[path] = None
    if problems:
        return _refused(req, services.EditError("; ".join(problems[:5])))
    if not changes:
        return _refused(req, services.EditError("The zip is the same as the live site."))
    if req.status == EditStatus.READY_FOR_REVIEW:
        services.transition(req, EditStatus.NEEDS_STAFF, actor=current_user, body="Staff upload")
    elif req.status not in (EditStatus.DRAFTING, EditStatus.NEEDS_STAFF):
        services.hand_to_staff(req, "Staff upload", actor=current_user)
    try:
        services.make_draft(req, changes, [], base=base, actor=current_user)
    except publisher.PublishError as exc:
        return _refused(req, services.EditError(str(exc)))
    audit.record(current_user, "edit_request.staff_upload", req,
                 after={"revision": req.revision, "files": sorted(changes)[:50]})  # fmt: skip
    return _back(req, f"Saved the zip as draft revision {req.revision}.")


def _previous_image_edits(req: EditRequest) -> list:
    found = []
    for data in req.edits or []:
        edit = edit_from_json(data)
        if isinstance(edit, FileEdit) and edit.attachment_id is not None:
            found.append(edit)
    return found


@admin_bp.post("/<int:request_id>/send-for-review")
def send_for_review(request_id: int):
    req = _request_or_404(request_id)
    if not EmptyForm().validate_on_submit():
        abort(400)
    try:
        if not services.send_for_review(
            req, actor=current_user, expect=(EditStatus.NEEDS_STAFF, EditStatus.DRAFTING)
        ):
            raise services.Conflict("Only a request with staff or drafting can be sent.")
    except services.EditError as exc:
        return _refused(req, exc)
    return _back(req, "Sent to the owner for review.")


@admin_bp.post("/<int:request_id>/ask")
def ask(request_id: int):
    req = _request_or_404(request_id)
    form = StaffMessageForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        services.ask_owner(req, current_user, form.message.data or "")
    except services.EditError as exc:
        return _refused(req, exc)
    return _back(req, "Question sent to the owner.")


@admin_bp.post("/<int:request_id>/cancel")
def cancel(request_id: int):
    req = _request_or_404(request_id)
    form = StaffMessageForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        services.cancel(req, current_user, message=form.message.data or "")
    except services.EditError as exc:
        return _refused(req, exc)
    return _back(req, "Cancelled; the owner was told.", "info")


@admin_bp.post("/<int:request_id>/undo")
def undo(request_id: int):
    req = _request_or_404(request_id)
    if not EmptyForm().validate_on_submit():
        abort(400)
    try:
        services.undo(req, current_user)
    except services.EditError as exc:
        return _refused(req, exc)
    return _back(req, "Undone.")

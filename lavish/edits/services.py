"""Edit requests: the state machine and every change to a request. Services change rows in the
caller's transaction and flush; the caller commits. Files written to disk before a commit are
new immutable versions (unused if the transaction rolls back); live pointers and previews follow
the commit.

States: submitted → drafting → ready_for_review → approved → published (→ undone);
ready_for_review → changes_requested → drafting; drafting → needs_staff → drafting |
ready_for_review; any open state → cancelled. Each transition is one conditional UPDATE on the
state it leaves, so two tabs, a double click or a job racing an owner have one effect.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import joinedload

from lavish import audit
from lavish.background import enqueue_after_commit
from lavish.clock import utcnow
from lavish.edits import attachments as attachment_store
from lavish.edits import diffs, drafts, policy
from lavish.edits.agents import AgentRequest, AgentResult, AttachmentRef, get_agent
from lavish.edits.attachments import CheckedImage
from lavish.edits.blocks import Edit, FileEdit, TextEdit, apply_text_edits, edit_from_json
from lavish.extensions import db
from lavish.hosting import services as hosting
from lavish.hosting.publisher import PublishError
from lavish.mail.outbox import queue_mail
from lavish.models import (
    AgentRun,
    EditAttachment,
    EditEvent,
    EditRequest,
    EditStatus,
    Site,
    SiteStatus,
    SiteVersion,
    User,
)

log = logging.getLogger(__name__)

S = EditStatus
TRANSITIONS: dict[EditStatus, set[EditStatus]] = {
    S.SUBMITTED: {S.DRAFTING, S.NEEDS_STAFF, S.CANCELLED},
    S.DRAFTING: {S.READY_FOR_REVIEW, S.NEEDS_STAFF, S.CANCELLED},
    S.NEEDS_STAFF: {S.DRAFTING, S.READY_FOR_REVIEW, S.CANCELLED},
    S.READY_FOR_REVIEW: {S.APPROVED, S.CHANGES_REQUESTED, S.CANCELLED, S.NEEDS_STAFF},
    S.CHANGES_REQUESTED: {S.DRAFTING, S.NEEDS_STAFF, S.CANCELLED},
    S.APPROVED: {S.PUBLISHED, S.NEEDS_STAFF, S.CANCELLED},
    S.PUBLISHED: {S.UNDONE},
    S.UNDONE: set(),
    S.CANCELLED: set(),
}
DRAFT_JOB = "jobs.edits.draft_request"
DESCRIPTION_MAX = 2000
COMMENT_MAX = 1000


class EditError(ValueError):
    """Refused with a message for the owner or staff; nothing changed."""


class Conflict(EditError):
    """The request is not (or no longer) in a state that allows this (HTTP 409)."""


class LimitReached(EditError):
    """Over EDIT_REQUESTS_OPEN_MAX or EDIT_REQUESTS_PER_MONTH (HTTP 422)."""


class SiteNotEditable(EditError):
    """The site is not active (suspended, unpaid): the message says how to pay."""


# --- transitions ------------------------------------------------------------------------------


def transition(
    req: EditRequest,
    to: EditStatus,
    *,
    actor: User | None = None,
    body: str = "",
    expect: tuple[EditStatus, ...] | None = None,
    **values: Any,
) -> bool:
    """Move `req` to `to` if it is still in one of the states it may leave from (`expect`, else
    any state allowed to go to `to`): one conditional UPDATE. Returns False, changing nothing,
    when another transaction moved it first. Records the event and the audit entry."""
    sources = expect or tuple(state for state, targets in TRANSITIONS.items() if to in targets)
    for source in sources:
        if to not in TRANSITIONS[source]:
            raise ValueError(f"{source} → {to} is not a transition of an edit request")
    now = utcnow()
    result = db.session.execute(
        sa.update(EditRequest)
        .where(EditRequest.id == req.id, EditRequest.status.in_([str(s) for s in sources]))
        .values(status=str(to), updated_at=now, **values)
        .returning(EditRequest.status)
        .execution_options(synchronize_session=False)
    )
    if result.first() is None:
        db.session.refresh(req)
        return False
    before = req.status
    db.session.refresh(req)
    db.session.add(
        EditEvent(
            request_id=req.id,
            actor_id=actor.id if actor is not None else None,
            kind="transition",
            from_status=before,
            to_status=str(to),
            body=body,
        )
    )
    audit.record(
        actor, f"edit_request.{to}", req, before={"status": before}, after={"status": str(to)}
    )
    return True


def comment(req: EditRequest, actor: User | None, body: str) -> None:
    db.session.add(EditEvent(request_id=req.id, actor_id=actor.id if actor else None,
                             kind="comment", body=body))  # fmt: skip


# --- asking -----------------------------------------------------------------------------------


def editable_problem(site: Site) -> str | None:
    """Why the owner cannot ask for a change now, or None."""
    if site.status == SiteStatus.ACTIVE:
        return None
    if site.status == SiteStatus.SUSPENDED:
        return "This site is offline: pay for hosting and your change requests resume."
    return "Edit requests come with hosting: activate hosting for this site first."


def _month_start(now: datetime) -> datetime:
    return now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def _next_month(now: datetime) -> datetime:
    start = _month_start(now)
    return (start + timedelta(days=32)).replace(day=1)


def check_limits(site: Site) -> None:
    """LimitReached naming the limit and when it frees up. The site's row is locked first
    (PostgreSQL), so two submissions at once count each other."""
    db.session.execute(sa.select(Site.id).where(Site.id == site.id).with_for_update())
    config = current_app.config
    open_max = config["EDIT_REQUESTS_OPEN_MAX"]
    open_count = db.session.scalar(
        sa.select(sa.func.count(EditRequest.id)).where(
            EditRequest.site_id == site.id,
            EditRequest.is_open,
        )
    )
    if open_count >= open_max:
        raise LimitReached(
            f"This site has {open_count} open requests, the most at once ({open_max}). "
            "One frees up as soon as a request is published or cancelled."
        )
    now = utcnow()
    per_month = config["EDIT_REQUESTS_PER_MONTH"]
    this_month = db.session.scalar(
        sa.select(sa.func.count(EditRequest.id)).where(
            EditRequest.site_id == site.id, EditRequest.created_at >= _month_start(now)
        )
    )
    if this_month >= per_month:
        frees = _next_month(now)
        raise LimitReached(
            f"This site has had {this_month} requests this month, the most per month "
            f"({per_month}). You can ask again from {frees:%B} 1."
        )


def _title(description: str) -> str:
    first = " ".join(description.split())
    return first if len(first) <= 80 else first[:79].rstrip() + "…"


def create_request(
    owner: User,
    site: Site,
    *,
    description: str,
    page: str = "",
    images: list[CheckedImage] | None = None,
) -> EditRequest:
    """A new request (checked images already decoded and re-encoded); queues the receipt mail
    and, after the commit, the drafting job."""
    if site.owner_id != owner.id:
        raise EditError("Not your site.")
    if problem := editable_problem(site):
        raise SiteNotEditable(problem)
    description = description.strip()
    if not description:
        raise EditError("Describe the change you want.")
    if len(description) > DESCRIPTION_MAX:
        raise EditError(f"Use at most {DESCRIPTION_MAX} characters.")
    check_limits(site)
    req = EditRequest(
        site_id=site.id,
        owner_id=owner.id,
        title=_title(description),
        description=description,
        page=page,
        status=EditStatus.SUBMITTED,
        base_version_id=site.live_version_id,
    )
    db.session.add(req)
    db.session.flush()
    for image in images or []:
        stored = attachment_store.store(image)
        db.session.add(
            EditAttachment(
                request_id=req.id,
                filename=image.filename,
                stored_name=stored,
                image_format=image.image_format,
                width=image.width,
                height=image.height,
                size=len(image.data),
            )
        )
    db.session.add(
        EditEvent(request_id=req.id, actor_id=owner.id, kind="transition", to_status="submitted")
    )
    audit.record(owner, "edit_request.submitted", req, after={"site": site.slug})
    _mail(req, "edit_request_received")
    enqueue_after_commit(DRAFT_JOB, req.id)
    db.session.flush()
    return req


def _mail(req: EditRequest, template: str, **extra: Any) -> None:
    from lavish.urls import public_url_for

    owner = req.owner or db.session.get(User, req.owner_id)
    site = req.site or db.session.get(Site, req.site_id)
    context = {
        "name": owner.name,
        "site_name": site.business_name,
        "request_id": req.id,
        "title": req.title,
        "description": req.description,
        "request_url": public_url_for("edits.detail", request_id=req.id),
        **extra,
    }
    queue_mail(owner.email, template, context)


# --- drafting ---------------------------------------------------------------------------------


def _live_inputs(site: Site, version: SiteVersion) -> tuple[list[str], dict[str, str]]:
    folder = drafts.htdocs_of(site, version)
    paths = drafts.list_files(folder)
    texts = drafts.read_text_files(folder, [p for p in paths if policy.is_text_path(p)])
    return paths, texts


def agent_request(req: EditRequest, paths: list[str], files: dict[str, str]) -> AgentRequest:
    comments = [e.body for e in req.events if e.kind == "comment" and e.body]
    return AgentRequest(
        description=req.description,
        page=req.page,
        comments=comments,
        business_name=req.site.business_name,
        files=files,
        paths=paths,
        attachments=[
            AttachmentRef(
                a.id, a.filename, a.image_format, attachment_store.FORMATS[a.image_format]
            )
            for a in req.attachments
        ],
    )


@dataclass
class Applied:
    changes: dict[str, bytes | None]  # path → new bytes (None: deleted)
    problems: list[str]


def apply_edits(req: EditRequest, edits: list[Edit], paths: list[str], files: dict[str, str]):
    """The changed files of `edits` over the given version, with every policy problem."""
    problems: list[str] = []
    existing = set(paths)
    text_edits = [e for e in edits if isinstance(e, TextEdit)]
    file_edits = [e for e in edits if isinstance(e, FileEdit)]
    for edit in text_edits:
        if problem := policy.path_problem(edit.path, existing):
            problems.append(problem)
    changed_texts, misses = apply_text_edits(files, text_edits)
    problems.extend(str(miss) for miss in misses)
    changes: dict[str, bytes | None] = {}
    for path, text in changed_texts.items():
        problems.extend(policy.content_problems(path, files[path], text))
        changes[path] = text.encode("utf-8")
    by_id = {a.id: a for a in req.attachments}
    for edit in file_edits:
        if edit.delete:
            if edit.path not in existing:
                problems.append(f"{edit.path}: not a file of the site")
            changes[edit.path] = None
            continue
        if edit.text is not None:  # staff's in-browser edit of a text file
            if problem := policy.path_problem(edit.path, existing):
                problems.append(problem)
                continue
            problems.extend(policy.content_problems(edit.path, files.get(edit.path, ""), edit.text))
            changes[edit.path] = edit.text.encode("utf-8")
            continue
        attachment = by_id.get(edit.attachment_id or -1)
        if attachment is None:
            problems.append(f"{edit.path}: the attachment is not one of this request's")
            continue
        if problem := policy.path_problem(edit.path, existing, image=True):
            problems.append(problem)
            continue
        data = attachment_store.read(attachment.stored_name)
        if edit.convert_to and edit.convert_to != attachment.image_format:
            data = attachment_store.convert(data, edit.convert_to)
        changes[edit.path] = data
    config = current_app.config
    problems.extend(
        policy.size_problems(
            {p: d for p, d in changes.items() if d is not None},
            max_file_bytes=config["EDIT_MAX_FILE_BYTES"],
            max_draft_bytes=config["EDIT_MAX_DRAFT_BYTES"],
        )
    )
    if not changes and not problems:
        problems.append("the edits change nothing")
    return Applied(changes, problems)


def record_run(req: EditRequest, agent_name: str, result: AgentResult, outcome: str,
               duration_ms: int, note: str = "") -> AgentRun:  # fmt: skip
    run = AgentRun(
        request_id=req.id,
        agent=agent_name,
        model=result.model[:100],
        outcome=outcome,
        note=note,
        prompt_bytes=result.prompt_bytes,
        answer_bytes=result.answer_bytes,
        input_tokens=result.input_tokens,
        output_tokens=result.output_tokens,
        retries=result.retries,
        duration_ms=duration_ms,
        errors=result.errors or None,
        log=result.log[:200_000],
    )
    db.session.add(run)
    return run


def start_drafting(req: EditRequest, *, actor: User | None = None, body: str = "") -> bool:
    """submitted / changes_requested / needs_staff → drafting (the job then runs the agent)."""
    return transition(
        req,
        S.DRAFTING,
        actor=actor,
        body=body,
        expect=(S.SUBMITTED, S.CHANGES_REQUESTED, S.NEEDS_STAFF),
    )


def run_agent(req: EditRequest, *, agent_name: str | None = None) -> str:
    """Run the agent on a request in `drafting` and store its draft or hand it to staff.
    Returns the outcome: 'drafted' | 'needs_staff' | 'skipped'."""
    import time

    if req.status != S.DRAFTING:
        return "skipped"
    site = req.site
    if site.status != SiteStatus.ACTIVE or site.live_version is None:
        return "skipped"  # paused while the site is not active; the sweep resumes it
    agent = get_agent(agent_name)
    paths, files = _live_inputs(site, site.live_version)
    started = time.monotonic()
    try:
        result = agent.draft(agent_request(req, paths, files))
    except Exception as exc:  # an agent bug or an SDK error: staff, with the reason
        log.exception("edit agent %s failed on request %s", agent.name, req.id)
        result = AgentResult.to_staff(f"The agent failed: {exc}", errors=[repr(exc)])
    duration_ms = int((time.monotonic() - started) * 1000)
    if result.needs_staff:
        record_run(req, agent.name, result, "needs_staff", duration_ms, result.needs_staff)
        hand_to_staff(req, result.needs_staff)
        return "needs_staff"
    applied = apply_edits(req, result.edits, paths, files)
    if applied.problems:
        result.errors.extend(applied.problems)
        reason = "The draft failed validation: " + "; ".join(applied.problems[:5])
        record_run(req, agent.name, result, "needs_staff", duration_ms, reason)
        hand_to_staff(req, reason)
        return "needs_staff"
    record_run(req, agent.name, result, "drafted", duration_ms, result.summary[:2000])
    make_draft(req, applied.changes, result.edits, base=site.live_version)
    send_for_review(req, expect=(S.DRAFTING,))
    return "drafted"


def hand_to_staff(req: EditRequest, reason: str, *, actor: User | None = None) -> bool:
    return transition(req, S.NEEDS_STAFF, actor=actor, body=reason, status_reason=reason[:4000])


def make_draft(
    req: EditRequest,
    changes: dict[str, bytes | None],
    edits: list[Edit],
    *,
    base: SiteVersion,
    actor: User | None = None,
) -> SiteVersion:
    """Write a new draft revision of `req` over `base` and its preview."""
    site = req.site
    revision = req.revision + 1
    version = drafts.store_draft(
        site, base, changes, note=f"Draft {revision} of change #{req.id}: {req.title}", actor=actor
    )
    old_token = req.preview_token
    token = drafts.new_token()
    drafts.write_preview(site, version, token)
    if old_token:
        drafts.remove_preview(old_token)
    before = drafts.read_files(drafts.htdocs_of(site, base), changes)
    summary = diffs.summary_text(diffs.describe(before, changes, with_redline=False))
    req.draft_version_id = version.id
    req.base_version_id = base.id
    req.revision = revision
    req.edits = [e.as_json() for e in edits]
    req.changed_files = sorted(changes)
    req.summary = summary
    req.preview_token = token
    req.preview_expires_at = utcnow() + timedelta(days=current_app.config["PREVIEW_DAYS"])
    db.session.flush()
    return version


def send_for_review(
    req: EditRequest, *, actor: User | None = None, expect: tuple[EditStatus, ...] | None = None
) -> bool:
    if req.draft_version_id is None:
        raise Conflict("There is no draft to review yet.")
    if not transition(req, S.READY_FOR_REVIEW, actor=actor, expect=expect, status_reason=""):
        return False
    from lavish.urls import public_url

    _mail(
        req,
        "edit_request_ready",
        summary=req.summary,
        preview_url=public_url(f"/preview/{req.preview_token}/{req.page}"),
    )
    return True


# --- the owner's review -----------------------------------------------------------------------


def request_changes(req: EditRequest, owner: User, text: str) -> None:
    text = text.strip()
    if not text:
        raise EditError("Say what should be different.")
    if len(text) > COMMENT_MAX:
        raise EditError(f"Use at most {COMMENT_MAX} characters.")
    if not transition(req, S.CHANGES_REQUESTED, actor=owner, expect=(S.READY_FOR_REVIEW,)):
        raise Conflict("This request is not waiting for your review.")
    comment(req, owner, text)
    start_drafting(req, actor=None, body="Drafting again with the owner's comment.")
    enqueue_after_commit(DRAFT_JOB, req.id)


def cancel(req: EditRequest, actor: User, *, message: str = "") -> None:
    token = req.preview_token
    if not transition(
        req, S.CANCELLED, actor=actor, body=message, closed_at=utcnow(), preview_token=None
    ):
        raise Conflict("This request can no longer be cancelled.")
    _remove_preview_after_commit(token)
    if actor.id != req.owner_id:
        _mail(req, "edit_request_cancelled", message=message)


def ask_owner(req: EditRequest, actor: User, question: str) -> None:
    """Staff need the owner's input: a comment and a mail (the owner answers by replying or
    by a new request)."""
    question = question.strip()
    if not question:
        raise EditError("Write the question.")
    comment(req, actor, question)
    audit.record(actor, "edit_request.question", req, after={"question": question[:500]})
    _mail(req, "edit_request_question", question=question)


def _remove_preview_after_commit(token: str | None) -> None:
    if token:
        pending: list = db.session.info.setdefault("lavish_edit_previews_to_remove", [])
        pending.append(token)


def approve(req: EditRequest, actor: User, *, revision: int) -> str:
    """Publish the draft the owner saw. Idempotent: a second approval of the same revision
    returns 'already'. Returns 'published' or 'needs_staff' (the edits no longer apply to the
    newer live version: nothing went live)."""
    site = req.site
    if req.status in (S.APPROVED, S.PUBLISHED) and req.revision == revision:
        return "already"
    if req.status != S.READY_FOR_REVIEW:
        raise Conflict("This request has no draft waiting for approval.")
    if req.revision != revision:
        raise Conflict("A newer draft replaced the one you approved; look at it first.")
    if problem := editable_problem(site):
        raise SiteNotEditable(problem)
    if not transition(
        req,
        S.APPROVED,
        actor=actor,
        expect=(S.READY_FOR_REVIEW,),
    ):
        db.session.refresh(req)
        if req.status in (S.APPROVED, S.PUBLISHED) and req.revision == revision:
            return "already"
        raise Conflict("This request changed meanwhile; reload the page.")
    if req.revision != revision:  # a new draft landed between our read and the UPDATE
        raise Conflict("A newer draft replaced the one you approved; look at it first.")
    draft = req.draft_version
    if site.live_version_id != req.base_version_id:
        # Another change went live since the draft was made: redo the edits on it.
        live = site.live_version
        paths, files = _live_inputs(site, live)
        edits = [edit_from_json(e) for e in req.edits or []]
        applied = apply_edits(req, edits, paths, files)
        if applied.problems:
            reason = (
                "Another change went live since this draft was made and its edits no longer "
                "apply: " + "; ".join(applied.problems[:5])
            )
            hand_to_staff(req, reason)
            return "needs_staff"
        draft = make_draft(req, applied.changes, edits, base=live)
    publish_draft(req, draft, actor=actor)
    return "published"


def publish_draft(req: EditRequest, draft: SiteVersion, *, actor: User | None) -> None:
    site = req.site
    previous = site.live_version_id
    draft.draft = False
    draft.note = f"Change #{req.id}: {req.title}"[:500]
    hosting.rollback(site, draft)  # the atomic switch, after the commit
    token = req.preview_token
    transition(
        req,
        S.PUBLISHED,
        actor=actor,
        expect=(S.APPROVED,),
        published_at=utcnow(),
        published_version_id=draft.id,
        previous_version_id=previous,
        closed_at=utcnow(),
        preview_token=None,
    )
    _remove_preview_after_commit(token)
    from lavish.urls import public_url_for

    _mail(req, "edit_request_published", undo_days=current_app.config["EDIT_UNDO_DAYS"],
          undo_url=public_url_for("edits.detail", request_id=req.id) + "#undo")  # fmt: skip


# --- undo -------------------------------------------------------------------------------------


def undo_problem(req: EditRequest, actor: User) -> str | None:
    if req.status != S.PUBLISHED or req.previous_version_id is None:
        return "Only a published change can be undone."
    if not actor.is_admin:
        days = current_app.config["EDIT_UNDO_DAYS"]
        if req.published_at and utcnow() - req.published_at > timedelta(days=days):
            return f"Changes can be undone for {days} days; ask us and we will help."
    touched = set(req.changed_files or [])
    later = db.session.scalars(
        sa.select(EditRequest).where(
            EditRequest.site_id == req.site_id,
            EditRequest.status == S.PUBLISHED,
            EditRequest.published_at > req.published_at,
        )
    ).all()
    for other in later:
        if touched & set(other.changed_files or []):
            return (
                f"A later change (#{other.id}, “{other.title}”) changed the same files; "
                "undo that one first."
            )
    return None


def undo(req: EditRequest, actor: User) -> SiteVersion:
    """A new live version whose touched files are restored from the version before the edit."""
    if problem := undo_problem(req, actor):
        raise Conflict(problem)
    site = req.site
    if not transition(req, S.UNDONE, actor=actor, expect=(S.PUBLISHED,), undone_at=utcnow()):
        raise Conflict("This change was undone already.")
    previous = db.session.get(SiteVersion, req.previous_version_id)
    live = site.live_version
    # None for a file the edit added: the undo deletes it.
    changes = drafts.read_files(drafts.htdocs_of(site, previous), req.changed_files or [])
    version = drafts.store_draft(site, live, changes, note=f"Undo of change #{req.id}", actor=actor)
    version.draft = False
    hosting.rollback(site, version)
    return version


# --- queries ----------------------------------------------------------------------------------


def owner_requests(owner: User, *, limit: int = 50, before_id: int | None = None):
    query = (
        sa.select(EditRequest)
        .where(EditRequest.owner_id == owner.id)
        .options(joinedload(EditRequest.site))
        .order_by(EditRequest.id.desc())
        .limit(limit)
    )
    if before_id:
        query = query.where(EditRequest.id < before_id)
    return db.session.scalars(query).all()


def owner_request(owner: User, request_id: int) -> EditRequest | None:
    """The owner's own request, or None (another owner's is a 404, like a missing one)."""
    req = db.session.get(EditRequest, request_id)
    if req is None or req.owner_id != owner.id:
        return None
    return req


def review_changes(req: EditRequest) -> list[diffs.FileChange]:
    """The verified diff of the current draft against the version it was made from."""
    if req.draft_version_id is None or req.base_version_id is None:
        return []
    site = req.site
    paths = req.changed_files or []
    before = drafts.read_files(drafts.htdocs_of(site, req.base_version), paths)
    after = drafts.read_files(drafts.htdocs_of(site, req.draft_version), paths)
    return diffs.describe(before, after)


def resume_paused() -> int:
    """Requests left waiting while their site was not active: draft them now it is."""
    ids = db.session.scalars(
        sa.select(EditRequest.id)
        .join(Site, Site.id == EditRequest.site_id)
        .where(
            Site.status == SiteStatus.ACTIVE,
            EditRequest.status.in_([str(S.SUBMITTED), str(S.DRAFTING)]),
            EditRequest.updated_at < utcnow() - timedelta(minutes=10),
        )
        .limit(500)
    ).all()
    for request_id in ids:
        enqueue_after_commit(DRAFT_JOB, request_id)
    return len(ids)


def expire_previews() -> int:
    """Previews past PREVIEW_DAYS stop working (the link is removed after the commit)."""
    rows = db.session.execute(
        sa.select(EditRequest.id, EditRequest.preview_token).where(
            EditRequest.preview_token.is_not(None), EditRequest.preview_expires_at < utcnow()
        )
    ).all()
    for request_id, token in rows:
        db.session.execute(
            sa.update(EditRequest).where(EditRequest.id == request_id).values(preview_token=None)
        )
        _remove_preview_after_commit(token)
    return len(rows)


# Previews of published/cancelled requests disappear once that is committed.
from flask_sqlalchemy.session import Session as _FlaskSession  # noqa: E402
from sqlalchemy import event as _event  # noqa: E402


@_event.listens_for(_FlaskSession, "after_commit")
def _remove_previews(session) -> None:
    if session.in_nested_transaction():
        return
    for token in session.info.pop("lavish_edit_previews_to_remove", []):
        try:
            drafts.remove_preview(token)
        except Exception:
            log.exception("could not remove preview %s", token)


@_event.listens_for(_FlaskSession, "after_soft_rollback")
def _forget_previews(session, previous_transaction) -> None:
    if not session.in_transaction():
        session.info.pop("lavish_edit_previews_to_remove", None)


__all__ = ["PublishError"]

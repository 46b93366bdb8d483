"""Feature points of issue 12 that had no test of their own: the staff queue's filters, staff's
rerun / question / undo, previews ending after PREVIEW_DAYS, and paused requests resuming."""

from __future__ import annotations

from datetime import timedelta

from lavish.clock import utcnow
from lavish.edits import services
from lavish.extensions import db
from lavish.hosting import services as hosting
from lavish.models import AuditEntry, EditEvent, EditRequest, SiteStatus

PHONE = "Our new phone number is (213) 555-0199"


def _ask(client, description: str):
    data = {"site": "la-plumbing-pros", "description": description}
    return client.post("/customer/edit-requests", data=data, content_type="multipart/form-data")


def _staff(app, admin, login):
    staff = app.test_client()
    login(admin, test_client=staff)
    return staff


def test_queue_filters_by_status_site_and_age(app, site, signed_in, admin, login):
    app.config["EDIT_AGENT"] = "off"
    assert _ask(signed_in, "An elderly wish").status_code == 303
    old = db.session.scalars(db.select(EditRequest)).one()
    old.created_at -= timedelta(hours=49)
    db.session.commit()
    assert _ask(signed_in, "A fresh wish").status_code == 303
    staff = _staff(app, admin, login)

    def shown(query: str) -> set[str]:
        page = staff.get(f"/admin/edit-requests/?{query}")
        assert page.status_code == 200
        text = page.get_data(as_text=True)
        return {title for title in ("An elderly wish", "A fresh wish") if title in text}

    assert shown("") == {"An elderly wish", "A fresh wish"}
    assert shown("age=past_sla") == {"An elderly wish"}
    assert shown("status=needs_staff") == {"An elderly wish", "A fresh wish"}
    assert shown("status=published") == set()
    assert shown("site=la-plumbing-pros") == {"An elderly wish", "A fresh wish"}
    assert shown("site=another-site") == set()


def test_staff_rerun_question_and_undo(app, site, signed_in, admin, login, outbox):
    app.config["EDIT_AGENT"] = "off"
    _ask(signed_in, PHONE)
    req = db.session.scalars(db.select(EditRequest)).one()
    assert req.status == "needs_staff"
    staff = _staff(app, admin, login)

    unknown = staff.post(f"/admin/edit-requests/{req.id}/rerun", data={"agent": "oracle"})
    assert unknown.status_code == 422
    rerun = staff.post(f"/admin/edit-requests/{req.id}/rerun", data={"agent": "rules"})
    assert rerun.status_code == 303
    db.session.refresh(req)
    assert req.status == "ready_for_review" and req.revision == 1
    # A note goes to the agent as a comment (the rules agent leaves revisions to staff).
    noted = staff.post(f"/admin/edit-requests/{req.id}/rerun", data={"note": "Only the header"})
    assert noted.status_code == 303
    db.session.refresh(req)
    assert req.status == "needs_staff"
    assert "Only the header" in [e.body for e in db.session.scalars(db.select(EditEvent))]
    assert staff.post(f"/admin/edit-requests/{req.id}/send-for-review").status_code == 303

    asked = staff.post(
        f"/admin/edit-requests/{req.id}/ask", data={"message": "Mobile or <b>landline</b>?"}
    )
    assert asked.status_code == 303
    mail = next(m for m in outbox if "A question about your change" in m.subject)
    assert "&lt;b&gt;landline&lt;/b&gt;" in mail.html and "<b>landline" not in mail.html

    approved = signed_in.post(
        f"/customer/edit-requests/{req.id}/approve", data={"revision": req.revision}
    )
    assert approved.status_code == 303
    db.session.refresh(req)
    assert req.status == "published"
    # Staff may undo at any time, past the owner's 30 days.
    req.published_at -= timedelta(days=40)
    db.session.commit()
    assert signed_in.post(f"/customer/edit-requests/{req.id}/undo").status_code == 409
    undone = staff.post(f"/admin/edit-requests/{req.id}/undo")
    assert undone.status_code == 303
    db.session.refresh(req)
    assert req.status == "undone"
    live = signed_in.get("/la-plumbing-pros/contact.html").get_data(as_text=True)
    assert "555-0142" in live and "555-0199" not in live
    actions = {a.action for a in db.session.scalars(db.select(AuditEntry))}
    assert {"edit_request.question", "edit_request.undone"} <= actions


def test_preview_ends_after_preview_days(app, site, signed_in):
    _ask(signed_in, PHONE)
    req = db.session.scalars(db.select(EditRequest)).one()
    token = req.preview_token
    assert signed_in.get(f"/preview/{token}/").status_code == 200
    assert req.preview_expires_at - utcnow() > timedelta(days=29)
    assert services.expire_previews() == 0
    req.preview_expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    assert services.expire_previews() == 1
    db.session.commit()
    db.session.refresh(req)
    assert req.preview_token is None
    assert signed_in.get(f"/preview/{token}/").status_code == 404


def test_paused_request_resumes_when_the_site_is_active(app, site, owner):
    # Submitted just before the site lapsed: the drafting job finds it suspended and waits.
    req = services.create_request(owner, site, description=PHONE, page="", images=[])
    hosting.change_status(site, SiteStatus.SUSPENDED, reason="unpaid")
    db.session.commit()
    db.session.refresh(req)
    assert req.status == "submitted"
    assert services.resume_paused() == 0  # nothing resumes while the site is offline

    hosting.change_status(site, SiteStatus.ACTIVE)
    req.updated_at = utcnow() - timedelta(minutes=11)
    db.session.commit()
    assert services.resume_paused() == 1
    db.session.commit()  # the drafting job runs after the commit (in-process here)
    db.session.refresh(req)
    assert req.status == "ready_for_review"

"""The owner's loop through HTTP: ask, draft (the rules agent, in-process job), review the
preview, approve, the live site shows it, undo restores it."""

from __future__ import annotations

import re

from lavish.extensions import db
from lavish.models import AuditEntry, EditEvent, EditRequest


def _ask(client, description: str, **extra):
    data = {"site": "la-plumbing-pros", "description": description, **extra}
    return client.post("/customer/edit-requests", data=data, content_type="multipart/form-data")


def test_phone_change_end_to_end(app, site, signed_in, outbox):
    response = _ask(signed_in, "Our new phone number is (213) 555-0199")
    assert response.status_code == 303, response.get_data(as_text=True)
    req = db.session.scalars(db.select(EditRequest)).one()
    db.session.refresh(req)
    assert req.status == "ready_for_review", req.status_reason
    assert "555-0199" in req.summary
    subjects = [m.subject for m in outbox]
    assert any("We got your change request" in s for s in subjects)
    assert any("ready to review" in s for s in subjects)

    page = signed_in.get(f"/customer/edit-requests/{req.id}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "<ins>" in html and "<del>" in html
    assert f"/preview/{req.preview_token}/" in html

    preview = signed_in.get(f"/preview/{req.preview_token}/")
    assert preview.status_code == 200
    assert preview.headers["X-Robots-Tag"] == "noindex"
    body = preview.get_data(as_text=True)
    assert '<meta name="robots" content="noindex">' in body
    assert "(213) 555-0199" in body and "tel:+12135550199" in body
    assert "555-0142" not in body
    # The live site is unchanged until approval.
    assert "555-0142" in signed_in.get("/la-plumbing-pros/").get_data(as_text=True)

    approved = signed_in.post(
        f"/customer/edit-requests/{req.id}/approve", data={"revision": req.revision}
    )
    assert approved.status_code == 303
    db.session.refresh(req)
    assert req.status == "published"
    live = signed_in.get("/la-plumbing-pros/contact.html").get_data(as_text=True)
    assert "(213) 555-0199" in live and "555-0142" not in live
    assert any("is live" in m.subject for m in outbox)
    # The preview ends with the publish.
    assert signed_in.get(f"/preview/{req.preview_token or 'x' * 43}/").status_code == 404

    # Approving again is one publish, not two.
    again = signed_in.post(
        f"/customer/edit-requests/{req.id}/approve", data={"revision": req.revision}
    )
    assert again.status_code == 303
    versions = signed_in.get("/customer/site/versions").get_data(as_text=True)
    assert versions.count("Change #") == 1

    undone = signed_in.post(f"/customer/edit-requests/{req.id}/undo")
    assert undone.status_code == 303
    db.session.refresh(req)
    assert req.status == "undone"
    live = signed_in.get("/la-plumbing-pros/contact.html").get_data(as_text=True)
    assert "555-0142" in live and "555-0199" not in live
    transitions = [e.to_status for e in db.session.scalars(db.select(EditEvent)).all()]
    assert transitions[:2] == ["submitted", "drafting"]
    assert "published" in transitions and "undone" in transitions
    actions = {a.action for a in db.session.scalars(db.select(AuditEntry)).all()}
    assert {"edit_request.approved", "edit_request.published", "edit_request.undone"} <= actions


def test_unclear_request_goes_to_staff(app, site, signed_in):
    assert _ask(signed_in, "Please make the site look more modern").status_code == 303
    req = db.session.scalars(db.select(EditRequest)).one()
    assert req.status == "needs_staff"
    assert req.preview_token is None
    assert req.runs and req.runs[0].outcome == "needs_staff"


def test_description_is_escaped_everywhere(app, site, signed_in, outbox):
    _ask(signed_in, "<script>alert(1)</script> our new phone number is (213) 555-0100")
    req = db.session.scalars(db.select(EditRequest)).one()
    page = signed_in.get(f"/customer/edit-requests/{req.id}").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;" in page
    mail = next(m for m in outbox if "We got" in m.subject)
    assert "<script>alert" not in mail.html


def test_empty_and_long_descriptions_are_refused(app, site, signed_in):
    assert _ask(signed_in, "   ").status_code == 422
    assert _ask(signed_in, "x" * 2001).status_code == 422
    assert db.session.scalar(db.select(db.func.count(EditRequest.id))) == 0


def test_limits_say_which_and_when(app, site, signed_in):
    app.config["EDIT_AGENT"] = "off"
    for n in range(5):
        assert _ask(signed_in, f"Request number {n}").status_code == 303
    response = _ask(signed_in, "One too many")
    assert response.status_code == 422
    assert "5 open requests" in response.get_data(as_text=True)
    app.config["EDIT_REQUESTS_OPEN_MAX"] = 50
    app.config["EDIT_REQUESTS_PER_MONTH"] = 6
    assert _ask(signed_in, "Sixth").status_code == 303
    response = _ask(signed_in, "Seventh")
    assert response.status_code == 422
    assert re.search(r"per month .*You can ask again from \w+ 1", response.get_data(as_text=True))


def test_another_owners_request_is_404(app, site, signed_in, make_user, client, login):
    _ask(signed_in, "Our new phone number is (213) 555-0199")
    req = db.session.scalars(db.select(EditRequest)).one()
    other = make_user("other@example.com")
    other_client = app.test_client()
    login(other, test_client=other_client)
    assert other_client.get(f"/customer/edit-requests/{req.id}").status_code == 404
    assert (
        other_client.post(
            f"/customer/edit-requests/{req.id}/approve", data={"revision": req.revision}
        ).status_code
        == 404
    )
    db.session.refresh(req)
    assert req.status == "ready_for_review"


def test_stale_revision_and_no_draft_are_409(app, site, signed_in):
    app.config["EDIT_AGENT"] = "off"
    _ask(signed_in, "Please change something")
    req = db.session.scalars(db.select(EditRequest)).one()
    response = signed_in.post(f"/customer/edit-requests/{req.id}/approve", data={"revision": 0})
    assert response.status_code == 409
    app.config["EDIT_AGENT"] = "rules"
    _ask(signed_in, "Our new phone number is (213) 555-0199")
    req2 = db.session.scalars(db.select(EditRequest).order_by(EditRequest.id.desc())).first()
    response = signed_in.post(
        f"/customer/edit-requests/{req2.id}/approve", data={"revision": req2.revision + 1}
    )
    assert response.status_code == 409
    db.session.refresh(req2)
    assert req2.status == "ready_for_review"


def test_guessed_preview_token_is_404(app, site, client):
    assert client.get("/preview/" + "A" * 43 + "/").status_code == 404
    assert client.get("/preview/short/").status_code == 404


def test_suspended_site_gets_the_way_to_pay(app, site, signed_in):
    from lavish.hosting import services as hosting
    from lavish.models import SiteStatus

    hosting.change_status(site, SiteStatus.SUSPENDED, reason="unpaid")
    db.session.commit()
    response = _ask(signed_in, "Our new phone number is (213) 555-0199")
    assert response.status_code == 422
    text = response.get_data(as_text=True)
    assert "pay for hosting" in text.lower()
    assert db.session.scalar(db.select(db.func.count(EditRequest.id))) == 0


def test_request_changes_and_cancel(app, site, signed_in, outbox):
    _ask(signed_in, "Our new phone number is (213) 555-0199")
    req = db.session.scalars(db.select(EditRequest)).one()
    too_long = signed_in.post(
        f"/customer/edit-requests/{req.id}/request-changes", data={"comment": "x" * 1001}
    )
    assert too_long.status_code == 422
    response = signed_in.post(
        f"/customer/edit-requests/{req.id}/request-changes",
        data={"comment": "Only on the contact page <b>please</b>"},
    )
    assert response.status_code == 303
    db.session.refresh(req)
    # The rules do not interpret comments: staff take it, with the comment in the history.
    assert req.status == "needs_staff"
    page = signed_in.get(f"/customer/edit-requests/{req.id}").get_data(as_text=True)
    assert "&lt;b&gt;please&lt;/b&gt;" in page
    assert signed_in.post(f"/customer/edit-requests/{req.id}/cancel").status_code == 303
    db.session.refresh(req)
    assert req.status == "cancelled"
    assert signed_in.post(f"/customer/edit-requests/{req.id}/cancel").status_code == 409


def test_lapsed_site_pauses_approval(app, site, signed_in):
    from lavish.hosting import services as hosting
    from lavish.models import SiteStatus

    _ask(signed_in, "Our new phone number is (213) 555-0199")
    req = db.session.scalars(db.select(EditRequest)).one()
    hosting.change_status(site, SiteStatus.SUSPENDED, reason="unpaid")
    db.session.commit()
    response = signed_in.post(
        f"/customer/edit-requests/{req.id}/approve", data={"revision": req.revision}
    )
    assert response.status_code == 422
    assert "pay for hosting" in response.get_data(as_text=True).lower()
    db.session.refresh(req)
    assert req.status == "ready_for_review"
    # The preview still works for staff and the owner while the site is offline.
    assert signed_in.get(f"/preview/{req.preview_token}/").status_code == 200


def test_missing_csrf_is_refused(app, site, signed_in):
    _ask(signed_in, "Our new phone number is (213) 555-0199")
    req = db.session.scalars(db.select(EditRequest)).one()
    app.config["WTF_CSRF_ENABLED"] = True
    response = signed_in.post(
        f"/customer/edit-requests/{req.id}/approve", data={"revision": req.revision}
    )
    assert response.status_code == 400
    db.session.refresh(req)
    assert req.status == "ready_for_review"

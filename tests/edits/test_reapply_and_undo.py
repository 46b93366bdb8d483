"""Approving a draft after another change went live re-applies its edits (or hands it to staff
when they no longer apply); undo is refused when a later edit touched the same files."""

from __future__ import annotations

from lavish.extensions import db
from lavish.models import EditRequest


def _ask(client, description):
    response = client.post(
        "/customer/edit-requests",
        data={"site": "la-plumbing-pros", "description": description},
        content_type="multipart/form-data",
    )
    assert response.status_code == 303
    return db.session.scalars(db.select(EditRequest).order_by(EditRequest.id.desc())).first()


def _approve(client, req):
    return client.post(f"/customer/edit-requests/{req.id}/approve", data={"revision": req.revision})


def _live(client, page="contact.html"):
    return client.get(f"/la-plumbing-pros/{page}").get_data(as_text=True)


def test_draft_is_reapplied_on_a_newer_live_version(app, site, signed_in):
    phone = _ask(signed_in, "Our new phone number is (213) 555-0199")
    email = _ask(signed_in, "New email: office@laplumbingpros.example")
    assert phone.status == email.status == "ready_for_review"
    assert _approve(signed_in, email).status_code == 303
    # The phone draft was made from the version before the email change: approving it must
    # not bring the old email back.
    assert _approve(signed_in, phone).status_code == 303
    db.session.refresh(phone)
    assert phone.status == "published" and phone.revision == 2
    live = _live(signed_in)
    assert "(213) 555-0199" in live and "office@laplumbingpros.example" in live
    assert "hello@laplumbingpros.example" not in live


def test_draft_that_no_longer_applies_goes_to_staff(app, site, signed_in):
    first = _ask(signed_in, "Our new phone number is (213) 555-0199")
    second = _ask(signed_in, "Our new phone number is (213) 555-0111")
    assert _approve(signed_in, first).status_code == 303
    assert _approve(signed_in, second).status_code == 303
    db.session.refresh(second)
    assert second.status == "needs_staff"
    assert "no longer apply" in second.status_reason
    assert "(213) 555-0199" in _live(signed_in)  # nothing else went live


def test_undo_refused_when_a_later_edit_touched_the_same_files(app, site, signed_in):
    phone = _ask(signed_in, "Our new phone number is (213) 555-0199")
    _approve(signed_in, phone)
    email = _ask(signed_in, "New email: office@laplumbingpros.example")
    _approve(signed_in, email)
    response = signed_in.post(f"/customer/edit-requests/{phone.id}/undo")
    assert response.status_code == 409
    assert f"#{email.id}" in response.get_data(as_text=True)
    db.session.refresh(phone)
    assert phone.status == "published"
    # Undoing the later one first works, then the earlier one.
    assert signed_in.post(f"/customer/edit-requests/{email.id}/undo").status_code == 303
    assert signed_in.post(f"/customer/edit-requests/{phone.id}/undo").status_code == 303
    live = _live(signed_in)
    assert "(213) 555-0142" in live and "hello@laplumbingpros.example" in live


def test_owner_undo_window_is_30_days(app, site, signed_in):
    from datetime import timedelta

    req = _ask(signed_in, "Our new phone number is (213) 555-0199")
    _approve(signed_in, req)
    db.session.refresh(req)
    req.published_at -= timedelta(days=31)
    db.session.commit()
    response = signed_in.post(f"/customer/edit-requests/{req.id}/undo")
    assert response.status_code == 409
    assert "30 days" in response.get_data(as_text=True)

"""Attachments through the form, and the staff queue and actions."""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image

from lavish.extensions import db
from lavish.models import AuditEntry, EditRequest


def _png(color="green") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (10, 10), color).save(out, "PNG")
    return out.getvalue()


def _ask(client, description, files=()):
    data = {"site": "la-plumbing-pros", "description": description}
    data["attachments"] = [(io.BytesIO(raw), name) for name, raw in files]
    return client.post("/customer/edit-requests", data=data, content_type="multipart/form-data")


def test_logo_replaced_by_attachment(app, site, signed_in):
    response = _ask(signed_in, "Replace our logo with the attached one", [("new.png", _png())])
    assert response.status_code == 303
    req = db.session.scalars(db.select(EditRequest)).one()
    assert req.status == "ready_for_review", req.status_reason
    assert req.changed_files == ["images/logo.png"]
    image = signed_in.get(f"/preview/{req.preview_token}/images/logo.png")
    assert image.status_code == 200
    with Image.open(io.BytesIO(image.data)) as opened:
        assert opened.format == "PNG" and opened.getpixel((0, 0))[:3] == (0, 128, 0)


def test_bad_attachments_are_refused(app, site, signed_in):
    response = _ask(signed_in, "New logo", [("logo.png", b"GIF89a not really")])
    assert response.status_code == 422
    assert "not a readable PNG" in response.get_data(as_text=True)
    six = [(f"{n}.png", _png()) for n in range(6)]
    response = _ask(signed_in, "New logo", six)
    assert response.status_code == 422
    assert "at most 5" in response.get_data(as_text=True)
    assert db.session.scalar(db.select(db.func.count(EditRequest.id))) == 0


def test_staff_queue_detail_and_actions(app, site, signed_in, admin, login, outbox):
    app.config["EDIT_AGENT"] = "off"
    _ask(signed_in, "Make the <em>hero</em> friendlier")
    req = db.session.scalars(db.select(EditRequest)).one()
    assert req.status == "needs_staff"
    staff = app.test_client()
    login(admin, test_client=staff)
    queue = staff.get("/admin/edit-requests/")
    assert queue.status_code == 200
    assert "Make the &lt;em&gt;hero&lt;/em&gt; friendlier" in queue.get_data(as_text=True)
    assert staff.get("/admin/edit-requests/?status=needs_staff&age=past_sla").status_code == 200
    page = staff.get(f"/admin/edit-requests/{req.id}")
    assert page.status_code == 200 and "Needs staff" in page.get_data(as_text=True)

    # Staff edit the home page in the browser: a new draft revision, then off to the owner.
    home = Path(app.config["SITES_ROOT"]) / "live" / "la-plumbing-pros" / "index.html"
    text = home.read_text()
    edited = text.replace("Plumbing problems fixed right", "Plumbing fixed right")
    saved = staff.post(f"/admin/edit-requests/{req.id}/files", data={"file:index.html": edited})
    assert saved.status_code == 303
    db.session.refresh(req)
    assert req.revision == 1 and req.changed_files == ["index.html"]
    injected = text.replace("</body>", "<script>steal()</script></body>")
    refused = staff.post(f"/admin/edit-requests/{req.id}/files", data={"file:index.html": injected})
    assert refused.status_code == 422 and "script" in refused.get_data(as_text=True)
    sent = staff.post(f"/admin/edit-requests/{req.id}/send-for-review")
    assert sent.status_code == 303
    db.session.refresh(req)
    assert req.status == "ready_for_review"
    assert any("ready to review" in m.subject for m in outbox)

    cancelled = staff.post(
        f"/admin/edit-requests/{req.id}/cancel", data={"message": "Done by phone <b>x</b>"}
    )
    assert cancelled.status_code == 303
    db.session.refresh(req)
    assert req.status == "cancelled"
    mail = next(m for m in outbox if "cancelled" in m.subject)
    assert "&lt;b&gt;x&lt;/b&gt;" in mail.html
    actions = {a.action for a in db.session.scalars(db.select(AuditEntry)).all()}
    assert {"edit_request.staff_edit", "edit_request.cancelled"} <= actions
    # Owners can't open the staff pages.
    assert signed_in.get("/admin/edit-requests/").status_code == 403


def test_dashboard_counts_open_and_late_requests(app, site, signed_in, admin, login):
    from datetime import timedelta

    app.config["EDIT_AGENT"] = "off"
    assert _ask(signed_in, "An old request").status_code == 303
    old = db.session.scalars(db.select(EditRequest)).one()
    old.created_at -= timedelta(hours=49)
    db.session.commit()
    assert _ask(signed_in, "A new request").status_code == 303
    staff = app.test_client()
    login(admin, test_client=staff)
    page = staff.get("/admin/").get_data(as_text=True)
    assert 'id="stat-edit-requests"' in page
    assert '<div class="value">2</div>' in page.split('id="stat-edit-requests"')[1][:400]
    assert "1 past the 48 h SLA" in page


def test_staff_upload_a_zip_as_draft(app, site, signed_in, admin, login):
    import zipfile

    app.config["EDIT_AGENT"] = "off"
    _ask(signed_in, "Please redo the about page")
    req = db.session.scalars(db.select(EditRequest)).one()
    staff = app.test_client()
    login(admin, test_client=staff)
    live = Path(app.config["SITES_ROOT"]) / "live" / "la-plumbing-pros"

    def archive(changed: dict[str, str]) -> io.BytesIO:
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w") as zf:
            for path in sorted(p for p in live.rglob("*") if p.is_file()):
                rel = path.relative_to(live).as_posix()
                if rel.endswith((".gz", ".br")):
                    continue
                zf.writestr(rel, changed.get(rel, path.read_bytes()))
        out.seek(0)
        return out

    about = (live / "about.html").read_text()
    bad = archive({"about.html": about.replace("</body>", "<script>x()</script></body>")})
    refused = staff.post(f"/admin/edit-requests/{req.id}/zip", data={"archive": (bad, "s.zip")},
                         content_type="multipart/form-data")  # fmt: skip
    assert refused.status_code == 422 and "script" in refused.get_data(as_text=True)
    good = archive({"about.html": about.replace("About", "All about", 1)})
    saved = staff.post(f"/admin/edit-requests/{req.id}/zip", data={"archive": (good, "s.zip")},
                       content_type="multipart/form-data")  # fmt: skip
    assert saved.status_code == 303
    db.session.refresh(req)
    assert req.changed_files == ["about.html"] and req.revision == 1
    preview = signed_in.get(f"/preview/{req.preview_token}/about.html").get_data(as_text=True)
    assert "All about" in preview

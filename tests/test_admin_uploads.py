"""Creating and publishing sites from the console: zips and server folders, every refusal with
a message naming the problem, and nothing half published."""

from __future__ import annotations

import io
import os
import stat
import zipfile
from pathlib import Path

import pytest
import sqlalchemy as sa

from lavish.extensions import db
from lavish.models import AuditEntry, Site, SiteVersion

SITE = {"index.html": "<html><body><h1>Plumbing</h1></body></html>", "css/site.css": "body{}"}


@pytest.fixture
def app_config(app_config, tmp_path):
    imports = tmp_path / "imports"
    imports.mkdir()
    return app_config | {"SITES_IMPORT_ROOT": str(imports), "SITES_MAX_FILES": 20}


@pytest.fixture
def staff(client, admin, login):
    login(admin)
    return client


def make_zip(files: dict[str, str | bytes], *, symlinks: dict[str, str] | None = None) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in files.items():
            archive.writestr(name, content)
        for name, target in (symlinks or {}).items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            archive.writestr(info, target)
    return buffer.getvalue()


def new_site(client, data: bytes | None = None, *, folder: str = "", slug: str = "la-plumbing"):
    form = {"slug": slug, "business_name": "LA Plumbing", "city": "Los Angeles", "folder": folder}
    if data is not None:
        form["archive"] = (io.BytesIO(data), "site.zip")
    return client.post("/admin/sites/new", data=form, content_type="multipart/form-data")


def publish(client, site_id: int, data: bytes, note: str = "New photos"):
    return client.post(
        f"/admin/sites/{site_id}/publish",
        data={"archive": (io.BytesIO(data), "v.zip"), "note": note},
        content_type="multipart/form-data",
    )


def actions(name: str) -> list[AuditEntry]:
    return list(db.session.scalars(sa.select(AuditEntry).where(AuditEntry.action == name)))


def nothing_published(app) -> None:
    assert db.session.scalar(sa.select(sa.func.count(Site.id))) == 0
    assert db.session.scalar(sa.select(sa.func.count(SiteVersion.id))) == 0
    live = Path(app.config["SITES_ROOT"]) / "live" / "la-plumbing"
    assert not live.exists()


def test_the_form(staff):
    html = staff.get("/admin/sites/new").get_data(as_text=True)
    assert 'enctype="multipart/form-data"' in html and 'name="archive"' in html
    assert "at most 20 files" in html


def test_create_from_a_zip(app, staff, admin):
    response = new_site(staff, make_zip({f"my-site/{k}": v for k, v in SITE.items()}))
    assert response.status_code == 303, response.get_data(as_text=True)
    site = db.session.scalar(sa.select(Site))
    assert response.headers["Location"] == f"/admin/sites/{site.id}"
    assert site.status == "preview" and site.city == "Los Angeles"
    assert site.live_version.number == 1 and site.live_version.file_count == 2
    assert site.live_version.created_by_id == admin.id
    served = staff.get("/la-plumbing/")
    assert served.status_code == 200 and b"Plumbing" in served.data
    [entry] = actions("site.create")
    assert entry.after == {"slug": "la-plumbing", "business_name": "LA Plumbing", "version": 1}
    page = staff.get(response.headers["Location"]).get_data(as_text=True)
    assert "is published" in page and "site.create" in page and "#1" in page


def test_create_from_a_server_folder(app, staff):
    folder = Path(app.config["SITES_IMPORT_ROOT"]) / "la-plumbing-export"
    (folder / "css").mkdir(parents=True)
    for name, content in SITE.items():
        (folder / name).write_text(content)
    assert "la-plumbing-export" in staff.get("/admin/sites/new").get_data(as_text=True)
    response = new_site(staff, folder="la-plumbing-export")
    assert response.status_code == 303
    assert staff.get("/la-plumbing/").status_code == 200


@pytest.mark.parametrize(
    ("folder", "message"),
    [
        ("../hosted", "Give the name of a folder in the import folder"),
        ("/etc", "Give the name of a folder in the import folder"),
        ("..", "Give the name of a folder in the import folder"),
        ("missing", "There is no folder “missing”"),
        ("outside-link", "That folder is outside the import folder"),
    ],
)
def test_server_folder_refusals(app, staff, tmp_path, folder, message):
    os.symlink(tmp_path, Path(app.config["SITES_IMPORT_ROOT"]) / "outside-link")
    response = new_site(staff, folder=folder)
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    nothing_published(app)


def test_a_folder_without_index_html(app, staff):
    folder = Path(app.config["SITES_IMPORT_ROOT"]) / "no-index"
    folder.mkdir()
    (folder / "about.html").write_text("x")
    response = new_site(staff, folder="no-index")
    assert response.status_code == 422
    assert "has no index.html" in response.get_data(as_text=True)
    nothing_published(app)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (make_zip(SITE | {"../evil.html": "x"}), "../evil.html: “.”, “..” and empty names"),
        (make_zip(SITE | {"/etc/cron.d/x": "x"}), "absolute paths are not allowed"),
        (make_zip(SITE, symlinks={"passwd": "/etc/passwd"}), "passwd: is a symbolic link"),
        (make_zip({"about.html": "x"}), "The zip: has no index.html at its top level"),
        (make_zip({"mysite/about.html": "x"}), "mysite: has no index.html"),
        (make_zip(SITE | {f"p{n}.html": "x" for n in range(25)}), "at most 20 allowed"),
        (b"<html>this is not a zip</html>", "not a readable zip archive"),
        (b"", "The uploaded file is empty"),
    ],
)  # fmt: skip
def test_zip_refusals(app, staff, data, message):
    response = new_site(staff, data)
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert message in html.replace("&#34;", '"').replace("&#39;", "'")
    assert "/tmp/tmp" not in html and "hosted/tmp" not in html  # no temporary paths
    assert 'value="la-plumbing"' in html  # what was typed is kept
    nothing_published(app)


def test_a_damaged_zip(app, staff):
    data = bytearray(make_zip({"index.html": bytes(range(256)) * 40}))
    data[80:400] = b"\xff" * 320
    response = new_site(staff, bytes(data))
    assert response.status_code == 422
    assert "damaged" in response.get_data(as_text=True) or "zip" in response.get_data(as_text=True)
    nothing_published(app)


def test_an_upload_over_the_size_limit(app, staff):
    app.config["SITES_MAX_UPLOAD_BYTES"] = 10_000
    # Far over: the request body is not even read.
    response = new_site(staff, os.urandom(200_000))
    assert response.status_code == 413
    assert "The upload is larger than" in response.get_data(as_text=True)
    # Just over: read up to the limit, then refused.
    response = new_site(staff, make_zip({"index.html": os.urandom(20_000)}))
    assert response.status_code == 422
    assert "The zip is larger than 10,000 bytes" in response.get_data(as_text=True)
    nothing_published(app)


@pytest.mark.parametrize(
    ("slug", "message"),
    [("admin", "is reserved"), ("Bad Slug!", "not a valid slug"), ("", "Choose the site")],
)
def test_slug_refusals(app, staff, slug, message):
    response = new_site(staff, make_zip(SITE), slug=slug)
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)


def test_a_taken_slug(app, staff):
    assert new_site(staff, make_zip(SITE)).status_code == 303
    response = new_site(staff, make_zip(SITE))
    assert response.status_code == 422
    assert "already taken" in response.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count(Site.id))) == 1


def test_zip_or_folder_not_both(app, staff):
    response = new_site(staff, make_zip(SITE), folder="x")
    assert "not both" in response.get_data(as_text=True)
    response = new_site(staff)
    assert "Upload a zip or name a folder" in response.get_data(as_text=True)


def test_publish_and_roll_back(app, staff):
    new_site(staff, make_zip(SITE))
    site = db.session.scalar(sa.select(Site))
    response = publish(staff, site.id, make_zip({"index.html": "<h1>Version two</h1>"}))
    assert response.status_code == 303
    assert b"Version two" in staff.get("/la-plumbing/").data
    assert actions("site.publish")[0].after == {"live_version": 2}

    # A refused zip leaves version 2 live and adds nothing.
    response = publish(staff, site.id, make_zip({"../x": "x", "index.html": "x"}))
    assert response.status_code == 422
    assert "“.”, “..”" in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.scalar(sa.select(sa.func.count(SiteVersion.id))) == 2
    assert b"Version two" in staff.get("/la-plumbing/").data

    response = staff.post(f"/admin/sites/{site.id}/rollback", data={"version": "1"})
    assert response.status_code == 303
    assert b"Plumbing" in staff.get("/la-plumbing/").data
    [entry] = actions("site.rollback")
    assert entry.before == {"live_version": 2} and entry.after == {"live_version": 1}
    page = staff.get(f"/admin/sites/{site.id}").get_data(as_text=True)
    assert "site.rollback" in page and "Make live" in page

    for version, message in [("1", "already live"), ("9", "has no version 9"), ("x", "")]:
        response = staff.post(f"/admin/sites/{site.id}/rollback", data={"version": version})
        assert response.status_code == 422
        assert message in response.get_data(as_text=True)


def test_suspended_site_serves_503_after_suspend(app, staff):
    new_site(staff, make_zip(SITE))
    site = db.session.scalar(sa.select(Site))
    staff.post(f"/admin/sites/{site.id}/suspend", data={"reason": "Abuse report"})
    assert staff.get("/la-plumbing/").status_code == 503
    staff.post(f"/admin/sites/{site.id}/unsuspend", data={"reason": "Cleared"})
    assert staff.get("/la-plumbing/").status_code == 200

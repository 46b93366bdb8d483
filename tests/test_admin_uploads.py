"""Creating and publishing sites from the console: zips and server folders, every refusal with
a message naming the problem, and nothing half published."""

from __future__ import annotations

import io
import os
import signal
import stat
import subprocess
import sys
import time
import warnings
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


# --- every entry counts; conflicts are refused; nothing is left behind (issue 10, defect 11) --


def raw_zip(entries: list[tuple[str, bytes | None]]) -> bytes:
    """A zip with exactly these entries, in this order (None: a folder entry); duplicates too."""
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # zipfile's "Duplicate name"
        with zipfile.ZipFile(buffer, "w") as archive:
            for name, content in entries:
                if content is None:
                    archive.writestr(zipfile.ZipInfo(name.rstrip("/") + "/"), b"")
                else:
                    archive.writestr(name, content)
    return buffer.getvalue()


INDEX = ("index.html", b"<html><body>Plumbing</body></html>")


def hosted_tmp(app) -> list[Path]:
    folder = Path(app.config["SITES_ROOT"]) / "tmp"
    return sorted(folder.iterdir()) if folder.is_dir() else []


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        ([INDEX, ("about.html", b"1"), ("about.html", b"2")], "about.html: is in the zip twice."),
        ([INDEX, INDEX], "index.html: is in the zip twice."),
        ([INDEX, ("a", b"x"), ("a/b.txt", b"y")], "a: is both a file and a folder in the zip."),
        ([INDEX, ("a/b.txt", b"y"), ("a", b"x")], "a: is both a file and a folder in the zip."),
        ([INDEX, ("a", None), ("a", b"x")], "a: is both a file and a folder in the zip."),
        ([INDEX, ("a", b"x"), ("a", None)], "a: is both a file and a folder in the zip."),
        ([INDEX, ("a/b/c.txt", b"x"), ("a/b", b"y")], "a/b: is both a file and a folder"),
        ([INDEX] + [(f"d{n}", None) for n in range(25)], "26 entries (files and folders)"),
        ([INDEX] + [(f"d{n}/x.txt", b"") for n in range(12)], "25 files and folders"),
    ],
)
def test_zip_entry_refusals(app, staff, entries, message):
    response = new_site(staff, raw_zip(entries))
    html = response.get_data(as_text=True).replace("&#39;", "'")
    assert response.status_code == 422, html
    assert message in html
    nothing_published(app)
    assert hosted_tmp(app) == []


def test_a_folder_listed_with_its_files_is_fine(app, staff):
    entries = [("site/", None), ("site/css/", None), ("site/css/", None)]
    entries += [("site/index.html", INDEX[1]), ("site/css/a.css", b"a{}")]
    assert new_site(staff, raw_zip(entries)).status_code == 303
    live = Path(app.config["SITES_ROOT"]) / "live" / "la-plumbing"
    assert (live / "css" / "a.css").read_bytes() == b"a{}"


def test_thirty_thousand_empty_folders_are_refused_at_once(app, staff):
    app.config["SITES_MAX_FILES"] = 2000
    data = raw_zip([INDEX] + [(f"d{n}", None) for n in range(30_000)])
    started = time.monotonic()
    response = new_site(staff, data)
    assert response.status_code == 422
    assert "The archive has 30,001 entries (files and folders); at most 2,000 allowed." in (
        response.get_data(as_text=True)
    )
    assert time.monotonic() - started < 10
    nothing_published(app)
    assert hosted_tmp(app) == []


def test_a_new_version_with_a_conflict_is_refused(app, staff):
    assert new_site(staff, make_zip(SITE)).status_code == 303
    site = db.session.scalar(sa.select(Site))
    response = publish(staff, site.id, raw_zip([INDEX, ("a", b"x"), ("a/b.txt", b"y")]))
    assert response.status_code == 422
    assert "a: is both a file and a folder in the zip." in response.get_data(as_text=True)
    assert len(site.versions) == 1 and hosted_tmp(app) == []


def test_a_server_folder_counts_its_folders(app, staff):
    folder = Path(app.config["SITES_IMPORT_ROOT"]) / "many-folders"
    folder.mkdir()
    (folder / "index.html").write_text("x")
    for n in range(25):
        (folder / f"d{n}").mkdir()
    response = new_site(staff, folder="many-folders")
    assert response.status_code == 422
    assert "more than 20 files and folders" in response.get_data(as_text=True)


def test_the_sweep_removes_what_a_killed_upload_left(app):
    """A worker killed while extracting (timeout, kill -9) cannot clean its temp folder; the
    sweep removes work folders older than any request or job may run, and leaves young ones
    (an upload in progress) alone."""
    from jobs.sweeps import SWEEPS
    from lavish.hosting.publisher import TMP_MAX_AGE_SECONDS

    tmp = Path(app.config["SITES_ROOT"]) / "tmp"
    left = tmp / "tmpab12cd"
    for n in range(100):
        (left / f"d{n}" / "e").mkdir(parents=True)
    (left / "d0" / "e" / "index.html").write_text("x")
    in_progress = tmp / "4242-0123456789ab"
    (in_progress / "version").mkdir(parents=True)
    old = time.time() - TMP_MAX_AGE_SECONDS - 60
    os.utime(left, (old, old))

    assert SWEEPS["clean_hosting_tmp"]() == 1
    assert hosted_tmp(app) == [in_progress]
    assert SWEEPS["clean_hosting_tmp"]() == 0


def test_an_upload_killed_mid_extraction_leaves_a_folder_the_sweep_removes(app, tmp_path):
    """The real thing: a process extracting an upload is killed with SIGKILL."""
    archive = tmp_path / "big.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("index.html", "x")
        for n in range(50):
            zf.writestr(f"f{n}.bin", b"\0" * 4_000_000)
    script = (
        "import sys\n"
        "from lavish import create_app\n"
        "from lavish.hosting import services\n"
        "app = create_app({'SQLALCHEMY_DATABASE_URI': 'sqlite://', 'SITES_ROOT': sys.argv[1],"
        " 'SITES_MAX_TOTAL_BYTES': 10**10, 'SITES_MAX_FILES': 100})\n"
        "with app.app_context():\n"
        "    from lavish.extensions import db\n"
        "    db.create_all()\n"
        "    site = services.create_site('big', 'Big')\n"
        "    services.publish_zip(site, sys.argv[2])\n"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", script, app.config["SITES_ROOT"], str(archive)],
        cwd=Path(__file__).resolve().parents[1],
    )
    tmp = Path(app.config["SITES_ROOT"]) / "tmp"
    deadline = time.monotonic() + 60
    while not any(tmp.glob("*/f*.bin")):
        assert process.poll() is None, "the extraction ended before it was killed"
        assert time.monotonic() < deadline
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    process.wait()
    left = hosted_tmp(app)
    assert len(left) == 1 and any(left[0].iterdir())

    from jobs.sweeps import SWEEPS
    from lavish.hosting.publisher import TMP_MAX_AGE_SECONDS

    assert SWEEPS["clean_hosting_tmp"]() == 0  # it could still be running
    old = time.time() - TMP_MAX_AGE_SECONDS - 1
    os.utime(left[0], (old, old))
    assert SWEEPS["clean_hosting_tmp"]() == 1
    assert hosted_tmp(app) == []

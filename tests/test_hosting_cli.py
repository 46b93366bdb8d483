"""`flask sites import|reconcile` and `flask demo`, through the real CLI runner."""

from __future__ import annotations

import os

import sqlalchemy as sa
from hosting_support import make_folder, pointer, sites_root, tree

from lavish.extensions import db
from lavish.hosting.cli import DEMO_ADMIN_EMAIL, DEMO_SLUG
from lavish.models import Role, Site, SiteVersion, User


def _run(app, *args):
    return app.test_cli_runner().invoke(args=list(args))


def test_import_creates_a_preview_site(app, tmp_path):
    folder = make_folder(tmp_path)
    result = _run(
        app, "sites", "import", "joes", str(folder), "--name", "Joe's Plumbing", "--phone",
        "555-1", "--email", "joe@example.com", "--city", "Austin", "--category", "Plumbing",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "Created preview site joes: version 1 (6 files" in result.output
    assert "http://localhost/joes/" in result.output
    site = db.session.scalar(sa.select(Site).filter_by(slug="joes"))
    assert (site.business_name, site.phone, site.email, site.city, site.category) == (
        "Joe's Plumbing", "555-1", "joe@example.com", "Austin", "Plumbing",
    )  # fmt: skip
    assert site.status == "preview" and site.live_version.number == 1
    assert pointer(app, "joes").startswith("../variants/joes/1-preview-")
    assert app.test_client().get("/joes/").status_code == 200


def test_import_again_publishes_a_new_version(app, tmp_path):
    _run(app, "sites", "import", "joes", str(make_folder(tmp_path, "a")), "--name", "Joe")
    result = _run(
        app, "sites", "import", "joes", str(make_folder(tmp_path, "b")), "--name", "Joe Bros",
        "--city", "Dallas",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "Published joes: version 2" in result.output
    db.session.expire_all()
    site = db.session.scalar(sa.select(Site).filter_by(slug="joes"))
    assert site.business_name == "Joe Bros" and site.city == "Dallas"
    assert site.live_version.number == 2


def _assert_refused(app, result, *needles):
    assert result.exit_code != 0
    for needle in needles:
        assert needle in result.output, result.output
    assert "Nothing was published" in result.output
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Site)) == 0
    assert db.session.scalar(sa.select(sa.func.count()).select_from(SiteVersion)) == 0
    assert tree(sites_root(app) / "versions") == []


def test_import_refuses_a_symlink_naming_the_file(app, tmp_path):
    folder = make_folder(tmp_path)
    os.symlink("/etc/passwd", folder / "assets" / "pw")
    result = _run(app, "sites", "import", "joes", str(folder), "--name", "Joe")
    _assert_refused(app, result, "assets/pw: is a symbolic link")


def test_import_refuses_missing_index(app, tmp_path):
    folder = make_folder(tmp_path)
    (folder / "index.html").unlink()
    result = _run(app, "sites", "import", "joes", str(folder), "--name", "Joe")
    _assert_refused(app, result, "has no index.html")


def test_import_refuses_big_files(app, tmp_path):
    app.config["SITES_MAX_FILE_BYTES"] = 100
    folder = make_folder(tmp_path, extra={"video.mp4": b"v" * 101})
    result = _run(app, "sites", "import", "joes", str(folder), "--name", "Joe")
    _assert_refused(app, result, "video.mp4: is 101 bytes, larger than the 100 bytes allowed")


def test_import_refuses_reserved_and_invalid_slugs(app, tmp_path):
    folder = make_folder(tmp_path)
    result = _run(app, "sites", "import", "admin", str(folder), "--name", "Joe")
    _assert_refused(app, result, "“admin” is reserved")
    result = _run(app, "sites", "import", "Bad_Slug", str(folder), "--name", "Joe")
    _assert_refused(app, result, "not a valid slug")


def test_import_refuses_a_missing_folder_and_an_empty_name(app, tmp_path):
    result = _run(app, "sites", "import", "joes", str(tmp_path / "nope"), "--name", "Joe")
    _assert_refused(app, result, "not a folder")
    result = _run(app, "sites", "import", "joes", str(make_folder(tmp_path)), "--name", " ")
    _assert_refused(app, result, "business name is required")


def test_failed_new_version_keeps_the_live_one(app, tmp_path):
    _run(app, "sites", "import", "joes", str(make_folder(tmp_path, "a")), "--name", "Joe")
    before = pointer(app, "joes")
    bad = make_folder(tmp_path, "b")
    os.symlink("/etc", bad / "etc")
    result = _run(app, "sites", "import", "joes", str(bad), "--name", "Renamed")
    assert result.exit_code != 0 and "etc: is a symbolic link" in result.output
    assert pointer(app, "joes") == before
    db.session.expire_all()
    site = db.session.scalar(sa.select(Site).filter_by(slug="joes"))
    assert site.business_name == "Joe" and len(site.versions) == 1


def test_reconcile_command(app, tmp_path):
    _run(app, "sites", "import", "joes", str(make_folder(tmp_path)), "--name", "Joe")
    (sites_root(app) / "live" / "joes").unlink()
    result = _run(app, "sites", "reconcile")
    assert result.exit_code == 0 and "1 sites checked, 1 switched, 0 failed." in result.output
    assert pointer(app, "joes") is not None


def test_demo_is_idempotent_and_prints_the_login(app, monkeypatch, tmp_path):
    monkeypatch.setitem(app.config, "PUBLIC_URL", "http://127.0.0.1:5123")
    monkeypatch.setattr(app, "instance_path", str(tmp_path))
    first = _run(app, "demo")
    assert first.exit_code == 0, first.output
    password = (tmp_path / "demo_admin_password").read_text().strip()
    assert "http://127.0.0.1:5123/" in first.output
    assert DEMO_ADMIN_EMAIL in first.output and password in first.output
    second = _run(app, "demo")
    assert second.exit_code == 0 and password in second.output and "(ready)" in second.output
    assert db.session.scalar(sa.select(sa.func.count()).select_from(User)) == 1
    admin = db.session.scalar(sa.select(User))
    assert admin.role == Role.ADMIN
    site = db.session.scalar(sa.select(Site).filter_by(slug=DEMO_SLUG))
    assert len(site.versions) == 1 and site.status == "preview"
    client = app.test_client()
    for page in ("", "services.html", "about.html", "contact.html", "css/style.css",
                 "images/logo.png", "images/hero.svg"):  # fmt: skip
        assert client.get(f"/{DEMO_SLUG}/{page}").status_code == 200, page
    missing = client.get(f"/{DEMO_SLUG}/no-such-page")
    assert missing.status_code == 404 and b"sprang a leak" in missing.data
    # the printed login works
    login = client.post("/customer/login", data={"email": DEMO_ADMIN_EMAIL, "password": password})
    assert login.status_code == 303


def test_demo_republishes_when_the_files_are_gone(app, monkeypatch, tmp_path):
    import shutil

    monkeypatch.setattr(app, "instance_path", str(tmp_path))
    _run(app, "demo")
    shutil.rmtree(sites_root(app))
    result = _run(app, "demo")
    assert result.exit_code == 0 and "(imported)" in result.output
    assert app.test_client().get(f"/{DEMO_SLUG}/").status_code == 200

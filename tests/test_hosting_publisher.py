"""Publishing: checked folders become immutable numbered versions; the live pointer switches
atomically after the commit; rollback is a pointer switch; refusals change nothing."""

from __future__ import annotations

import io
import os
import zipfile

import pytest
import sqlalchemy as sa
from hosting_support import make_folder, pointer, publish_new, sites_root, tree

from lavish.extensions import db
from lavish.hosting import publisher, services
from lavish.hosting.publisher import PublishError
from lavish.hosting.slugs import SlugError
from lavish.models import Site, SiteStatus, SiteVersion


def test_publish_creates_numbered_immutable_versions(app, tmp_path):
    site = publish_new("joes", make_folder(tmp_path, "v1"))
    root = sites_root(app)
    v1 = root / "versions" / "joes" / "1" / "htdocs"
    assert (v1 / "index.html").read_bytes().startswith(b"<!doctype html>")
    assert (v1 / "assets" / "img" / "logo.svg").is_file()
    # A preview site points at the rendered preview variant of version 1.
    assert pointer(app, "joes").startswith("../variants/joes/1-preview-")

    second = make_folder(tmp_path, "v2", index=b"<html><head></head><body>v2</body></html>")
    version = services.publish(site, second, note="new prices")
    db.session.commit()
    assert version.number == 2 and version.note == "new prices"
    assert version.file_count == 6 and version.total_bytes > 0
    assert b"v2" in (root / "versions/joes/2/htdocs/index.html").read_bytes()
    # version 1 untouched
    assert b"Joe's" in (v1 / "index.html").read_bytes()
    assert pointer(app, "joes").startswith("../variants/joes/2-preview-")
    site = db.session.get(Site, site.id)
    assert site.live_version.number == 2
    assert [v.number for v in site.versions] == [2, 1]


def test_owned_and_active_sites_point_at_the_version_itself(app, tmp_path):
    site = publish_new("joes", make_folder(tmp_path))
    services.change_status(site, SiteStatus.OWNED)
    db.session.commit()
    assert pointer(app, "joes") == "../versions/joes/1/htdocs"
    services.change_status(site, SiteStatus.ACTIVE)
    db.session.commit()
    assert pointer(app, "joes") == "../versions/joes/1/htdocs"


def test_rollback_is_a_pointer_switch_without_copy(app, tmp_path):
    site = publish_new("joes", make_folder(tmp_path, "v1"))
    services.change_status(site, SiteStatus.ACTIVE)
    db.session.commit()
    services.publish(site, make_folder(tmp_path, "v2", index=b"<html><body>two</body></html>"))
    db.session.commit()
    root = sites_root(app)
    inode_before = os.stat(root / "versions/joes/1/htdocs/index.html").st_ino
    listing_before = tree(root / "versions")
    v1 = db.session.scalar(sa.select(SiteVersion).filter_by(site_id=site.id, number=1))
    services.rollback(site, v1)
    db.session.commit()
    assert pointer(app, "joes") == "../versions/joes/1/htdocs"
    assert tree(root / "versions") == listing_before
    assert os.stat(root / "versions/joes/1/htdocs/index.html").st_ino == inode_before
    assert db.session.get(Site, site.id).live_version_id == v1.id


def test_rollback_refuses_a_version_of_another_site(app, tmp_path):
    joes = publish_new("joes", make_folder(tmp_path, "a"))
    other = publish_new("other", make_folder(tmp_path, "b"))
    with pytest.raises(ValueError, match="another site"):
        services.rollback(joes, other.versions[0])


def test_pointer_switch_uses_a_temp_symlink_and_rename(app, tmp_path, monkeypatch):
    site = publish_new("joes", make_folder(tmp_path, "v1"))
    calls = []
    real_replace = os.replace

    def spy(src, dst):
        calls.append((os.path.islink(src), os.path.basename(str(dst))))
        return real_replace(src, dst)

    monkeypatch.setattr(publisher.os, "replace", spy)
    services.change_status(site, SiteStatus.ACTIVE)
    db.session.commit()
    assert (True, "joes") in calls


def test_rolled_back_change_leaves_the_disk_alone(app, tmp_path):
    site = publish_new("joes", make_folder(tmp_path))
    before = pointer(app, "joes")
    services.change_status(site, SiteStatus.SUSPENDED, reason="abuse")
    db.session.flush()
    assert pointer(app, "joes") == before  # not before the commit
    db.session.rollback()
    assert pointer(app, "joes") == before
    # and a later unrelated commit does not apply the forgotten change
    db.session.commit()
    assert pointer(app, "joes") == before
    assert db.session.get(Site, site.id).status == SiteStatus.PREVIEW


def test_rolled_back_publish_is_not_live_and_its_number_is_reused(app, tmp_path):
    site = publish_new("joes", make_folder(tmp_path, "v1"))
    before = pointer(app, "joes")
    services.publish(site, make_folder(tmp_path, "v2", index=b"<html><body>lost</body></html>"))
    db.session.rollback()
    assert pointer(app, "joes") == before
    site = db.session.get(Site, site.id)
    version = services.publish(
        site, make_folder(tmp_path, "v3", index=b"<html><body>3</body></html>")
    )
    db.session.commit()
    assert version.number == 2
    assert b"3" in (sites_root(app) / "versions/joes/2/htdocs/index.html").read_bytes()


def test_suspended_keeps_every_version_and_comes_back(app, tmp_path):
    site = publish_new("joes", make_folder(tmp_path))
    services.change_status(site, SiteStatus.ACTIVE)
    db.session.commit()
    services.change_status(site, SiteStatus.SUSPENDED, reason="lapsed")
    db.session.commit()
    root = sites_root(app)
    target = pointer(app, "joes")
    assert target.startswith("../variants/joes/suspended-")
    variant = (root / "live" / target).parent
    assert (variant / "suspended").is_file() and (variant / "503.html").is_file()
    assert (root / "versions/joes/1/htdocs/index.html").is_file()
    site = db.session.get(Site, site.id)
    assert site.suspended_at is not None and site.status_reason == "lapsed"
    services.change_status(site, SiteStatus.ACTIVE)
    db.session.commit()
    assert pointer(app, "joes") == "../versions/joes/1/htdocs"


def test_preview_variant_injects_bar_and_noindex_into_html_only(app, tmp_path):
    publish_new("joes", make_folder(tmp_path, with_404=True), name="Joe & Sons <Plumbing>")
    root = sites_root(app)
    live = root / "live" / "joes"
    index = (live / "index.html").read_bytes()
    assert index.count(b'<meta name="robots" content="noindex">') == 1
    assert index.index(b"noindex") < index.index(b"<title>")
    assert b'href="/sites/joes"' in index and b"Claim this site" in index
    assert b"Joe &amp; Sons &lt;Plumbing&gt;" in index  # escaped
    assert index.rstrip().endswith(b"</body></html>")
    assert b"Claim this site" in (live / "about.html").read_bytes()
    assert b"Claim this site" in (live / "team" / "index.html").read_bytes()
    assert b"Claim this site" in (live / ".." / "404.html").read_bytes()
    # assets are hard links to the version's files: same bytes, no copy
    css = live / "assets" / "style.css"
    assert os.stat(css).st_ino == os.stat(root / "versions/joes/1/htdocs/assets/style.css").st_ino
    assert (live / ".." / "noindex").is_file()


def test_inject_preview_handles_pages_without_head_or_body():
    head, bar = b"<meta name=robots>", b"<div>bar</div>"
    assert (
        publisher.inject_preview(b"<p>hi</p>", head, bar)
        == b"<meta name=robots><p>hi</p><div>bar</div>"
    )
    assert publisher.inject_preview(b"<HTML><BODY>x</BODY></HTML>", head, bar) == (
        b"<HTML><head><meta name=robots></head><BODY>x<div>bar</div></BODY></HTML>"
    )


def test_unicode_name_in_bar_is_ascii_safe(app, tmp_path):
    publish_new("cafe", make_folder(tmp_path), name="Café Ñandú")
    index = (sites_root(app) / "live" / "cafe" / "index.html").read_bytes()
    assert b"Caf&#233; &#209;and&#250;" in index


# --- refusals: a clear message naming the file, nothing changed ----------------------------


def _nothing_published(app):
    root = sites_root(app)
    assert tree(root / "versions") == [] or all("joes" not in p for p in tree(root / "versions"))
    assert pointer(app, "joes") is None
    assert db.session.scalar(sa.select(sa.func.count()).select_from(SiteVersion)) == 0


def _refused(app, folder, match):
    site = services.create_site("joes", "Joe")
    with pytest.raises(PublishError, match=match):
        services.publish(site, folder)
    db.session.rollback()
    _nothing_published(app)
    assert tree(sites_root(app) / "tmp") == []


def test_refuses_folder_without_index(app, tmp_path):
    folder = make_folder(tmp_path)
    (folder / "index.html").unlink()
    _refused(app, folder, "no index.html")


def test_refuses_symlink_naming_it(app, tmp_path):
    folder = make_folder(tmp_path)
    os.symlink("/etc/passwd", folder / "assets" / "secrets.txt")
    _refused(app, folder, r"assets/secrets.txt: is a symbolic link \(to /etc/passwd\)")


def test_refuses_symlinked_directory(app, tmp_path):
    folder = make_folder(tmp_path)
    os.symlink("/etc", folder / "etc")
    _refused(app, folder, "etc: is a symbolic link")


def test_refuses_index_that_is_a_symlink(app, tmp_path):
    folder = make_folder(tmp_path)
    (folder / "index.html").unlink()
    (folder / "real.html").write_bytes(b"x")
    os.symlink("real.html", folder / "index.html")
    _refused(app, folder, "index.html: is a symbolic link")


def test_refuses_files_over_the_size_limit(app, tmp_path):
    app.config["SITES_MAX_FILE_BYTES"] = 1000
    folder = make_folder(tmp_path, extra={"assets/big.jpg": b"x" * 1001})
    _refused(app, folder, "assets/big.jpg: is 1001 bytes, larger than the 1000 bytes allowed")


def test_refuses_sites_over_the_total_limit(app, tmp_path):
    app.config["SITES_MAX_TOTAL_BYTES"] = 500
    folder = make_folder(tmp_path, extra={"a.bin": b"x" * 300, "b.bin": b"y" * 300})
    _refused(app, folder, "larger than the 500 bytes allowed in total")


def test_refuses_too_many_files(app, tmp_path):
    app.config["SITES_MAX_FILES"] = 5
    _refused(app, make_folder(tmp_path), "more than 5 files")


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("bad\\name.html", "backslashes"),
        ("ctl\x01.txt", "control characters"),
        (" lead.txt", "spaces"),
    ],
)
def test_refuses_unsafe_names(app, tmp_path, name, reason):
    folder = make_folder(tmp_path)
    (folder / name).write_bytes(b"x")
    _refused(app, folder, reason)


def test_refuses_fifo(app, tmp_path):
    folder = make_folder(tmp_path)
    os.mkfifo(folder / "pipe")
    _refused(app, folder, "pipe: is not a regular file")


def test_create_site_refuses_reserved_and_taken_slugs(app, tmp_path):
    with pytest.raises(SlugError, match="reserved"):
        services.create_site("admin", "Joe")
    publish_new("joes", make_folder(tmp_path))
    with pytest.raises(SlugError, match="already taken"):
        services.create_site("joes", "Other Joe")


# --- reconcile: the disk follows the database ----------------------------------------------


def test_reconcile_heals_a_wrong_or_missing_pointer(app, tmp_path):
    site = publish_new("joes", make_folder(tmp_path))
    services.change_status(site, SiteStatus.ACTIVE)
    db.session.commit()
    live = sites_root(app) / "live" / "joes"
    live.unlink()
    os.symlink("../versions/nothing/htdocs", live)
    # a change made behind the services' back (e.g. a manual SQL fix)
    db.session.execute(sa.update(Site).where(Site.id == site.id).values(status="suspended"))
    db.session.commit()
    counts = services.reconcile()
    assert counts == {"sites": 1, "switched": 1, "failed": 0}
    assert pointer(app, "joes").startswith("../variants/joes/suspended-")
    assert services.reconcile() == {"sites": 1, "switched": 0, "failed": 0}


def test_reconcile_renders_preview_again_when_the_claim_link_changes(app, tmp_path):
    publish_new("joes", make_folder(tmp_path))
    first = pointer(app, "joes")
    app.config["SITES_HOST"] = "sites.example.com"
    app.config["PUBLIC_URL"] = "https://lavish.example.com"
    assert services.reconcile()["switched"] == 1
    assert pointer(app, "joes") != first
    index = (sites_root(app) / "live" / "joes" / "index.html").read_bytes()
    assert b'href="https://lavish.example.com/sites/joes"' in index


def test_old_variants_are_collected_after_a_grace_period(app, tmp_path):
    site = publish_new("joes", make_folder(tmp_path))
    preview_variant = (sites_root(app) / "live" / pointer(app, "joes")).parent
    services.change_status(site, SiteStatus.SUSPENDED)
    db.session.commit()
    assert preview_variant.is_dir()  # kept for requests in flight
    publisher.collect_variants(sites_root(app), "joes", grace=-1)
    assert not preview_variant.exists()
    assert (sites_root(app) / "live" / "joes" / ".." / "suspended").is_file()


# --- zip uploads -----------------------------------------------------------------------------


def _zip(entries: dict[str, bytes], symlinks: dict[str, str] | None = None) -> io.BytesIO:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
        for name, target in (symlinks or {}).items():
            info = zipfile.ZipInfo(name)
            info.external_attr = 0o120777 << 16
            zf.writestr(info, target)
    buffer.seek(0)
    return buffer


def test_extract_zip_and_publish(app, tmp_path):
    archive = _zip({"mysite/index.html": b"<html><body>z</body></html>", "mysite/a/b.css": b"x"})
    dest = tmp_path / "unzipped"
    dest.mkdir()
    folder = publisher.extract_zip(archive, dest)
    assert folder == dest / "mysite"  # a single wrapping folder is unwrapped
    publish_new("zipped", folder)
    assert (sites_root(app) / "versions/zipped/1/htdocs/a/b.css").read_bytes() == b"x"


@pytest.mark.parametrize(
    ("entries", "symlinks", "match"),
    [
        ({"../evil.html": b"x"}, None, r"\.\./evil.html"),
        ({"/etc/evil.html": b"x"}, None, "absolute paths"),
        ({"a\\b.html": b"x"}, None, "backslashes"),
        ({"index.html": b"x"}, {"link": "/etc/passwd"}, "link: is a symbolic link"),
        ({"index.html": b"x" * 2000}, None, "larger than the 1000 bytes"),
    ],
)
def test_extract_zip_refuses_tricks(app, tmp_path, entries, symlinks, match):
    app.config["SITES_MAX_FILE_BYTES"] = 1000
    dest = tmp_path / "unzipped"
    dest.mkdir()
    with pytest.raises(PublishError, match=match):
        publisher.extract_zip(_zip(entries, symlinks), dest)
    assert not (tmp_path / "evil.html").exists()


def test_extract_zip_counts_real_inflated_bytes(app, tmp_path):
    """A zip bomb with a lying header is stopped while inflating."""
    app.config["SITES_MAX_TOTAL_BYTES"] = 10_000
    archive = _zip({"index.html": b"0" * 6000, "b.html": b"0" * 6000})
    dest = tmp_path / "unzipped"
    dest.mkdir()
    with pytest.raises(PublishError, match="inflates beyond"):
        publisher.extract_zip(archive, dest)


def test_extract_zip_refuses_garbage(app, tmp_path):
    with pytest.raises(PublishError, match="not a readable zip"):
        publisher.extract_zip(io.BytesIO(b"not a zip"), tmp_path)


def test_publish_zip_service(app, tmp_path):
    site = services.create_site("zipped", "Zipped")
    version = services.publish_zip(
        site, _zip({"index.html": b"<html><body>z</body></html>", "css/a.css": b"a{}"}), note="up"
    )
    db.session.commit()
    assert version.number == 1 and version.file_count == 2
    assert (sites_root(app) / "versions/zipped/1/htdocs/css/a.css").read_bytes() == b"a{}"
    assert tree(sites_root(app) / "tmp") == []


def test_publish_zip_refusal_changes_nothing(app, tmp_path):
    site = services.create_site("zipped", "Zipped")
    with pytest.raises(PublishError, match="link: is a symbolic link"):
        services.publish_zip(site, _zip({"index.html": b"x"}, {"link": "/etc/passwd"}))
    db.session.rollback()
    assert tree(sites_root(app) / "versions") == [] and tree(sites_root(app) / "tmp") == []


def test_concurrent_publish_of_the_same_number_is_refused_cleanly(app, tmp_path):
    """Two publishes that computed the same number: the unique (site, number) row decides, and
    the loser writes no files."""
    site = publish_new("joes", make_folder(tmp_path, "v1"))
    # Simulate the other transaction having committed version 2 after we computed our number.
    other = SiteVersion(site_id=site.id, number=2, note="other")
    db.session.add(other)
    db.session.commit()
    real_scalar = db.session.scalar
    calls = {"n": 0}

    def stale_max(statement, *args, **kwargs):
        if "max(site_versions.number)" in str(statement).lower() and calls["n"] == 0:
            calls["n"] += 1
            return 1
        return real_scalar(statement, *args, **kwargs)

    db.session.scalar = stale_max
    try:
        with pytest.raises(PublishError, match="another version was published"):
            services.publish(site, make_folder(tmp_path, "v2"))
    finally:
        del db.session.scalar
    assert not (sites_root(app) / "versions/joes/2").exists()
    db.session.rollback()
    assert pointer(app, "joes").startswith("../variants/joes/1-preview-")


def test_disk_failure_after_commit_keeps_the_commit_and_heals_later(app, tmp_path, monkeypatch):
    site = publish_new("joes", make_folder(tmp_path))
    before = pointer(app, "joes")

    def broken(root, state):
        raise OSError("disk full")

    monkeypatch.setattr(publisher, "apply_state", broken)
    services.change_status(site, SiteStatus.ACTIVE)
    db.session.commit()  # does not raise: the database change stands
    assert db.session.get(Site, site.id).status == SiteStatus.ACTIVE
    assert pointer(app, "joes") == before
    monkeypatch.undo()
    assert services.reconcile()["switched"] == 1  # the sweep's self-heal
    assert pointer(app, "joes") == "../versions/joes/1/htdocs"


def test_state_pages_render_in_a_request_whose_user_is_not_loaded_yet(app, tmp_path, make_user):
    """The after-commit switch renders the 503 page; with a signed-in user not yet loaded, a
    template context processor loading `current_user` there would hit the committed session
    and leave the old files served."""
    from flask import g
    from flask_login import login_user

    site = publish_new("joes", make_folder(tmp_path))
    user = make_user()
    with app.test_request_context("/"):
        login_user(user)
        g.pop("_login_user")  # as at the start of a request: only the session knows the user
        in_request = db.session.get(Site, site.id)  # in the request's own session
        services.change_status(in_request, SiteStatus.SUSPENDED, reason="test")
        db.session.commit()
    assert services.site_state(site) == "suspended"

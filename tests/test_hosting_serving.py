"""Serving hosted sites from the Flask fallback: types, caching, 304, HEAD, 404s, 503, preview
bar and noindex, path tricks, SITES_HOST."""

from __future__ import annotations

import os

import pytest
from hosting_support import make_folder, pointer, publish_new, sites_root

from lavish.extensions import db
from lavish.hosting import services
from lavish.models import SiteStatus


@pytest.fixture
def preview_site(app, tmp_path):
    return publish_new("joes", make_folder(tmp_path, "joes"))


@pytest.fixture
def active_site(app, tmp_path):
    site = publish_new("acme", make_folder(tmp_path, "acme", with_404=True), name="Acme")
    services.change_status(site, SiteStatus.ACTIVE)
    db.session.commit()
    return site


def test_slug_without_slash_redirects(client, preview_site):
    response = client.get("/joes?utm=1")
    assert response.status_code == 301
    assert response.headers["Location"] == "/joes/?utm=1"


@pytest.mark.parametrize(
    ("path", "content_type", "cache"),
    [
        ("", "text/html; charset=utf-8", "no-cache"),
        ("about.html", "text/html; charset=utf-8", "no-cache"),
        ("team/", "text/html; charset=utf-8", "no-cache"),
        ("assets/style.css", "text/css; charset=utf-8", "public, max-age=300"),
        ("assets/app.js", "text/javascript; charset=utf-8", "public, max-age=300"),
        ("assets/img/logo.svg", "image/svg+xml; charset=utf-8", "public, max-age=300"),
    ],
)
def test_files_have_type_length_validators_and_cache_control(
    client, active_site, app, path, content_type, cache
):
    response = client.get(f"/acme/{path}")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == content_type
    assert response.headers["Cache-Control"] == cache
    target = path + "index.html" if path in ("", "team/") else path
    on_disk = sites_root(app) / "versions/acme/1/htdocs" / target
    assert response.data == on_disk.read_bytes()
    assert int(response.headers["Content-Length"]) == len(response.data)
    info = os.stat(on_disk)
    assert response.headers["ETag"] == f'"{int(info.st_mtime):x}-{info.st_size:x}"'
    assert response.last_modified.timestamp() == int(info.st_mtime)
    assert "X-Robots-Tag" not in response.headers
    assert "Set-Cookie" not in response.headers and "Content-Encoding" not in response.headers
    # Every one of these types has compressed siblings: caches must key on Accept-Encoding.
    assert response.headers["Vary"] == "Accept-Encoding"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Accept-Ranges"] == "bytes"


def test_unknown_extension_is_octet_stream(client, app, tmp_path):
    publish_new("filez", make_folder(tmp_path, extra={"data.weird": b"\x00\x01", "UP.PNG": b"p"}))
    assert client.get("/filez/data.weird").headers["Content-Type"] == "application/octet-stream"
    assert client.get("/filez/UP.PNG").headers["Content-Type"] == "image/png"


def test_conditional_requests(client, active_site):
    first = client.get("/acme/assets/style.css")
    etag, modified = first.headers["ETag"], first.headers["Last-Modified"]
    hit = client.get("/acme/assets/style.css", headers={"If-None-Match": etag})
    assert hit.status_code == 304 and hit.data == b""
    assert hit.headers["ETag"] == etag and hit.headers["Cache-Control"] == "public, max-age=300"
    assert (
        client.get("/acme/assets/style.css", headers={"If-None-Match": f"W/{etag}"}).status_code
        == 304
    )
    assert (
        client.get("/acme/assets/style.css", headers={"If-None-Match": '"x", ' + etag}).status_code
        == 304
    )
    assert (
        client.get("/acme/assets/style.css", headers={"If-None-Match": '"other"'}).status_code
        == 200
    )
    assert (
        client.get("/acme/assets/style.css", headers={"If-Modified-Since": modified}).status_code
        == 304
    )
    old = "Mon, 01 Jan 2001 00:00:00 GMT"
    assert (
        client.get("/acme/assets/style.css", headers={"If-Modified-Since": old}).status_code == 200
    )
    assert (
        client.get("/acme/assets/style.css", headers={"If-Modified-Since": "garbage"}).status_code
        == 200
    )
    # like Nginx: both validators must agree
    both = {"If-None-Match": etag, "If-Modified-Since": old}
    assert client.get("/acme/assets/style.css", headers=both).status_code == 200
    assert client.get("/acme/assets/style.css", headers={"If-Match": '"nope"'}).status_code == 412


def test_head_has_headers_and_no_body(client, active_site):
    get = client.get("/acme/")
    head = client.head("/acme/")
    assert head.status_code == 200 and head.data == b""
    for name in ("Content-Type", "Content-Length", "ETag", "Last-Modified", "Cache-Control"):
        assert head.headers[name] == get.headers[name]


def test_missing_file_serves_the_sites_own_404(client, active_site):
    response = client.get("/acme/nope.html")
    assert response.status_code == 404
    assert b"Joe's own 404" in response.data
    assert response.headers["Cache-Control"] == "no-cache"
    assert client.head("/acme/nope.html").status_code == 404


def test_missing_file_without_own_404_serves_ours(client, preview_site):
    response = client.get("/joes/missing/deep/file.css")
    assert response.status_code == 404
    assert b"Page not found" in response.data
    assert b'content="noindex"' in response.data  # a preview site's 404 is noindex too
    assert response.headers["X-Robots-Tag"] == "noindex"


def test_directory_without_slash_redirects(client, active_site):
    response = client.get("/acme/team")
    assert response.status_code == 301 and response.headers["Location"] == "/acme/team/"
    # a directory without index.html is a 404, not a listing
    assert client.get("/acme/assets/").status_code == 404


def test_preview_has_claim_bar_and_noindex(client, preview_site):
    response = client.get("/joes/")
    assert response.status_code == 200
    assert b'<meta name="robots" content="noindex">' in response.data
    assert b'href="/sites/joes"' in response.data and b"Claim this site" in response.data
    assert response.headers["X-Robots-Tag"] == "noindex"
    asset = client.get("/joes/assets/img/logo.svg")
    assert asset.headers["X-Robots-Tag"] == "noindex" and b"Claim" not in asset.data


def test_owned_site_has_no_bar(client, preview_site):
    services.change_status(preview_site, SiteStatus.OWNED)
    db.session.commit()
    response = client.get("/joes/")
    assert b"Claim this site" not in response.data and b"noindex" not in response.data
    assert "X-Robots-Tag" not in response.headers


def test_suspended_site_answers_503_everywhere(client, active_site):
    services.change_status(active_site, SiteStatus.SUSPENDED, reason="lapsed")
    db.session.commit()
    for path in ("/acme/", "/acme/about.html", "/acme/assets/style.css", "/acme/nope"):
        response = client.get(path)
        assert response.status_code == 503, path
        assert b"temporarily unavailable" in response.data
        assert b"Acme" in response.data
        assert response.headers["Cache-Control"] == "no-store"
    assert client.head("/acme/").status_code == 503
    services.change_status(active_site, SiteStatus.ACTIVE)
    db.session.commit()
    assert client.get("/acme/").status_code == 200


def test_state_follows_commit_not_rollback(client, app, active_site):
    # (No request while the change is pending: a request shares this test's session and, since
    # one transaction per request, would commit it when it answers.)
    before = pointer(app, "acme")
    services.change_status(active_site, SiteStatus.SUSPENDED)
    db.session.flush()
    assert pointer(app, "acme") == before  # not committed yet: the disk has not moved
    db.session.rollback()
    assert pointer(app, "acme") == before
    assert client.get("/acme/").status_code == 200


def test_unknown_slug_is_a_plain_404(client, active_site):
    response = client.get("/nobody-here/")
    assert response.status_code == 404
    assert b"Page not found" in response.data
    assert client.get("/nobody-here/x.css").status_code == 404


def test_reserved_prefixes_are_never_hosted(client, app, active_site):
    # Even if a pointer were planted under a reserved name, the portal owns that path.
    os.symlink("../versions/acme/1/htdocs", sites_root(app) / "live" / "customer")
    assert client.get("/customer/about.html").status_code == 404


SECRET = b"TOP-SECRET-CONTENT"


@pytest.fixture
def outside_secret(app, active_site):
    secret = sites_root(app) / "secret.txt"
    secret.write_bytes(SECRET)
    (sites_root(app) / "versions" / "secret.txt").write_bytes(SECRET)
    return secret


@pytest.mark.parametrize(
    "path",
    [
        "/acme/../secret.txt",
        "/acme/../../secret.txt",
        "/acme/%2e%2e/secret.txt",
        "/acme/%2E%2E/%2e%2e/secret.txt",
        "/acme/assets/..%2f..%2fsecret.txt",
        "/acme/..%5c..%5csecret.txt",
        "/acme/assets\\..\\..\\secret.txt",
        "/acme/%00",
        "/acme/index.html%00.css",
        "/acme//etc/passwd",
        "/acme/%2fetc%2fpasswd",
        "/acme/" + "a/" * 600 + "x",
        "/acme/./index.html",
        "/acme/.",
        "/acme/..",
    ],
)
def test_path_tricks_never_leave_the_live_version(client, outside_secret, path):
    response = client.get(path)
    assert response.status_code in (301, 308, 400, 404), (path, response.status_code)
    assert SECRET not in response.data
    if response.status_code in (301, 308):
        follow = client.get(response.headers["Location"])
        assert SECRET not in follow.data


def test_symlink_planted_inside_a_version_is_not_followed(client, app, active_site, outside_secret):
    link = sites_root(app) / "versions/acme/1/htdocs/leak.txt"
    os.symlink(outside_secret, link)
    response = client.get("/acme/leak.txt")
    assert response.status_code == 404 and SECRET not in response.data


def test_sites_host_serves_sites_only_there(app, client, active_site):
    app.config["SITES_HOST"] = "sites.example.com"
    app.config["PUBLIC_URL"] = "https://lavish.example.com"
    on_sites = client.get("/acme/", base_url="http://sites.example.com")
    assert on_sites.status_code == 200
    elsewhere = client.get("/acme/about.html?x=1", base_url="http://lavish.example.com")
    assert elsewhere.status_code == 301
    assert elsewhere.headers["Location"] == "https://sites.example.com/acme/about.html?x=1"
    portal = client.get("/customer/login", base_url="http://sites.example.com")
    assert portal.status_code == 301
    assert portal.headers["Location"] == "https://lavish.example.com/customer/login"
    assert client.get("/customer/login", base_url="http://lavish.example.com").status_code == 200


def test_hosted_routes_never_swallow_portal_answers(client, active_site):
    # a POST-only portal route keeps its 405 (the hosted GET route does not match "customer")
    assert client.get("/customer/logout").status_code == 405
    assert client.get("/admin").status_code in (301, 302, 308)

"""Issue 14 in the publisher and the Flask fallback: compressed siblings made once at publish
(versions and state variants), Accept-Encoding negotiation, and versions that hard-link what
did not change."""

from __future__ import annotations

import gzip
import os
import shutil

import brotli
import pytest
import sqlalchemy as sa
from hosting_support import make_folder, publish_new, sites_root

from lavish.extensions import db
from lavish.hosting import services
from lavish.hosting.publisher import PublishError
from lavish.hosting.serving import accepts
from lavish.models import SiteStatus, SiteVersion

PAGE = b"<!doctype html><html><head><title>Joe</title></head><body>" + b"<p>Pipes!</p>" * 200
CSS = b"body { color: #123; }\n" * 100
PNG = os.urandom(4000)  # incompressible, and not a text type anyway


def big_folder(base, name="site", **kwargs):
    extra = {"assets/big.css": CSS, "img/photo.png": PNG, **kwargs.pop("extra", {})}
    return make_folder(base, name, index=PAGE, extra=extra, **kwargs)


@pytest.fixture
def active(app, tmp_path):
    site = publish_new("acme", big_folder(tmp_path, "acme"), name="Acme")
    services.change_status(site, SiteStatus.ACTIVE)
    db.session.commit()
    return site


def decode(response) -> bytes:
    coding = response.headers.get("Content-Encoding")
    if coding == "br":
        return brotli.decompress(response.data)
    if coding == "gzip":
        return gzip.decompress(response.data)
    return response.data


# --- publish: siblings -----------------------------------------------------------------------


def test_text_files_get_smaller_gzip_and_brotli_siblings_with_the_same_mtime(app, active):
    htdocs = sites_root(app) / "versions/acme/1/htdocs"
    for rel, data in (("index.html", PAGE), ("assets/big.css", CSS)):
        original = htdocs / rel
        gz, br = (
            original.with_name(original.name + ".gz"),
            original.with_name(original.name + ".br"),
        )
        assert gzip.decompress(gz.read_bytes()) == data
        assert brotli.decompress(br.read_bytes()) == data
        assert br.stat().st_size < gz.stat().st_size < len(data)
        assert gz.stat().st_mtime == br.stat().st_mtime == original.stat().st_mtime
    # Kept only when smaller; never for types that are compressed already.
    assert not (htdocs / "assets/style.css.gz").exists()  # 22 bytes: gzip would be larger
    assert not list((htdocs / "img").glob("photo.png.*"))
    # Our 404 page beside the tree too.
    assert (htdocs / ".." / "404.html.br").is_file()


def test_state_variants_get_their_own_siblings(app, tmp_path):
    site = publish_new("joes", big_folder(tmp_path, "joes"))  # preview: bar injected
    live = sites_root(app) / "live" / "joes"
    index = (live / "index.html").read_bytes()
    assert b"Claim this site" in index
    assert brotli.decompress((live / "index.html.br").read_bytes()) == index
    assert gzip.decompress((live / "index.html.gz").read_bytes()) == index
    not_found = (live / ".." / "404.html").read_bytes()
    assert b"noindex" in not_found
    assert brotli.decompress((live / ".." / "404.html.br").read_bytes()) == not_found
    # Non-HTML siblings are the version's own, hard-linked.
    version = sites_root(app) / "versions/joes/1/htdocs"
    assert (live / "assets/big.css.br").stat().st_ino == (
        version / "assets/big.css.br"
    ).stat().st_ino
    services.change_status(site, SiteStatus.SUSPENDED)
    db.session.commit()
    page = (live / ".." / "503.html").read_bytes()
    assert gzip.decompress((live / ".." / "503.html.gz").read_bytes()) == page
    assert brotli.decompress((live / ".." / "503.html.br").read_bytes()) == page
    root_404 = sites_root(app) / "live" / "404.html"
    assert (
        brotli.decompress((root_404.with_name("404.html.br")).read_bytes()) == root_404.read_bytes()
    )


def test_a_file_named_like_a_sibling_of_another_is_refused(app, tmp_path):
    site = services.create_site("joes", "Joe")
    folder = make_folder(tmp_path, extra={"assets/style.css.gz": b"not ours"})
    with pytest.raises(PublishError, match=r"assets/style.css.gz: .*rename one"):
        services.publish(site, folder)
    # Alone, such a name is just a file.
    services.publish(site, make_folder(tmp_path, "ok", extra={"dump.sql.gz": b"\x1f\x8b"}))


# --- serving: negotiation --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("accept", "coding"),
    [
        (None, None),
        ("gzip", "gzip"),
        ("br", "br"),
        ("gzip, deflate, br", "br"),  # br first whatever the order (as Nginx)
        ("gzip;q=1.0, br;q=0.1", "br"),  # …and whatever the q-values above 0
        ("gzip, br;q=0", "gzip"),
        ("br;q=0, gzip;q=0", None),
        ("identity", None),
        ("*", None),  # like Nginx's modules: the coding must be named
        ("x-gzip, brotli", None),
    ],
)
def test_fallback_negotiates_like_nginx(client, active, accept, coding):
    headers = {"Accept-Encoding": accept} if accept else {}
    response = client.get("/acme/", headers=headers)
    assert response.status_code == 200
    assert response.headers.get("Content-Encoding") == coding
    assert response.headers["Vary"] == "Accept-Encoding"
    assert response.headers["Cache-Control"] == "no-cache"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"
    assert decode(response) == PAGE
    assert int(response.headers["Content-Length"]) == len(response.data)
    # Ranges are offered on the identity file only (Nginx's gzip_static does not offer them).
    assert ("Accept-Ranges" in response.headers) == (coding is None)


def test_each_representation_has_its_own_validators(client, active):
    identity = client.get("/acme/assets/big.css")
    br = client.get("/acme/assets/big.css", headers={"Accept-Encoding": "br"})
    assert identity.headers["ETag"] != br.headers["ETag"]
    assert identity.headers["Last-Modified"] == br.headers["Last-Modified"]
    assert br.headers["Cache-Control"] == "public, max-age=300"
    again = client.get(
        "/acme/assets/big.css",
        headers={"Accept-Encoding": "br", "If-None-Match": br.headers["ETag"]},
    )
    assert again.status_code == 304 and "Content-Encoding" not in again.headers  # as Nginx
    assert again.headers["Vary"] == "Accept-Encoding"
    other = client.get(
        "/acme/assets/big.css",
        headers={"Accept-Encoding": "gzip", "If-None-Match": br.headers["ETag"]},
    )
    assert other.status_code == 200 and decode(other) == CSS


def test_images_do_not_vary(client, active):
    response = client.get("/acme/img/photo.png", headers={"Accept-Encoding": "br, gzip"})
    assert response.data == PNG and "Content-Encoding" not in response.headers
    assert "Vary" not in response.headers
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_error_pages_are_compressed_too(client, active, app):
    missing = client.get("/acme/nope", headers={"Accept-Encoding": "br"})
    assert missing.status_code == 404 and missing.headers["Content-Encoding"] == "br"
    assert missing.headers["Vary"] == "Accept-Encoding"
    assert b"<html" in decode(missing).lower()
    services.change_status(active, SiteStatus.SUSPENDED)
    db.session.commit()
    down = client.get("/acme/", headers={"Accept-Encoding": "gzip"})
    assert down.status_code == 503 and down.headers["Content-Encoding"] == "gzip"
    assert b"temporarily unavailable" in decode(down)


def test_accepts_parses_q_values():
    assert accepts("gzip;q=0.5", "gzip") and accepts("GZIP", "gzip")
    assert not accepts("gzip;q=0", "gzip") and not accepts("gzip;q=0.000", "gzip")
    assert not accepts("gzip;q=x", "gzip") and not accepts("", "gzip") and not accepts(None, "br")


# --- versions share what did not change --------------------------------------------------------


def test_unchanged_files_and_siblings_are_hard_links_with_the_same_validators(
    client, app, active, tmp_path
):
    before = {p: client.get(f"/acme/{p}") for p in ("", "assets/big.css", "img/photo.png")}
    changed = big_folder(
        tmp_path, "v2", extra={"about.html": b"<html><body>New about</body></html>"}
    )
    services.publish(active, changed)
    db.session.commit()
    root = sites_root(app) / "versions/acme"
    for rel in ("index.html", "index.html.br", "index.html.gz", "assets/big.css",
                "assets/big.css.gz", "img/photo.png", "assets/style.css"):  # fmt: skip
        assert (root / "2/htdocs" / rel).stat().st_ino == (root / "1/htdocs" / rel).stat().st_ino, (
            rel
        )
    assert (root / "2/404.html").stat().st_ino == (root / "1/404.html").stat().st_ino
    assert (root / "2/htdocs/about.html").stat().st_ino != (
        root / "1/htdocs/about.html"
    ).stat().st_ino
    assert client.get("/acme/about.html").data == b"<html><body>New about</body></html>"
    # Returning visitors revalidate unchanged files with a 304.
    for path, response in before.items():
        again = client.get(f"/acme/{path}", headers={"If-None-Match": response.headers["ETag"]})
        assert again.status_code == 304, path


def test_a_changed_file_of_the_same_size_in_the_same_second_gets_a_new_etag(
    client, app, active, tmp_path
):
    first = client.get("/acme/assets/style.css")
    services.publish(
        active, big_folder(tmp_path, "v2", extra={"assets/style.css": b"body { color: #456; }\n"})
    )
    db.session.commit()
    second = client.get("/acme/assets/style.css")
    assert second.data != first.data and len(second.data) == len(first.data)
    assert second.headers["ETag"] != first.headers["ETag"]


def test_rollback_and_deleting_a_version_never_break_another(client, app, active, tmp_path):
    services.publish(active, big_folder(tmp_path, "v2", extra={"about.html": b"<p>two</p>"}))
    db.session.commit()
    root = sites_root(app) / "versions/acme"
    v1 = db.session.scalar(sa.select(SiteVersion).filter_by(site_id=active.id, number=1))
    services.rollback(active, v1)
    db.session.commit()
    assert b"About us" in client.get("/acme/about.html").data
    assert decode(client.get("/acme/", headers={"Accept-Encoding": "br"})) == PAGE
    v2 = db.session.scalar(sa.select(SiteVersion).filter_by(site_id=active.id, number=2))
    services.rollback(active, v2)
    db.session.commit()
    shutil.rmtree(root / "1")  # e.g. an operator pruning old versions
    for path, body in (("", PAGE), ("assets/big.css", CSS), ("img/photo.png", PNG),
                       ("about.html", b"<p>two</p>")):  # fmt: skip
        for accept in ("br", "gzip", None):
            response = client.get(
                f"/acme/{path}", headers={"Accept-Encoding": accept} if accept else {}
            )
            assert response.status_code == 200 and decode(response) == body, (path, accept)
    # The next version shares with version 2, the newest left.
    services.publish(active, big_folder(tmp_path, "v3"))
    db.session.commit()
    assert (root / "3/htdocs/index.html").stat().st_ino == (
        root / "2/htdocs/index.html"
    ).stat().st_ino


def test_a_draft_made_from_a_compressed_version_gets_fresh_siblings(app, active):
    """Edit requests copy a version's files into a draft: never our compressed copies (the
    publisher would refuse them as look-alikes, and they would be stale)."""
    from lavish.edits import drafts

    base = db.session.scalar(sa.select(SiteVersion).filter_by(site_id=active.id, number=1))
    page = PAGE.replace(b"Pipes!", b"Drains!")
    draft = drafts.store_draft(active, base, {"index.html": page}, note="edit")
    htdocs = sites_root(app) / f"versions/acme/{draft.number}/htdocs"
    assert brotli.decompress((htdocs / "index.html.br").read_bytes()) == page
    assert "index.html.br" not in drafts.list_files(htdocs)
    assert (htdocs / "assets/big.css.br").stat().st_ino == (
        sites_root(app) / "versions/acme/1/htdocs/assets/big.css.br"
    ).stat().st_ino


# --- byte ranges -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "status", "part"),
    [
        ("bytes=0-9", 206, (0, 10)),
        ("bytes=100-", 206, (100, None)),
        ("bytes=-25", 206, (-25, None)),
        ("bytes=5-99999999", 206, (5, None)),
        ("bytes=99999999-", 416, None),
        ("bytes=-0", 416, None),
        ("bytes=9-5", 416, None),
        ("bytes=0-1,5-6", 200, None),  # one range at most (Nginx's max_ranges 1)
        ("items=0-1", 200, None),
    ],
)
def test_ranges_apply_to_the_identity_file(client, active, value, status, part):
    response = client.get("/acme/", headers={"Range": value, "Accept-Encoding": "br, gzip"})
    assert response.status_code == status
    assert "Content-Encoding" not in response.headers
    assert response.headers["Vary"] == "Accept-Encoding"
    if status == 206:
        start, end = part
        expected = PAGE[start:end] if end or start >= 0 else PAGE[start:]
        assert response.data == expected
        first = len(PAGE) + start if start < 0 else start
        last = first + len(expected) - 1
        assert response.headers["Content-Range"] == f"bytes {first}-{last}/{len(PAGE)}"
        assert response.headers["Content-Length"] == str(len(expected))
        assert response.headers["ETag"] and "Accept-Ranges" not in response.headers
    elif status == 416:
        assert response.headers["Content-Range"] == f"bytes */{len(PAGE)}"
    else:
        assert response.data == PAGE and response.headers["Accept-Ranges"] == "bytes"


def test_if_range_sends_the_whole_file_when_it_changed(client, active):
    page = client.get("/acme/")
    ranged = {"Range": "bytes=0-3"}
    assert (
        client.get("/acme/", headers={**ranged, "If-Range": page.headers["ETag"]}).data == PAGE[:4]
    )
    when = page.headers["Last-Modified"]
    assert client.get("/acme/", headers={**ranged, "If-Range": when}).status_code == 206
    stale = client.get("/acme/", headers={**ranged, "If-Range": '"old"'})
    assert stale.status_code == 200 and stale.data == PAGE
    # Conditions come first: a cached copy is still valid.
    hit = client.get("/acme/", headers={**ranged, "If-None-Match": page.headers["ETag"]})
    assert hit.status_code == 304

"""A real Nginx running deploy/nginx/lavish.conf (rendered for this test's paths and ports) in
front of the app on a real HTTP server: for every sample URL, with `Accept-Encoding: br`,
`gzip` or none and with several Range headers, both must answer the same status, decoded body
and key headers (Content-Type, Content-Encoding, Content-Range, Vary, Cache-Control, validators,
304/412), and neither may ever serve a file outside a site's live version."""

from __future__ import annotations

import gzip
import http.client
import os
import re
import shutil
import sys
import threading
import time
from pathlib import Path

import brotli
import pytest
from werkzeug.serving import make_server

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/ (hosting_support)

from hosting_support import make_folder, publish_new, sites_root  # noqa: E402

from lavish.extensions import db  # noqa: E402
from lavish.hosting import services  # noqa: E402
from lavish.hosting.nginx import (  # noqa: E402
    NGINX,
    brotli_module,
    free_port,
    render_config,
    running_nginx,
)
from lavish.models import SiteStatus  # noqa: E402

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not os.path.exists(NGINX), reason="nginx is not installed"),
    pytest.mark.skipif(
        brotli_module() is None, reason="libnginx-mod-http-brotli-static is not installed"
    ),
]

KEY_HEADERS = (
    "content-type",
    "content-length",
    "content-encoding",
    "content-range",
    "accept-ranges",
    "vary",
    "etag",
    "last-modified",
    "cache-control",
    "x-robots-tag",
    "x-content-type-options",
    "location",
    "referrer-policy",
)
# Statuses whose bodies (and so Content-Type/-Length) are each server's own boilerplate.
BOILERPLATE = (301, 302, 412, 416)
ENCODINGS = ("br", "gzip", None)
SECRET = b"TOP-SECRET-OUTSIDE-THE-SITE"
BIG_PAGE = b"<!doctype html><html><head></head><body>" + b"<p>Lots of pipes.</p>\n" * 300
# A 4-second 64x48 VP8 WebM (2.3 KB, a keyframe a second, with cues), made once with PyAV's
# libvpx encoder (not a dependency of the project).
CLIP = Path(__file__).resolve().parents[1] / "fixtures" / "clip.webm"
VIDEO_PAGE = b"""<!doctype html><html><head><title>Clip</title></head><body>
<video id="clip" src="clip.webm" preload="auto" muted playsinline></video>
</body></html>"""


def fetch(port: int, path: str, method: str = "GET", headers: dict | None = None):
    """Send `path` exactly as given (no client-side normalisation)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=15)
    try:
        connection.putrequest(method, path, skip_accept_encoding=True)
        for name, value in (headers or {}).items():
            connection.putheader(name, value)
        connection.endheaders()
        response = connection.getresponse()
        body = response.read()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, body
    finally:
        connection.close()


@pytest.fixture
def servers(app, tmp_path):
    """Three sites (preview, owned with its own 404, suspended), the app on a threaded
    werkzeug server, and Nginx with the deploy config in front of it."""
    publish_new("joes", make_folder(tmp_path, "joes"), name="Joe's Plumbing")
    acme = publish_new(
        "acme",
        make_folder(
            tmp_path,
            "acme",
            with_404=True,
            extra={
                "docs/a/b/c/deep.pdf": b"%PDF-1.4 deep",
                "big.html": BIG_PAGE,
                "media/clip.webm": CLIP.read_bytes(),
                "media/index.html": VIDEO_PAGE,
            },
        ),
        name="Acme",
    )
    services.change_status(acme, SiteStatus.OWNED)
    gone = publish_new("gone", make_folder(tmp_path, "gone"), name="Gone & Co")
    services.change_status(gone, SiteStatus.SUSPENDED, reason="lapsed")
    db.session.commit()
    (sites_root(app) / "secret.txt").write_bytes(SECRET)
    (sites_root(app) / "versions" / "secret.txt").write_bytes(SECRET)

    flask_port, nginx_port = free_port(), free_port()
    server = make_server("127.0.0.1", flask_port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    conf = render_config(listen=f"127.0.0.1:{nginx_port}", upstream=f"127.0.0.1:{flask_port}")
    try:
        with running_nginx(tmp_path / "nginx", conf, nginx_port):
            yield flask_port, nginx_port
    finally:
        server.shutdown()
        thread.join(timeout=10)


def decoded(headers: dict, body: bytes) -> bytes:
    coding = headers.get("content-encoding")
    if not body:  # HEAD
        return body
    if coding == "br":
        return brotli.decompress(body)
    if coding == "gzip":
        return gzip.decompress(body)
    assert coding is None, coding
    return body


def assert_same(
    servers,
    path: str,
    method: str = "GET",
    headers: dict | None = None,
    encoding: str | None = None,
):
    """Both servers answer alike; returns Flask's (status, headers, decoded body)."""
    headers = dict(headers or {})
    if encoding:
        headers["Accept-Encoding"] = encoding
    flask_port, nginx_port = servers
    f_status, f_headers, f_body = fetch(flask_port, path, method, headers)
    n_status, n_headers, n_body = fetch(nginx_port, path, method, headers)
    where = (path, headers)
    assert f_status == n_status, (where, f_status, n_status)
    for name in KEY_HEADERS:
        if f_status in BOILERPLATE and name in ("content-type", "content-length"):
            continue
        got = (f_headers.get(name), n_headers.get(name))
        assert got[0] == got[1], (where, name, str(f_headers), str(n_headers))
    if f_status not in BOILERPLATE:
        assert decoded(f_headers, f_body) == decoded(n_headers, n_body), where
    return f_status, f_headers, decoded(f_headers, f_body)


@pytest.mark.parametrize(
    ("path", "status"),
    [
        # preview: claim bar + noindex everywhere
        ("/joes/", 200),
        ("/joes/about.html", 200),
        ("/joes/team/", 200),
        ("/joes/assets/style.css", 200),
        ("/joes/assets/app.js", 200),
        ("/joes/assets/img/logo.svg", 200),
        ("/joes/missing.html", 404),
        ("/joes/assets/", 404),
        ("/joes/team", 301),
        ("/joes", 301),
        ("/joes?x=1", 301),
        # owned: as published, its own 404 page, a deep asset
        ("/acme/", 200),
        ("/acme/docs/a/b/c/deep.pdf", 200),
        ("/acme/nope", 404),
        ("/acme/docs/a/b/c/", 404),
        # suspended: 503 with the plain page for every path
        ("/gone/", 503),
        ("/gone/assets/style.css", 503),
        ("/gone/nope", 503),
        # no such site
        ("/nobody-here/", 404),
        ("/nobody-here/x.css", 404),
    ],
)
def test_same_status_body_and_headers(servers, path, status):
    for encoding in ENCODINGS:
        got, headers, body = assert_same(servers, path, encoding=encoding)
        assert got == status
        if status == 503 or (status in (200, 404) and not path.startswith(("/acme/", "/joes/as"))):
            # Pages: compressed when asked (the tiny CSS/JS samples and acme's own 58-byte
            # 404 page gain nothing: identity).
            assert headers.get("content-encoding") == encoding, (path, encoding)
        if status in (200, 404, 503) and not path.endswith(".pdf"):
            assert headers["vary"] == "Accept-Encoding"
        if status in (200, 404, 503):
            assert headers["x-content-type-options"] == "nosniff"
    got, headers, body = assert_same(servers, path)
    if path.startswith("/joes/") and status in (200, 404):
        assert headers["x-robots-tag"] == "noindex"
    if path == "/joes/":
        assert b"Claim this site" in body and b'href="/sites/joes"' in body
    if path == "/acme/":
        assert b"Claim this site" not in body and "x-robots-tag" not in headers
    if path == "/acme/nope":
        assert b"Joe's own 404" in body
    if path.startswith("/gone/"):
        assert b"temporarily unavailable" in body and headers["cache-control"] == "no-store"


@pytest.mark.parametrize("path", ["/joes/", "/acme/", "/acme/nope", "/gone/x", "/joes/team"])
def test_head_is_the_same(servers, path):
    for encoding in ENCODINGS:
        status, headers, body = assert_same(servers, path, method="HEAD", encoding=encoding)
        assert body == b""


def test_conditional_requests_are_the_same(servers):
    flask_port, _ = servers
    _, headers, _ = fetch(flask_port, "/joes/assets/style.css")
    etag, modified = headers["etag"], headers["last-modified"]
    cases = [
        {"If-None-Match": etag},
        {"If-None-Match": f"W/{etag}"},
        {"If-None-Match": '"nope"'},
        {"If-Modified-Since": modified},
        {"If-Modified-Since": "Mon, 01 Jan 2001 00:00:00 GMT"},
        {"If-None-Match": etag, "If-Modified-Since": "Mon, 01 Jan 2001 00:00:00 GMT"},
        {"If-Match": '"nope"'},
    ]
    statuses = [assert_same(servers, "/joes/assets/style.css", headers=h)[0] for h in cases]
    assert statuses == [304, 304, 200, 304, 200, 200, 412]
    _, page, _ = fetch(flask_port, "/acme/")
    status, headers, _ = assert_same(servers, "/acme/", headers={"If-None-Match": page["etag"]})
    assert status == 304 and headers["last-modified"] == page["last-modified"]


RANGES = [
    "bytes=0-9",
    "bytes=100-",
    "bytes=-25",
    "bytes=0-0",
    "bytes=5-999999",  # clipped to the end
    "bytes=999999-",  # 416
    "bytes=-0",  # 416
    "bytes=9-5",  # 416, as Nginx
    "bytes=0-1,5-6",  # several ranges: the whole file
    "bytes=abc",  # 416, as Nginx
    "items=0-5",  # not bytes: the whole file
]


@pytest.mark.parametrize("path", ["/acme/big.html", "/acme/media/clip.webm", "/joes/"])
def test_ranges_are_the_same_and_apply_to_the_identity_file(servers, path):
    flask_port, _ = servers
    _, _, whole = fetch(flask_port, path)
    for value in RANGES:
        for encoding in ENCODINGS:
            status, headers, body = assert_same(
                servers, path, headers={"Range": value}, encoding=encoding
            )
            assert "content-encoding" not in headers, (value, encoding)
            if value in ("bytes=999999-", "bytes=-0", "bytes=9-5", "bytes=abc"):
                assert status == 416 and headers["content-range"] == f"bytes */{len(whole)}"
            elif value in ("bytes=0-1,5-6", "items=0-5"):
                assert status == 200 and body == whole
            else:
                assert status == 206, (value, status)
                first, last = re.match(r"bytes (\d+)-(\d+)/", headers["content-range"]).groups()
                assert body == whole[int(first) : int(last) + 1]
    # HEAD too.
    status, headers, body = assert_same(servers, path, "HEAD", headers={"Range": "bytes=0-9"})
    assert status == 206 and headers["content-length"] == "10" and body == b""


def test_if_range_is_honoured_the_same(servers):
    flask_port, _ = servers
    _, identity, whole = fetch(flask_port, "/acme/big.html")
    etag, modified = identity["etag"], identity["last-modified"]
    cases = [
        ({"If-Range": etag}, 206),
        ({"If-Range": modified}, 206),
        ({"If-Range": '"other"'}, 200),
        ({"If-Range": f"W/{etag}"}, 200),  # weak tags never match
        ({"If-Range": "Mon, 01 Jan 2001 00:00:00 GMT"}, 200),
        ({"If-None-Match": etag}, 304),  # conditions first
        ({"If-Match": '"nope"'}, 412),
    ]
    for extra, expected in cases:
        status, _, body = assert_same(
            servers, "/acme/big.html", headers={"Range": "bytes=0-9", **extra}
        )
        assert status == expected, extra
        if status == 200:
            assert body == whole


def test_compressed_answers_have_their_own_validators_in_both(servers):
    flask_port, _ = servers
    _, br, _ = fetch(flask_port, "/acme/big.html", headers={"Accept-Encoding": "br"})
    assert br["content-encoding"] == "br"
    for encoding, expected in (("br", 304), ("gzip", 200), (None, 200)):
        status, headers, _ = assert_same(
            servers, "/acme/big.html", headers={"If-None-Match": br["etag"]}, encoding=encoding
        )
        assert status == expected, encoding
        assert headers["vary"] == "Accept-Encoding"


@pytest.mark.browser
def test_a_video_plays_and_seeks_through_both_servers(servers, chromium):
    """Chromium fetches media with Range requests: it needs 206 to seek (Safari even to play)."""
    for port in servers:
        statuses: list[int] = []

        def record(response, statuses=statuses):
            if response.url.endswith("clip.webm"):
                statuses.append(response.status)

        chromium.on("response", record)
        chromium.goto(f"http://127.0.0.1:{port}/acme/media/")
        result = chromium.evaluate(
            """async () => {
                const video = document.getElementById("clip");
                const once = (name) => new Promise((resolve, reject) => {
                    video.addEventListener(name, resolve, {once: true});
                    const fail = () => reject(video.error.message);
                    video.addEventListener("error", fail, {once: true});
                });
                if (video.readyState < 1) await once("loadedmetadata");
                await video.play();
                while (video.currentTime < 0.3) await new Promise((r) => setTimeout(r, 50));
                const seeked = once("seeked");
                video.currentTime = 3.2;
                await seeked;
                return {
                    duration: video.duration,
                    time: video.currentTime,
                    seekable: video.seekable.length ? video.seekable.end(0) : 0,
                    paused: video.paused,
                };
            }"""
        )
        assert abs(result["duration"] - 4.0) < 0.2, (port, result)
        assert 3.1 <= result["time"] <= 4.0, (port, result)
        assert result["seekable"] > 3.9, (port, result)
        assert 206 in statuses, (port, statuses)
        chromium.remove_listener("response", record)


def settled(servers, path: str, status: int):
    """Nginx caches lookups for open_file_cache_valid (1s): wait for it to see a switch."""
    deadline = time.monotonic() + 5
    while fetch(servers[1], path)[0] != status and time.monotonic() < deadline:
        time.sleep(0.1)
    return assert_same(servers, path)


def test_state_change_is_seen_by_both_without_restart(servers, app):
    from lavish.models import Site

    site = db.session.query(Site).filter_by(slug="joes").one()
    assert assert_same(servers, "/joes/")[0] == 200  # cached by Nginx now
    services.change_status(site, SiteStatus.SUSPENDED)
    db.session.commit()
    assert fetch(servers[0], "/joes/")[0] == 503  # Flask: at once
    assert settled(servers, "/joes/", 503)[0] == 503
    services.change_status(site, SiteStatus.ACTIVE)
    db.session.commit()
    status, headers, body = settled(servers, "/joes/", 200)
    assert status == 200 and b"Claim this site" not in body and "x-robots-tag" not in headers


TRICKS = [
    "/joes/../secret.txt",
    "/joes/../../secret.txt",
    "/joes/%2e%2e/secret.txt",
    "/joes/%2E%2E/%2e%2e/secret.txt",
    "/joes/assets/..%2f..%2f..%2fsecret.txt",
    "/joes/..%5c..%5csecret.txt",
    "/joes/assets\\..\\..\\secret.txt",
    "/joes/%00",
    "/joes/index.html%00.css",
    "/joes/%2fetc%2fpasswd",
    "/joes/" + "a/" * 600 + "x",
    "/joes/" + "b" * 300,
    "/joes/./index.html",
    "/joes/assets/../about.html",
    "/../secret.txt",
    "/%2e%2e/secret.txt",
    "/acme/leak.txt",
    "/acme/leakdir/secret.txt",
]


@pytest.mark.parametrize("path", TRICKS)
def test_path_tricks_never_leave_the_live_version(servers, app, path):
    root = sites_root(app)
    htdocs = root / "versions/acme/1/htdocs"
    if not (htdocs / "leak.txt").is_symlink():
        os.symlink(root / "secret.txt", htdocs / "leak.txt")  # planted behind the publisher
        os.symlink(root / "versions", htdocs / "leakdir")
    flask_port, nginx_port = servers
    for port in (flask_port, nginx_port):
        status, _, body = fetch(port, path)
        assert SECRET not in body, (port, path)
        assert status in (200, 301, 308, 400, 404, 414), (port, path, status)
        if status == 200:
            # Nginx resolves "a/../b" inside the site itself: whatever it serves is a file of
            # that site's live version.
            live = (root / "live" / "joes").resolve()
            files = {p.read_bytes() for p in live.rglob("*") if p.is_file()}
            assert body in files, (port, path)
    # The unambiguous ones answer identically.
    if not any(t in path.lower() for t in ("%00", "..", "%2e", "/.", "%2f")):
        assert_same(servers, path)


def test_deploy_config_is_the_rendered_file(app, tmp_path):
    """The test uses deploy/nginx/lavish.conf itself: every placeholder gets filled, both with
    and without a separate sites host."""
    same_host = render_config(listen="127.0.0.1:1", upstream="127.0.0.1:2")
    assert "server_name _;" in same_host and not re.search(r"@[A-Z_]+@", same_host)
    assert same_host.count("server {") == 1
    split = render_config(
        listen="80", upstream="127.0.0.1:8000", sites_host="sites.example.com",
        server_name="lavish.example.com",
    )  # fmt: skip
    assert "server_name sites.example.com;" in split and "server_name lavish.example.com;" in split
    assert split.count("server {") == 2
    assert str(Path(app.config["SITES_ROOT"]).resolve()) in split
    assert shutil.which("nginx") or os.path.exists(NGINX)


@pytest.mark.parametrize(
    ("path", "status"),
    [("/customer/login", 200), ("/customer/logout", 405), ("/healthz", 200), ("/admin", 308),
     ("/sites/joes", None), ("/static/app.css", 200)],
)  # fmt: skip
def test_portal_paths_reach_the_app(servers, path, status):
    """Reserved words are never looked up on disk: Nginx hands them to the app (or, for
    /static/, serves the app's own static files)."""
    flask_port, nginx_port = servers
    direct = fetch(flask_port, path)
    proxied = fetch(nginx_port, path)
    assert proxied[0] == direct[0], (direct[1], proxied[1])
    if status is not None:
        assert proxied[0] == status, (direct[1], proxied[1])
    if path == "/static/app.css":
        assert proxied[2] == direct[2]
    # Security headers: the app's on what it answers (once, not doubled by Nginx), Nginx's on
    # the static files it serves itself.
    assert proxied[1]["x-content-type-options"] == "nosniff", proxied[1]
    assert proxied[1]["referrer-policy"] == "strict-origin-when-cross-origin"
    if path == "/customer/login":
        assert proxied[1]["x-frame-options"] == "DENY"
        assert "frame-ancestors 'none'" in proxied[1]["content-security-policy"]

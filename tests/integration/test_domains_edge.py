"""Custom domains at the edge: deploy/'s Nginx with the generated domain map (same answers as
the Flask fallback, by Host), and a real Caddy with on-demand TLS from its internal CA asking
our /tls/ask: a certificate for a verified domain, none for an unverified one."""

from __future__ import annotations

import http.client
import os
import shutil
import socket
import ssl
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from werkzeug.serving import make_server

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/ (hosting_support)

from hosting_support import make_folder, publish_new  # noqa: E402

from lavish.domains import publish  # noqa: E402
from lavish.extensions import db  # noqa: E402
from lavish.hosting import services  # noqa: E402
from lavish.hosting.nginx import NGINX, free_port, render_config, running_nginx  # noqa: E402
from lavish.models import Domain, DomainStatus, SiteStatus  # noqa: E402

CADDY = shutil.which("caddy") or "/usr/bin/caddy"
pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not os.path.exists(NGINX), reason="nginx is not installed"),
]
KEY_HEADERS = ("content-type", "content-length", "content-encoding", "etag", "last-modified",
               "cache-control", "x-robots-tag", "location", "vary", "x-content-type-options",
               "referrer-policy", "content-security-policy", "set-cookie")  # fmt: skip


def fetch(port: int, path: str, host: str, headers: dict | None = None):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=15)
    try:
        connection.putrequest("GET", path, skip_host=True, skip_accept_encoding=True)
        connection.putheader("Host", host)
        for name, value in (headers or {}).items():
            connection.putheader(name, value)
        connection.endheaders()
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        connection.close()


def add_domain(site, name, status, partner=None):
    domain = Domain(site_id=site.id, name=name, unicode_name=name, partner=partner,
                    apex=partner is not None, claim_key=name, token="t", status=status)  # fmt: skip
    db.session.add(domain)
    db.session.commit()
    return domain


@pytest.fixture
def edge(app, tmp_path):
    """Two sites with domains (one active with its www partner, one suspended), the app on a
    threaded werkzeug server and Nginx in front, with the domain map written by the app."""
    acme = publish_new("acme", make_folder(tmp_path, "acme", with_404=True), name="Acme")
    services.change_status(acme, SiteStatus.ACTIVE)
    gone = publish_new("gone", make_folder(tmp_path, "gone"), name="Gone")
    services.change_status(gone, SiteStatus.SUSPENDED, reason="lapsed")
    db.session.commit()
    add_domain(acme, "acme.example", DomainStatus.ACTIVE, partner="www.acme.example")
    add_domain(gone, "gone.example", DomainStatus.ACTIVE)
    add_domain(gone, "pending.example", DomainStatus.PENDING)
    publish.write_files()
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


@pytest.mark.parametrize(
    ("host", "path", "status"),
    [
        ("acme.example", "/", 200),
        ("acme.example", "/about.html", 200),
        ("acme.example", "/assets/style.css", 200),
        ("acme.example", "/team/", 200),
        ("acme.example", "/team", 301),
        ("acme.example", "/nope.html", 404),
        ("ACME.example", "/", 200),
        ("www.acme.example", "/about.html?x=1", 308),
        ("gone.example", "/", 503),
        ("gone.example", "/assets/style.css", 503),
    ],
)
@pytest.mark.parametrize("encoding", [None, "gzip, br"])
def test_nginx_serves_custom_domains_like_the_fallback(edge, host, path, status, encoding):
    flask_port, nginx_port = edge
    headers = {"Accept-Encoding": encoding} if encoding else {}
    f_status, f_headers, f_body = fetch(flask_port, path, host, headers)
    n_status, n_headers, n_body = fetch(nginx_port, path, host, headers)
    assert (f_status, n_status) == (status, status), (host, path)
    for name in KEY_HEADERS:
        if status in (301, 308) and name in ("content-type", "content-length"):
            continue
        assert f_headers.get(name) == n_headers.get(name), (host, path, name)
    if status not in (301, 308):
        assert f_body == n_body
    if status == 308:
        assert n_headers["location"] == "http://acme.example/about.html?x=1"


def test_nginx_redirects_slug_paths_of_sites_with_an_active_domain(edge):
    flask_port, nginx_port = edge
    for port in (flask_port, nginx_port):
        status, headers, _ = fetch(port, "/acme/about.html?q=1", "127.0.0.1",
                                   {"Sec-Fetch-Dest": "document"})  # fmt: skip
        assert (status, headers["location"]) == (301, "https://acme.example/about.html?q=1")
        status, _, body = fetch(port, "/acme/about.html", "127.0.0.1", {"Sec-Fetch-Dest": "iframe"})
        assert status == 200 and b"About us" in body


def test_unserved_hosts_get_a_plain_404_through_nginx(edge):
    _, nginx_port = edge
    for host in ("pending.example", "nobody.example"):
        status, _, body = fetch(nginx_port, "/", host)
        assert status == 404 and b"Page not found" in body and b"Sign in" not in body


def test_foreign_hosts_never_reach_a_hosted_site_through_nginx(edge):
    """Without SITES_HOST the hosted-sites server is Nginx's default: a host that is neither
    ours nor a custom domain gets the plain 404 there too, not /<slug>/ or the portal's files."""
    flask_port, nginx_port = edge
    for path in ("/acme/", "/acme/about.html", "/gone/", "/static/app.css", "/login"):
        for port in (flask_port, nginx_port):
            status, _, body = fetch(port, path, "stranger.example")
            assert status == 404 and b"Page not found" in body, (port, path)
            assert b"About us" not in body and b"Sign in" not in body
    # Our own hosts still reach the sites by path.
    for host in ("localhost", "app.localhost", "127.0.0.1", "[::1]"):
        status, _, body = fetch(nginx_port, "/acme/about.html", host, {"Sec-Fetch-Dest": "iframe"})
        assert status == 200 and b"About us" in body, host


# --- Caddy ----------------------------------------------------------------------------------------


def _caddyfile(app_port: int, edge_port: int, https_port: int, http_port: int) -> str:
    """deploy/caddy/Caddyfile with this test's ports and Caddy's internal CA."""
    template = (Path(__file__).resolve().parents[2] / "deploy" / "caddy" / "Caddyfile").read_text()
    return (
        template.replace("{$LAVISH_ASK}", f"http://127.0.0.1:{app_port}/tls/ask")
        .replace("{$LAVISH_EDGE}", f"127.0.0.1:{edge_port}")
        .replace("{$LAVISH_TLS_ISSUER}", "internal")
        .replace("{$LAVISH_HTTPS_PORT}", str(https_port))
        .replace("{$LAVISH_HTTP_PORT}", str(http_port))
        .replace("{$LAVISH_ADMIN}", "off")
        .replace("{$LAVISH_EMAIL}", "ops@lavish.test")
    )


@pytest.fixture
def caddy(edge, tmp_path):
    if not os.path.exists(CADDY):
        pytest.skip("caddy is not installed")
    flask_port, nginx_port = edge
    https_port, http_port = free_port(), free_port()
    home = tmp_path / "caddy"
    (home / "data").mkdir(parents=True)
    (home / "config").mkdir()
    caddyfile = home / "Caddyfile"
    caddyfile.write_text(_caddyfile(flask_port, nginx_port, https_port, http_port))
    env = {
        **os.environ,
        "XDG_DATA_HOME": str(home / "data"),
        "XDG_CONFIG_HOME": str(home / "config"),
        "HOME": str(home),
    }
    log = (home / "caddy.log").open("wb")
    process = subprocess.Popen(
        [CADDY, "run", "--config", str(caddyfile), "--adapter", "caddyfile"],
        env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", https_port)) == 0:
                    break
            if process.poll() is not None:
                raise RuntimeError((home / "caddy.log").read_text())
            time.sleep(0.1)
        yield https_port, home
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def _root_certificate(home: Path) -> Path:
    deadline = time.monotonic() + 20
    root = home / "data" / "caddy" / "pki" / "authorities" / "local" / "root.crt"
    while not root.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    return root


def https_get(port: int, name: str, root: Path, path: str = "/"):
    """A client that resolves `name` to loopback and trusts Caddy's root."""
    context = ssl.create_default_context(cafile=str(root))
    request = f"GET {path} HTTP/1.1\r\nHost: {name}\r\nConnection: close\r\n\r\n"
    with (
        socket.create_connection(("127.0.0.1", port), timeout=20) as raw,
        context.wrap_socket(raw, server_hostname=name) as tls,
    ):
        tls.sendall(request.encode())
        chunks = []
        while chunk := tls.recv(65536):
            chunks.append(chunk)
        certificate = tls.getpeercert()
    head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
    return head.decode("latin-1"), body, certificate


def test_caddy_issues_for_a_verified_domain_and_refuses_an_unverified_one(caddy, app):
    https_port, home = caddy
    root = _root_certificate(home)
    head, body, certificate = https_get(https_port, "acme.example", root)
    assert head.startswith("HTTP/1.1 200"), head
    assert b"Joe's" in body
    names = [value for kind, value in certificate["subjectAltName"] if kind == "DNS"]
    assert names == ["acme.example"]
    issuer = dict(part[0] for part in certificate["issuer"])
    assert "Caddy Local Authority" in issuer["commonName"]
    # The partner is approved too and redirects (through Nginx) to the canonical name.
    head, _, _ = https_get(https_port, "www.acme.example", root, "/about.html")
    assert (
        head.startswith("HTTP/1.1 308")
        and "location: https://acme.example/about.html" in head.lower()
    )
    # Unverified: ask says no, Caddy refuses the handshake.
    for name in ("pending.example", "nobody.example"):
        with pytest.raises(ssl.SSLError):
            https_get(https_port, name, root)
    # Our probe reads the certificate the edge serves: issuer and expiry.
    from lavish.domains.tls import probe

    result = probe("acme.example", f"127.0.0.1:{https_port}")
    assert result.error == "" and "Caddy Local Authority" in (result.issuer or "")
    assert result.expires_at is not None
    refused = probe("pending.example", f"127.0.0.1:{https_port}")
    assert refused.error

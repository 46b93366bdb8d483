"""Nginx (deploy/nginx/lavish.conf) serves an edit request's preview like the Flask route:
same statuses, bytes and headers; a preview ends for both when the request is published."""

from __future__ import annotations

import os
import threading

import pytest
from werkzeug.serving import make_server

from lavish.edits import drafts
from lavish.extensions import db
from lavish.hosting.nginx import NGINX, free_port, render_config, running_nginx
from lavish.models import EditRequest
from tests.integration.integration_support import active_demo_site
from tests.integration.test_nginx import fetch

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not os.path.exists(NGINX), reason="nginx is not installed"),
]
HEADERS = ("content-type", "content-length", "etag", "last-modified", "cache-control",
           "x-robots-tag", "location", "content-security-policy", "vary",
           "x-content-type-options", "content-encoding", "referrer-policy")  # fmt: skip


@pytest.fixture
def preview(app, client, login, make_user, tmp_path):
    owner = make_user("owner@example.com")
    active_demo_site(owner)
    login(owner)
    client.post(
        "/customer/edit-requests",
        data={"site": "la-plumbing-pros", "description": "Our new phone number is (213) 555-0199"},
        content_type="multipart/form-data",
    )
    req = db.session.scalars(db.select(EditRequest)).one()
    assert req.preview_token
    flask_port, nginx_port = free_port(), free_port()
    server = make_server("127.0.0.1", flask_port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    conf = render_config(listen=f"127.0.0.1:{nginx_port}", upstream=f"127.0.0.1:{flask_port}")
    try:
        with running_nginx(tmp_path / "nginx", conf, nginx_port):
            yield req, flask_port, nginx_port
    finally:
        server.shutdown()
        thread.join(timeout=10)


@pytest.mark.parametrize(
    ("path", "status"),
    [("", 200), ("contact.html", 200), ("css/style.css", 200), ("images/logo.png", 200),
     ("nope.html", 404), ("css", 301)],
)  # fmt: skip
@pytest.mark.parametrize("encoding", [None, "br, gzip"])
def test_preview_is_served_identically(preview, path, status, encoding):
    req, flask_port, nginx_port = preview
    url = f"/preview/{req.preview_token}/{path}"
    headers = {"Accept-Encoding": encoding} if encoding else None
    f_status, f_headers, f_body = fetch(flask_port, url, headers=headers)
    n_status, n_headers, n_body = fetch(nginx_port, url, headers=headers)
    assert f_status == n_status == status, (url, f_status, n_status)
    for name in HEADERS:
        if status == 301 and name in ("content-type", "content-length"):
            continue
        assert f_headers.get(name) == n_headers.get(name), (url, name, f_headers, n_headers)
    if status != 301:
        assert f_body == n_body
    assert f_headers["x-robots-tag"] == "noindex"
    if path == "":
        assert b"(213) 555-0199" in f_body and b'name="robots" content="noindex"' in f_body


def test_preview_ends_for_both(preview):
    req, flask_port, nginx_port = preview
    token = req.preview_token
    drafts.remove_preview(token)
    for port in (flask_port, nginx_port):
        assert fetch(port, f"/preview/{token}/")[0] == 404
        assert fetch(port, f"/preview/{token}/contact.html")[0] == 404

"""Security headers: a strict CSP and no framing on portal pages; hosted sites keep working."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hosting_support import make_folder, publish_new

import lavish
from lavish import create_app
from lavish.formatting import format_size, possessive
from lavish.security import portal_policy


def _directives(policy: str) -> dict[str, list[str]]:
    parts = (part.split() for part in policy.split(";") if part.strip())
    return {name: values for name, *values in parts}


@pytest.mark.parametrize(
    "path", ["/", "/customer/login", "/customer/register", "/customer/nowhere"]
)
def test_portal_pages_are_not_framable_and_have_a_strict_csp(client, path):
    response = client.get(path)
    headers = response.headers
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
    policy = _directives(headers["Content-Security-Policy"])
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["default-src"] == ["'self'"]
    assert policy["script-src"] == ["'self'"] and policy["style-src"] == ["'self'"]
    assert policy["object-src"] == ["'none'"]
    assert "unsafe" not in headers["Content-Security-Policy"]


def test_staff_console_is_not_framable(client, admin, login):
    login(admin)
    response = client.get("/admin/")
    assert response.status_code == 200
    assert response.headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]


def test_frames_may_show_the_sites_host(app_config):
    app = create_app(
        {**app_config, "PUBLIC_URL": "https://lavish.test", "SITES_HOST": "Sites.Test"}
    )
    policy = _directives(app.test_client().get("/").headers["Content-Security-Policy"])
    assert policy["frame-src"] == ["'self'", "https://sites.test"]
    assert _directives(portal_policy("http://localhost", None))["frame-src"] == ["'self'"]


def test_htmx_runs_without_eval_or_injected_styles(client):
    page = client.get("/customer/login").get_data(as_text=True)
    assert '"allowEval":false' in page and '"includeIndicatorStyles":false' in page
    assert "style=" not in page and "<script>" not in page


def test_hosted_sites_get_only_headers_that_cannot_break_them(app, client, tmp_path):
    publish_new("joes", make_folder(tmp_path, "joes"))
    for path in ("/joes/", "/joes/assets/style.css", "/joes/missing.html"):
        headers = client.get(path).headers
        assert headers["X-Content-Type-Options"] == "nosniff", path
        assert headers["Referrer-Policy"] == "strict-origin-when-cross-origin", path
        # Frameable (the offer page shows them) and free to use their own inline code.
        assert "X-Frame-Options" not in headers and "Content-Security-Policy" not in headers


def test_favicon_is_served(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 200
    assert response.data[:4] == b"\x00\x00\x01\x00"  # an ICO header
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_possessive_and_sizes():
    assert possessive("LA Plumbing Pros") == "LA Plumbing Pros'"
    assert possessive("Joe") == "Joe's"
    assert format_size(1) == "1 byte" and format_size(812) == "812 bytes"
    assert format_size(36_222) == "35.4 KB"
    assert format_size(5 * 1024 * 1024 + 1) == "5.0 MB"


def test_a_view_with_its_own_policy_decides_about_framing(app_config):
    app = create_app(app_config)

    @app.get("/framed-draft")
    def framed_draft():
        return "draft", {"Content-Security-Policy": "sandbox allow-popups"}

    headers = app.test_client().get("/framed-draft").headers
    assert headers["Content-Security-Policy"] == "sandbox allow-popups"
    assert "X-Frame-Options" not in headers and headers["X-Content-Type-Options"] == "nosniff"


# What the portal's CSP refuses (no 'unsafe-inline', no 'unsafe-eval'): inline styles, inline
# scripts and event handlers, and htmx's eval-based features (hx-on, js: values, trigger filters).
INLINE_CODE = re.compile(
    r"""\sstyle=|<style|<script(?![^>]*\ssrc=)|\son[a-z]+=|javascript:|\shx-on"""
    r"""|\shx-(?:vals|vars)=["']\s*js:|\shx-trigger=["'][^"']*\[""",
    re.IGNORECASE,
)
COMMENTS = re.compile(r"\{#.*?#\}|<!--.*?-->", re.DOTALL)


def test_portal_templates_hold_nothing_the_csp_refuses():
    """Every page, not only the ones fetched above. Mails (styled inline, never under the CSP)
    and hosting/ (pages of customers' sites, which get no CSP) are left out."""
    root = Path(lavish.__file__).parent / "templates"
    found = []
    for path in sorted(root.rglob("*.html")):
        relative = path.relative_to(root).as_posix()
        if relative.startswith(("email/", "hosting/")):
            continue
        text = COMMENTS.sub("", path.read_text())
        found += [f"{relative}: {match.group(0)!r}" for match in INLINE_CODE.finditer(text)]
    assert found == []

"""Every admin URL rule (pages, fragments, JSON, POST actions) refuses anonymous users and
customers, found by walking the URL map so a new route cannot be forgotten."""

from __future__ import annotations

import pytest
from flask import Flask

from lavish import create_app


def _admin_requests() -> list[tuple[str, str, str]]:
    app = create_app({"TESTING": True})
    requests = []
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith("admin."):
            continue
        url = rule.rule
        for argument in rule.arguments:
            url = url.replace(f"<int:{argument}>", "1").replace(f"<{argument}>", "1")
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            requests.append((rule.endpoint, method, url))
    return requests


ADMIN_REQUESTS = _admin_requests()


def test_the_walk_found_the_console():
    endpoints = {endpoint for endpoint, _, _ in ADMIN_REQUESTS}
    assert {"admin.dashboard", "admin.statistics", "admin.sites", "admin.publish_site"} <= endpoints
    assert len(ADMIN_REQUESTS) >= 28


def _send(client, method: str, url: str, **kwargs):
    return client.open(url, method=method, **kwargs)


@pytest.mark.parametrize(("endpoint", "method", "url"), ADMIN_REQUESTS)
def test_anonymous_is_sent_to_login(client, endpoint, method, url):
    response = _send(client, method, url)
    if url.endswith(".json"):
        assert response.status_code == 401
        assert response.is_json
        return
    assert response.status_code == 302
    assert "/customer/login" in response.headers["Location"]


@pytest.mark.parametrize(("endpoint", "method", "url"), ADMIN_REQUESTS)
def test_anonymous_htmx_gets_hx_redirect(client, endpoint, method, url):
    response = _send(client, method, url, headers={"HX-Request": "true", "HX-Target": "rows"})
    assert response.status_code == 401
    if not url.endswith(".json"):
        assert "/customer/login" in response.headers["HX-Redirect"]


@pytest.mark.parametrize(("endpoint", "method", "url"), ADMIN_REQUESTS)
def test_customers_are_refused(app: Flask, client, make_user, login, endpoint, method, url):
    login(make_user("customer@example.com"))
    response = _send(client, method, url)
    assert response.status_code == 403
    response = _send(client, method, url, headers={"HX-Request": "true", "HX-Target": "rows"})
    assert response.status_code == 403
    assert "Staff" not in response.get_data(as_text=True) or url.endswith(".json")

"""Billing fixtures: a preview site, Recurrente-shaped webhook payloads signed with the real
svix library, and a fake Recurrente API (pytest-httpserver) that checks what we send."""

from __future__ import annotations

import json

import pytest

from lavish.extensions import db
from lavish.models import Site, SiteStatus
from tests.billing.payloads import TEST_SECRET, signed_headers


@pytest.fixture
def app_config(app_config: dict, tmp_path) -> dict:
    app_config.update(
        SANDBOX_DIR=str(tmp_path / "sandbox"),
        PAYMENT_PROVIDER="sandbox",
        RECURRENTE_WEBHOOK_SECRET=TEST_SECRET,
    )
    return app_config


@pytest.fixture
def make_site(app):
    def make(slug: str = "la-plumbing-pros", *, status: str = SiteStatus.PREVIEW, **fields) -> Site:
        site = Site(
            slug=slug,
            business_name=fields.pop("business_name", "LA Plumbing Pros"),
            city="Los Angeles",
            status=status,
            **fields,
        )
        db.session.add(site)
        db.session.commit()
        return site

    return make


@pytest.fixture
def site(make_site) -> Site:
    return make_site()


@pytest.fixture
def send_webhook(client):
    def send(payload: dict, *, msg_id: str | None = None, **kwargs):
        body = json.dumps(payload)
        return client.post(
            "/webhooks/recurrente", data=body, headers=signed_headers(body, msg_id=msg_id, **kwargs)
        )

    return send


@pytest.fixture
def fake_recurrente(httpserver, app):
    """Point the app at a local fake Recurrente with the recurrente provider selected."""
    app.config.update(
        PAYMENT_PROVIDER="recurrente",
        RECURRENTE_API_URL=httpserver.url_for("/api"),
        RECURRENTE_PUBLIC_KEY="pk_test_abc",
        RECURRENTE_SECRET_KEY="sk_test_xyz",
        RECURRENTE_TIMEOUT=2.0,
    )
    return httpserver

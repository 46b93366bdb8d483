"""Fixtures for the edit-request tests: an owner with an active site made from a demo folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from lavish.extensions import db
from lavish.hosting import services as hosting
from lavish.models import SiteStatus

DEMO = Path(__file__).resolve().parents[2] / "lavish" / "demo"


@pytest.fixture
def owner(make_user):
    return make_user("owner@example.com", name="Olivia <b>Owner</b>")


@pytest.fixture
def make_active_site(app, owner):
    def make(slug: str = "la-plumbing-pros", folder: Path | None = None, user=None):
        site = hosting.create_site(slug, "LA Plumbing Pros", phone="(213) 555-0142")
        hosting.publish(site, folder or DEMO / slug)
        site.owner_id = (user or owner).id
        hosting.change_status(site, SiteStatus.ACTIVE)
        db.session.commit()
        return site

    return make


@pytest.fixture
def site(make_active_site):
    return make_active_site()


@pytest.fixture
def signed_in(client, login, owner):
    login(owner)
    return client

"""A real Chromium: an owner adds a domain, sees the records to create and the mistake planted in
DNS (the TXT record doubled by the provider), fixes it, presses "Check now" and sees ✓ — against
a live server on loopback and the loopback DNS server of the tests."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import expect

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from lavish.extensions import db  # noqa: E402
from lavish.models import Domain, Site, SiteStatus  # noqa: E402
from tests.dns_support import LoopbackDNS, closed_port  # noqa: E402

pytestmark = [pytest.mark.integration, pytest.mark.browser]
TARGET = "sites.lavish.test"
TEST_PASSWORD = "correct horse battery staple"  # make_user's default (tests/conftest.py)


@pytest.fixture
def dns() -> Iterator[LoopbackDNS]:
    server = LoopbackDNS()
    yield server
    server.close()


def test_an_owner_connects_a_domain_and_fixes_a_mistake(live_server, chromium, make_user, dns):
    owner = make_user("owner@example.com")
    db.session.add(Site(slug="joes", business_name="Joe's Plumbing", status=SiteStatus.ACTIVE,
                        owner_id=owner.id))  # fmt: skip
    db.session.commit()
    server = live_server(
        MAIL_SERVER=None,
        DNS_RESOLVERS=[dns.address],
        DOMAINS_CNAME_TARGET=TARGET,
        DOMAINS_A_RECORDS=["203.0.113.10"],
        TLS_PROBE_ADDR=f"127.0.0.1:{closed_port()}",
    )
    page = chromium
    page.goto(f"{server.url}/customer/login?next=/customer/domains")
    page.fill("#email", owner.email)
    page.fill("#password", TEST_PASSWORD)
    page.click("button[type=submit]")
    expect(page).to_have_url(f"{server.url}/customer/domains")

    page.fill("input[name=domain]", "https://Shop.Example.com/")
    page.click("button:has-text('Add domain')")
    expect(page.locator("h1")).to_have_text("shop.example.com")
    expect(page.locator("#records")).to_contain_text("_lavish-challenge.shop.example.com")
    expect(page.locator("#records")).to_contain_text(TARGET)
    db.session.expire_all()
    domain = db.session.query(Domain).one()
    expect(page.locator("#records")).to_contain_text(f"lavish-verify={domain.token}")

    # The owner's DNS provider appended the zone name to the TXT record's name; CNAME is right.
    dns.zones = {
        "shop.example.com": [("CNAME", TARGET)],
        "_lavish-challenge.shop.example.com.shop.example.com": [
            ("TXT", f"lavish-verify={domain.token}")
        ],
        TARGET: [("A", "203.0.113.10")],
    }
    page.click("button:has-text('Check now')")
    expect(page.locator(".problem-txt_doubled")).to_contain_text(
        "_lavish-challenge.shop.example.com.shop.example.com"
    )
    expect(page.locator(".record-ownership .check-mark")).to_contain_text("✗")
    expect(page.locator(".record-cname .check-mark")).to_contain_text("✓")

    # Fixed: the record now has only "_lavish-challenge" as its name.
    dns.zones["_lavish-challenge.shop.example.com"] = [("TXT", f"lavish-verify={domain.token}")]
    page.wait_for_timeout(10_500)  # "Check now" runs at most once every 10 seconds
    page.reload()
    page.click("button:has-text('Check now')")
    expect(page.locator(".record-ownership .check-mark")).to_contain_text("✓")
    expect(page.locator("#records")).to_contain_text("Everything we check is in order")
    expect(page.locator("#domain-status")).to_contain_text("active")
    expect(page.locator("#domain-status")).to_contain_text("https://shop.example.com/")
